// The collections themselves: GET /api lists them (those the caller may read) with their
// document counts and models; DELETE /api/:collection drops one (role root), through the
// log as a `dropCollection` command, so every node drops it at the same index.
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../store/errors.ts';
import { validateCollectionName } from '../store/validate.ts';
import { readableStore, runCommand } from './backend-access.ts';
import { parseConsistency, queryParams } from './http-input.ts';
import { idempotencyOf } from './idempotency.ts';
import { collectionSchemas } from './openapi.ts';
import type { JsonSchema } from './openapi-schemas.ts';
import type { CollectionParams, RouteContext } from './route-context.ts';

export interface CollectionSummary {
  readonly name: string;
  /** Documents in it now. */
  readonly count: number;
  /** Its model, when it has one. */
  readonly schema?: JsonSchema;
}

export function registerApiRoutes(app: FastifyInstance, { backend }: RouteContext): void {
  app.get('/api', async (request) => {
    const consistency = parseConsistency(queryParams(request.query, ['consistency']).consistency);
    const store = await readableStore(backend, consistency);
    const models = collectionSchemas(store);
    const principal = request.principal;
    const out: CollectionSummary[] = [];
    for (const name of store.collections()) {
      // With authentication on, a collection the user may not read is not named at all.
      if (principal !== undefined && !store.auth.allows(principal.user, name, 'read')) continue;
      const schema = models.get(name);
      out.push({ name, count: store.count(name), ...(schema !== undefined ? { schema } : {}) });
    }
    return out;
  });

  app.delete<{ Params: CollectionParams }>('/api/:collection', async (request, reply) => {
    const { collection } = request.params;
    validateCollectionName(collection);
    queryParams(request.query, []);
    const tag = idempotencyOf(request);
    const value = await runCommand(backend, { type: 'dropCollection', collection }, { tag, reply });
    if (!value.dropped) throw new NotFoundError(`collection "${collection}" not found`);
    return reply.code(204).send();
  });
}
