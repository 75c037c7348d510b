// History and audit over HTTP (docs/models.md): a document's versions (`trackHistory`), and an
// audited collection's hash chain with `?verify=true` naming the first broken link.
import type { FastifyInstance } from 'fastify';
import { BadRequestError, NotFoundError } from '../store/errors.ts';
import type { AsOf } from '../store/history.ts';
import { validateCollectionName, validateId } from '../store/validate.ts';
import { readableStore } from './backend-access.ts';
import { parseConsistency, queryParams } from './http-input.ts';
import type { CollectionParams, DocumentParams, RouteContext } from './route-context.ts';

/** `asOf`: a log index (digits) or an ISO-8601 time. */
export function parseAsOf(raw: string): AsOf {
  if (/^[0-9]{1,15}$/.test(raw)) return { sequence: Number(raw) };
  const timeMs = Date.parse(raw);
  if (Number.isNaN(timeMs)) throw new BadRequestError('asOf: must be a log index (sequence) or an ISO-8601 time');
  return { timeMs };
}

export function registerHistoryRoutes(app: FastifyInstance, { backend }: RouteContext): void {
  app.get<{ Params: DocumentParams }>('/api/:collection/:id/_history', async (request) => {
    const { collection, id } = request.params;
    validateCollectionName(collection);
    validateId(id, 'id');
    const q = queryParams(request.query, ['consistency', 'asOf']);
    const store = await readableStore(backend, parseConsistency(q.consistency));
    if (store.model(collection)?.options.trackHistory !== true) throw new NotFoundError(`collection "${collection}" does not track history`);
    if (q.asOf !== undefined) {
      const doc = store.getAsOf(collection, id, parseAsOf(q.asOf));
      if (doc === undefined) throw new NotFoundError(`document "${id}" did not exist then in "${collection}" (or its history is no longer kept)`);
      return doc;
    }
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
