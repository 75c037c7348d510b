// Secondary indexes of a collection: list, create (built over existing
// documents; a unique index over duplicates is a 409; with `expireAfterSeconds`, a TTL
// index: documents expire that many seconds after the field's time, store/ttl.ts), drop.
import type { FastifyInstance } from 'fastify';
import { NotFoundError, ValidationError } from '../store/errors.ts';
import { normalizeIndexFields } from '../store/index-fields.ts';
import { validateCollectionName, validateIndexName } from '../store/validate.ts';
import { readableStore, runCommand } from './backend-access.ts';
import { bodyObject, optionalBoolean, parseConsistency, queryParams } from './http-input.ts';
import { idempotencyOf } from './idempotency.ts';
import type { CollectionParams, RouteContext } from './route-context.ts';

export function registerIndexRoutes(app: FastifyInstance, { backend }: RouteContext): void {
  app.get<{ Params: CollectionParams }>('/api/:collection/_indexes', async (request) => {
    const { collection } = request.params;
    validateCollectionName(collection);
    const consistency = parseConsistency(queryParams(request.query, ['consistency']).consistency);
    const store = await readableStore(backend, consistency);
    return store.indexes(collection);
  });

  app.post<{ Params: CollectionParams }>('/api/:collection/_indexes', async (request, reply) => {
    const { collection } = request.params;
    validateCollectionName(collection);
    queryParams(request.query, []);
    const tag = idempotencyOf(request);
    const body = bodyObject(request.body, ['fields', 'unique', 'name', 'expireAfterSeconds'], true);
    const rawFields = body['fields'];
    // Only the two shapes the contract names: {"a":1,"b.c":-1} or [["a",1]].
    if (typeof rawFields !== 'object' || rawFields === null) {
      throw new ValidationError('fields: must be {"path": 1 | -1, ...} or [["path", 1 | -1], ...]');
    }
    // The normaliser of the embedded database and the client: the same shapes, the same errors.
    const fields = normalizeIndexFields(rawFields);
    const name = body['name'];
    if (name !== undefined) validateIndexName(name);
    const spec = await runCommand(
      backend,
      {
        type: 'createIndex',
        collection,
        fields,
        unique: optionalBoolean(body['unique'], 'unique') === true,
        ...(name !== undefined ? { name } : {}),
        ...(body['expireAfterSeconds'] !== undefined ? { expireAfterSeconds: body['expireAfterSeconds'] as number } : {}),
      },
      { tag, reply },
    );
    return reply.code(201).send(spec);
  });

  app.delete<{ Params: CollectionParams & { name: string } }>('/api/:collection/_indexes/:name', async (request, reply) => {
    const { collection, name } = request.params;
    validateCollectionName(collection);
    validateIndexName(name);
    queryParams(request.query, []);
    const tag = idempotencyOf(request);
    const value = await runCommand(backend, { type: 'dropIndex', collection, name }, { tag, reply });
    if (!value.dropped) throw new NotFoundError(`index "${name}" not found in collection "${collection}"`);
    return reply.code(204).send();
  });
}
