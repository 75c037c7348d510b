// Queries and multi-document writes by filter: GET list, _query, _count,
// _explain, _update, _delete. Reads run in slices that take turns on the event loop
// (sliced-query.ts, loop-turns.ts) and large responses are serialized in slices too
// (json-response.ts): no read holds the loop for long (issue #11).
import type { FastifyInstance } from 'fastify';
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
import { sendJsonArray } from './json-response.ts';
import { RequestSlicer } from './loop-turns.ts';
import type { CollectionParams, RouteContext } from './route-context.ts';
import { countSliced, findSliced } from './sliced-query.ts';

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

export function registerQueryRoutes(app: FastifyInstance, { backend }: RouteContext): void {
  app.get<{ Params: CollectionParams }>('/api/:collection', async (request, reply) => {
    const { collection } = request.params;
    validateCollectionName(collection);
    const q = queryParams(request.query, ['filter', 'sort', 'limit', 'skip', 'fields', 'consistency']);
    const filter = filterOf(q.filter === undefined ? undefined : parseJsonParam(q.filter, 'filter'));
    const options = findOptionsOf({
      sort: q.sort === undefined ? undefined : parseJsonParam(q.sort, 'sort'),
      projection: q.fields === undefined ? undefined : parseFields(q.fields),
      limit: q.limit === undefined ? undefined : parseNonNegativeInt(q.limit, 'limit', MAX_QUERY_LIMIT),
      skip: q.skip === undefined ? undefined : parseNonNegativeInt(q.skip, 'skip'),
    });
    const store = await readableStore(backend, parseConsistency(q.consistency));
    const slicer = await slicerAtTurn();
    return sendJsonArray(reply, (await findSliced(store, collection, filter, options, slicer)).docs, slicer);
  });

  app.post<{ Params: CollectionParams }>('/api/:collection/_query', async (request, reply) => {
    const { collection } = request.params;
    validateCollectionName(collection);
    queryParams(request.query, []);
    const body = bodyObject(request.body, ['filter', 'sort', 'limit', 'skip', 'projection', 'consistency']);
    const filter = filterOf(body['filter']);
    const options = findOptionsOf(body);
    const store = await readableStore(backend, parseConsistency(body['consistency']));
    const slicer = await slicerAtTurn();
    return sendJsonArray(reply, (await findSliced(store, collection, filter, options, slicer)).docs, slicer);
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
    const value = await runCommand(
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
