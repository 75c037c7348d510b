// Queries and multi-document writes by filter: GET list, _query, _count,
// _explain, _update, _delete. Reads run in slices that take turns on the event loop
// (sliced-query.ts, loop-turns.ts) and large responses are serialized in slices too
// (json-response.ts): no read holds the loop for long (issue #11).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { pageStart } from '../store/page.ts';
import type { Store } from '../store/store.ts';
import type { Filter, FindOptions, JsonObject, UpdateSpec } from '../store/types.ts';
import { validateCollectionName, validateFilter, validateFindOptions, validateUpdate } from '../store/validate.ts';
import { readableStore, runCommand } from './backend-access.ts';
import {
  bodyObject,
  MAX_QUERY_LIMIT,
  optionalBoolean,
  optionalCount,
  parseConsistency,
  parseFields,
  parseJsonParam,
  parseNonNegativeInt,
  queryParams,
} from './http-input.ts';
import { idempotencyOf } from './idempotency.ts';
import { runCheckedCommand } from './model-precheck.ts';
import { sendJsonArray } from './json-response.ts';
import { RequestSlicer } from './loop-turns.ts';
import type { CollectionParams, RouteContext } from './route-context.ts';
import { countSliced, findPage, findSliced } from './sliced-query.ts';

/** A slicer whose first slice starts at the request's first turn: requests that arrive
 * together (or whose read barriers resolve together) do not run back to back. */
async function slicerAtTurn(): Promise<RequestSlicer> {
  const slicer = new RequestSlicer();
  await slicer.next();
  return slicer;
}

function filterOf(value: unknown, name = 'filter'): Filter {
  if (value === undefined) return {};
  validateFilter(value, name);
  return value as Filter;
}

/** Find options from body-shaped input, validated; limit capped. */
function findOptionsOf(input: Record<string, unknown>): FindOptions {
  const options: Record<string, unknown> = {};
  if (input['sort'] !== undefined) options['sort'] = input['sort'];
  if (input['projection'] !== undefined) options['projection'] = input['projection'];
  const limit = optionalCount(input['limit'], 'limit', MAX_QUERY_LIMIT);
  const skip = optionalCount(input['skip'], 'skip');
  if (limit !== undefined) options['limit'] = limit;
  if (skip !== undefined) options['skip'] = skip;
  validateFindOptions(options);
  return options;
}

/**
 * A query's answer. With `limit` and no `skip`, it is a page in keyset order: when full, the
 * reply says where the next one starts (`Next-Cursor`, and for GET a `Link: <url>; rel="next"`
 * with the same query and that cursor). `cursor` asks for the page after one; it needs
 * `limit` and excludes `skip` (an offset and a position together mean nothing stable).
 */
async function answerQuery(
  reply: FastifyReply,
  store: Store,
  collection: string,
  filter: Filter,
  options: FindOptions,
  cursor: unknown,
  nextUrl: ((cursor: string) => string) | undefined,
): Promise<FastifyReply> {
  const slicer = await slicerAtTurn();
  const after = pageStart(cursor, options); // the checks of the embedded findPage (store/page.ts)
  const { limit } = options;
  if (limit === undefined || limit === 0 || options.skip !== undefined) {
    return sendJsonArray(reply, (await findSliced(store, collection, filter, options, slicer)).docs, slicer);
  }
  const page = await findPage(store, collection, filter, { ...options, limit }, after, slicer);
  if (page.next !== undefined) {
    void reply.header('next-cursor', page.next);
    if (nextUrl !== undefined) void reply.header('link', `<${nextUrl(page.next)}>; rel="next"`);
  }
  return sendJsonArray(reply, page.docs, slicer);
}

/** This request's URL (path and query) with `cursor` set. */
function urlWithCursor(request: FastifyRequest): (cursor: string) => string {
  return (cursor) => {
    const url = new URL(request.url, 'http://localhost');
    url.searchParams.set('cursor', cursor);
    return `${url.pathname}${url.search}`;
  };
}

export function registerQueryRoutes(app: FastifyInstance, { backend }: RouteContext): void {
  app.get<{ Params: CollectionParams }>('/api/:collection', async (request, reply) => {
    const { collection } = request.params;
    validateCollectionName(collection);
    const q = queryParams(request.query, ['filter', 'sort', 'limit', 'skip', 'fields', 'cursor', 'consistency']);
    const filter = filterOf(q.filter === undefined ? undefined : parseJsonParam(q.filter, 'filter'));
    const options = findOptionsOf({
      sort: q.sort === undefined ? undefined : parseJsonParam(q.sort, 'sort'),
      projection: q.fields === undefined ? undefined : parseFields(q.fields),
      limit: q.limit === undefined ? undefined : parseNonNegativeInt(q.limit, 'limit', MAX_QUERY_LIMIT),
      skip: q.skip === undefined ? undefined : parseNonNegativeInt(q.skip, 'skip'),
    });
    const store = await readableStore(backend, parseConsistency(q.consistency));
    return answerQuery(reply, store, collection, filter, options, q.cursor, urlWithCursor(request));
  });

  app.post<{ Params: CollectionParams }>('/api/:collection/_query', async (request, reply) => {
    const { collection } = request.params;
    validateCollectionName(collection);
    queryParams(request.query, []);
    const body = bodyObject(request.body, ['filter', 'sort', 'limit', 'skip', 'projection', 'cursor', 'consistency']);
    const filter = filterOf(body['filter']);
    const options = findOptionsOf(body);
    const store = await readableStore(backend, parseConsistency(body['consistency']));
    return answerQuery(reply, store, collection, filter, options, body['cursor'], undefined);
  });

  app.post<{ Params: CollectionParams }>('/api/:collection/_count', async (request) => {
    const { collection } = request.params;
    validateCollectionName(collection);
    queryParams(request.query, []);
    const body = bodyObject(request.body, ['filter', 'consistency']);
    const filter = filterOf(body['filter']);
    const store = await readableStore(backend, parseConsistency(body['consistency']));
    return { count: await countSliced(store, collection, filter, await slicerAtTurn()) };
  });

  app.post<{ Params: CollectionParams }>('/api/:collection/_explain', async (request) => {
    const { collection } = request.params;
    validateCollectionName(collection);
    queryParams(request.query, []);
    const body = bodyObject(request.body, ['filter', 'sort', 'limit', 'skip', 'consistency']);
    const filter = filterOf(body['filter']);
    const options = findOptionsOf(body);
    const store = await readableStore(backend, parseConsistency(body['consistency']));
    return (await findSliced(store, collection, filter, options, await slicerAtTurn())).explain;
  });

  app.post<{ Params: CollectionParams }>('/api/:collection/_update', async (request, reply) => {
    const { collection } = request.params;
    validateCollectionName(collection);
    queryParams(request.query, []);
    const tag = idempotencyOf(request);
    const body = bodyObject(request.body, ['filter', 'update', 'multi', 'upsert'], true);
    validateFilter(body['filter'], 'filter');
    validateUpdate(body['update'], 'update');
    const upsert = optionalBoolean(body['upsert'], 'upsert') === true;
    // Checked against the collection's model before proposing (update-precheck.ts).
    const value = await runCheckedCommand(
      backend,
      {
        type: 'update',
        collection,
        filter: body['filter'] as Filter,
        update: body['update'] as UpdateSpec,
        multi: optionalBoolean(body['multi'], 'multi') === true,
        upsert,
        ...(upsert ? { upsertId: backend.generateId() } : {}),
      },
      { tag, reply },
    );
    const result: JsonObject = { matched: value.matched, modified: value.modified };
    if (value.upsertedId !== undefined) result['upsertedId'] = value.upsertedId;
    return result;
  });

  app.post<{ Params: CollectionParams }>('/api/:collection/_delete', async (request, reply) => {
    const { collection } = request.params;
    validateCollectionName(collection);
    queryParams(request.query, []);
    const tag = idempotencyOf(request);
    const body = bodyObject(request.body, ['filter', 'multi'], true);
    validateFilter(body['filter'], 'filter');
    const value = await runCommand(
      backend,
      {
        type: 'remove',
        collection,
        filter: body['filter'] as Filter,
        multi: optionalBoolean(body['multi'], 'multi') !== false,
      },
      { tag, reply },
    );
    return { removed: value.removed };
  });
}
