// GET /api/:collection/_changes?since=<rev>: a server-sent-events change feed.
//
// First the collection's current documents with `_rev > since`, in `_rev`
// order (event op "replace": each is the document as it is now), then every
// live change as it is applied on this node. Removals that happened before the
// subscription are not replayed (a removed document leaves nothing to send):
// a consumer that needs them must stay connected, or re-read the collection.
// `Last-Event-ID` (sent by EventSource on reconnect) stands for `since`.
import type { FastifyInstance } from 'fastify';
import { stillAllowed } from './auth/auth-plugin.ts';
import { BadRequestError } from '../store/errors.ts';
import { validateCollectionName } from '../store/validate.ts';
import { readableStore } from './backend-access.ts';
import { ChangeStream, type ChangeStreamOptions } from './change-stream.ts';
import { parseConsistency, parseNonNegativeInt, queryParams } from './http-input.ts';
import type { CollectionParams, RouteContext } from './route-context.ts';

const EVENT_STREAM_TYPE = 'text/event-stream; charset=utf-8';

/** Open change streams of one server, so close() can end them (they would hold it open). */
export class ChangeStreamRegistry {
  private readonly streams = new Set<ChangeStream>();

  get size(): number {
    return this.streams.size;
  }

  add(stream: ChangeStream): void {
    this.streams.add(stream);
  }

  remove(stream: ChangeStream): void {
    this.streams.delete(stream);
  }

  closeAll(): void {
    for (const stream of [...this.streams]) stream.close();
  }
}

function sinceOf(query: string | undefined, lastEventId: string | string[] | undefined): number {
  if (query !== undefined) return parseNonNegativeInt(query, 'since');
  if (lastEventId === undefined) return 0;
  if (Array.isArray(lastEventId)) throw new BadRequestError('Last-Event-ID must be given once');
  return parseNonNegativeInt(lastEventId.trim(), 'Last-Event-ID');
}

export function registerChangeRoutes(
  app: FastifyInstance,
  { backend }: RouteContext,
  registry: ChangeStreamRegistry,
  options: ChangeStreamOptions,
): void {
  app.get<{ Params: CollectionParams }>('/api/:collection/_changes', async (request, reply) => {
    const { collection } = request.params;
    validateCollectionName(collection);
    const q = queryParams(request.query, ['since', 'consistency']);
    const since = sinceOf(q.since, request.headers['last-event-id']);
    const store = await readableStore(backend, parseConsistency(q.consistency));
    // HEAD (fastify's automatic one for this GET): the headers, never an endless body.
    if (request.method === 'HEAD') return reply.type(EVENT_STREAM_TYPE).header('cache-control', 'no-cache').send();

    reply.hijack();
    const raw = reply.raw;
    // The client may have gone while the read barrier was pending.
    if (raw.destroyed || request.raw.socket.destroyed) {
      raw.destroy();
      return;
    }
    raw.writeHead(200, {
      'content-type': EVENT_STREAM_TYPE,
      'cache-control': 'no-cache, no-transform',
      // A stream's connection is not worth reusing; closing it lets server.close() finish.
      connection: 'close',
      'x-accel-buffering': 'no',
    });
    // The backlog is read and the subscription made in the same turn: nothing is
    // applied in between, so every change is either in the backlog or live.
    const backlog = store.find(collection, { _rev: { $gt: since } }, { sort: { _rev: 1 } });
    const stream = new ChangeStream(raw, collection, backlog, options, (s) => registry.remove(s));
    stream.attach(
      backend.subscribe((change) => {
        if (change.collection !== collection || change.rev <= since) return;
        // Checked per event: a stream outlives its token, and its user's rights may change.
        if (!stillAllowed(request, backend, collection)) stream.close();
        else stream.push(change);
      }),
    );
    if (!stream.isClosed) registry.add(stream);
    stream.start();
  });
}
