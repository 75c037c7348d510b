// Collection models over HTTP (docs/models.md): PUT sets a collection's schema and options
// through the log (`?force=true` accepts existing documents that fail it), GET reads it,
// DELETE removes it. PUT and DELETE take an Idempotency-Key like every write under /api.
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../store/errors.ts';
import type { ModelOptions } from '../store/schema.ts';
import type { JsonObject } from '../store/types.ts';
import { validateCollectionName } from '../store/validate.ts';
import { readableStore, runCommand } from './backend-access.ts';
import { bodyObject, parseConsistency, queryParams } from './http-input.ts';
import { idempotencyOf } from './idempotency.ts';
import type { CollectionParams, RouteContext } from './route-context.ts';

export function registerSchemaRoutes(app: FastifyInstance, { backend }: RouteContext): void {
  app.put<{ Params: CollectionParams }>('/api/:collection/_schema', async (request, reply) => {
    const { collection } = request.params;
    validateCollectionName(collection);
    const { force } = queryParams(request.query, ['force']);
    const body = bodyObject(request.body, ['schema', 'options'], true);
    const tag = idempotencyOf(request);
    const stored = await runCommand(
      backend,
      {
        type: 'setSchema',
        collection,
        schema: body['schema'] as JsonObject,
        options: (body['options'] ?? {}) as ModelOptions,
        force: force === 'true',
      },
      { tag, reply },
    );
    return reply.code(200).send(stored);
  });

  app.get<{ Params: CollectionParams }>('/api/:collection/_schema', async (request) => {
    const { collection } = request.params;
    validateCollectionName(collection);
    const store = await readableStore(backend, parseConsistency(queryParams(request.query, ['consistency']).consistency));
    const model = store.model(collection);
    if (model === undefined) throw new NotFoundError(`collection "${collection}" has no schema`);
    return model;
  });

  app.delete<{ Params: CollectionParams }>('/api/:collection/_schema', async (request, reply) => {
    const { collection } = request.params;
    validateCollectionName(collection);
    queryParams(request.query, []);
    const value = await runCommand(backend, { type: 'dropSchema', collection }, { tag: idempotencyOf(request), reply });
    if (!value.dropped) throw new NotFoundError(`collection "${collection}" has no schema`);
    return reply.code(204).send();
  });
}
