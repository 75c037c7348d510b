// History and audit over HTTP (docs/models.md): a document's versions (`trackHistory`), and an
// audited collection's hash chain with `?verify=true` naming the first broken link.
import { withETag } from './routes-documents.ts';
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../store/errors.ts';
import { validateCollectionName, validateId } from '../store/validate.ts';
import { documentAsOf, parseAsOf } from './as-of.ts';
import { readableStore } from './backend-access.ts';
import { parseConsistency, queryParams } from './http-input.ts';
import type { CollectionParams, DocumentParams, RouteContext } from './route-context.ts';

export function registerHistoryRoutes(app: FastifyInstance, { backend }: RouteContext): void {
  // With `asOf`, an alias of `GET /api/:collection/:id?asOf=` (as-of.ts): the same answers.
  app.get<{ Params: DocumentParams }>('/api/:collection/:id/_history', async (request, reply) => {
    const { collection, id } = request.params;
    validateCollectionName(collection);
    validateId(id, 'id');
    const q = queryParams(request.query, ['consistency', 'asOf']);
    const consistency = parseConsistency(q.consistency);
    const at = q.asOf !== undefined ? parseAsOf(q.asOf) : undefined;
    const store = await readableStore(backend, consistency);
    if (at !== undefined) {
      const doc = documentAsOf(store, collection, id, at);
      return withETag(reply, doc).send(doc);
    }
    if (store.model(collection)?.options.trackHistory !== true) throw new NotFoundError(`collection "${collection}" does not track history`);
    return store.documentHistory(collection, id);
  });

  app.get<{ Params: CollectionParams }>('/api/:collection/_audit', async (request) => {
    const { collection } = request.params;
    validateCollectionName(collection);
    const q = queryParams(request.query, ['consistency', 'verify']);
    const store = await readableStore(backend, parseConsistency(q.consistency));
    if (store.model(collection)?.options.audited !== true && store.auditRecords(collection).length === 0) {
      throw new NotFoundError(`collection "${collection}" is not audited`);
    }
    if (q.verify === 'true') return store.verifyAudit(collection);
    return store.auditRecords(collection);
  });
}
