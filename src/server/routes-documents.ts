// Single documents: insert (one or many), get, replace-or-create, patch, delete.
// Mirrors how the embedded collection builds its commands.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { NotFoundError } from '../store/errors.ts';
import type { Document, UpdateSpec } from '../store/types.ts';
import { validateCollectionName, validateId, validateUpdate } from '../store/validate.ts';
import { documentAsOf, parseAsOf } from './as-of.ts';
import { readableStore } from './backend-access.ts';
import { runCheckedCommand } from './model-precheck.ts';
import { documentsToInsert, replacementDocument } from './documents.ts';
import { idempotencyOf } from './idempotency.ts';
import { parseConsistency, parseIfMatch, queryParams } from './http-input.ts';
import type { CollectionParams, DocumentParams, RouteContext } from './route-context.ts';

/** The document's revision as its ETag (`"<_rev>"`, what If-Match takes). */
export function withETag(reply: FastifyReply, doc: Document): FastifyReply {
  return reply.header('etag', `"${doc._rev}"`);
}

function checkDocumentParams(params: DocumentParams): void {
  validateCollectionName(params.collection);
  validateId(params.id, 'id');
}

export function registerDocumentRoutes(app: FastifyInstance, { backend }: RouteContext): void {
  app.post<{ Params: CollectionParams }>('/api/:collection', async (request, reply) => {
    const { collection } = request.params;
    validateCollectionName(collection);
    queryParams(request.query, []);
    const tag = idempotencyOf(request);
    const { docs, many } = documentsToInsert(backend, request.body);
    const stored = await runCheckedCommand(backend, { type: 'insert', collection, docs }, { tag, reply });
    return reply.code(201).send(many ? stored : stored[0]);
  });

  app.get<{ Params: DocumentParams }>('/api/:collection/:id', async (request, reply) => {
    checkDocumentParams(request.params);
    const { collection, id } = request.params;
    const q = queryParams(request.query, ['consistency', 'asOf']);
    const consistency = parseConsistency(q.consistency);
    // `asOf`: the version in force at a log index or time, from the history (as-of.ts).
    const at = q.asOf !== undefined ? parseAsOf(q.asOf) : undefined;
    const store = await readableStore(backend, consistency);
    if (at !== undefined) {
      const old = documentAsOf(store, collection, id, at);
      return withETag(reply, old).send(old);
    }
    const doc = store.get(collection, id);
    if (doc === undefined) throw new NotFoundError(`document "${id}" not found in collection "${collection}"`);
    return withETag(reply, doc).send(doc);
  });

  app.put<{ Params: DocumentParams }>('/api/:collection/:id', async (request, reply) => {
    checkDocumentParams(request.params);
    const { collection, id } = request.params;
    queryParams(request.query, []);
    const ifRev = parseIfMatch(request.headers['if-match']);
    const tag = idempotencyOf(request);
    const doc = replacementDocument(backend, id, request.body);
    const value = await runCheckedCommand(
      backend,
      {
        type: 'replace',
        collection,
        id,
        doc,
        upsert: true,
        ...(ifRev !== undefined ? { ifRev } : {}),
      },
      { tag, reply },
    );
    return withETag(reply, value.doc)
      .code(value.created ? 201 : 200)
      .send(value.doc);
  });

  app.patch<{ Params: DocumentParams }>('/api/:collection/:id', async (request, reply) => {
    checkDocumentParams(request.params);
    const { collection, id } = request.params;
    queryParams(request.query, []);
    const ifRev = parseIfMatch(request.headers['if-match']);
    const tag = idempotencyOf(request);
    validateUpdate(request.body, 'update');
    const value = await runCheckedCommand(
      backend,
      {
        type: 'update',
        collection,
        filter: { _id: id },
        update: request.body as UpdateSpec,
        multi: false,
        upsert: false,
        ...(ifRev !== undefined ? { ifRev } : {}),
      },
      { tag, reply },
    );
    const doc = value.docs[0];
    if (value.matched === 0 || doc === undefined) throw new NotFoundError(`document "${id}" not found in collection "${collection}"`);
    return withETag(reply, doc).send(doc);
  });

  app.delete<{ Params: DocumentParams }>('/api/:collection/:id', async (request, reply) => {
    checkDocumentParams(request.params);
    const { collection, id } = request.params;
    queryParams(request.query, []);
    const ifRev = parseIfMatch(request.headers['if-match']);
    const tag = idempotencyOf(request);
    const value = await runCheckedCommand(
      backend,
      {
        type: 'remove',
        collection,
        filter: { _id: id },
        multi: false,
        ...(ifRev !== undefined ? { ifRev } : {}),
      },
      { tag, reply },
    );
    if (value.removed === 0) throw new NotFoundError(`document "${id}" not found in collection "${collection}"`);
    return reply.code(204).send();
  });
}
