// Change streams, as server-sent events (docs/http-api.md, Change streams):
//
// - GET /api/:collection/_changes: the changes of one collection;
// - GET /api/_changes: the changes of every collection the user may read.
//
// Each event is a RaftEvent record (store/raft-event.ts); its SSE id is its resume token,
// `<sequence>.<position>`, exact even when one log entry changed several documents. With a
// token (`Last-Event-ID`, sent by EventSource on reconnect, or `?resumeAfter=`; `?since=<n>`
// is the older spelling of `resumeAfter=<n>`), the stream first replays every retained change
// after it, deletes included, from the node's change log (node/change-log.ts), then goes on
// live; a token older than what the node retains is answered 410 CHANGES_EXPIRED (resync).
// Without a token: live changes only, from the moment the stream opens.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { stillAllowed } from './auth/auth-plugin.ts';
import { BadRequestError } from '../store/errors.ts';
import { validateCollectionName } from '../store/validate.ts';
import type { DatabaseBackend } from '../node/backend.ts';
import { compareChangeTokens, parseChangeToken, tokenOf, type ChangeRecord, type ChangeToken } from '../node/change-log.ts';
import { readableStore } from './backend-access.ts';
import { ChangeStream, type ChangeStreamOptions } from './change-stream.ts';
import { parseConsistency, queryParams } from './http-input.ts';
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

function parseToken(raw: string, name: string): ChangeToken {
  const token = parseChangeToken(raw.trim());
  if (token === null) throw new BadRequestError(`${name} must be a change token: <sequence>.<position> (an event id) or <sequence>`);
  return token;
}

/** The resume token of a request: at most one of resumeAfter, since and Last-Event-ID (null: live only). */
function resumeTokenOf(q: { resumeAfter?: string; since?: string }, lastEventId: string | string[] | undefined): ChangeToken | null {
  if (Array.isArray(lastEventId)) throw new BadRequestError('Last-Event-ID must be given once');
  const given = [q.resumeAfter, q.since, lastEventId].filter((v) => v !== undefined);
  if (given.length > 1) throw new BadRequestError('give one of resumeAfter, since and Last-Event-ID');
  if (q.resumeAfter !== undefined) return parseToken(q.resumeAfter, 'resumeAfter');
  if (q.since !== undefined) {
    if (!/^\d{1,16}$/.test(q.since)) throw new BadRequestError('since must be a non-negative integer (a log index)');
    return parseToken(q.since, 'since');
  }
  return lastEventId !== undefined ? parseToken(lastEventId, 'Last-Event-ID') : null;
}

/** Which collections a stream carries: one, or all of those its user may read. */
type Scope = { readonly collection: string } | { readonly collection: null };

async function openChangeStream(
  request: FastifyRequest,
  reply: FastifyReply,
  scope: Scope,
  backend: DatabaseBackend,
  registry: ChangeStreamRegistry,
  options: ChangeStreamOptions,
): Promise<void> {
  const q = queryParams(request.query, ['resumeAfter', 'since', 'consistency']);
  const after = resumeTokenOf(q, request.headers['last-event-id']);
  await readableStore(backend, parseConsistency(q.consistency));
  // Read before the reply is taken over: a token past the retained log is an ordinary 410.
  // The backlog is read and the subscription made in the same turn (below, no await in
  // between): nothing is applied in between, so every change is in the backlog or live.
  const backlog = after === null ? [] : backend.changes.read(after);
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
  // Checked per event: a stream outlives its token, and its user's rights may change. One
  // collection's stream ends when its user may no longer read it; the all-collections stream
  // skips the collections its user may not read and ends when its credentials no longer hold.
  const wanted = (record: ChangeRecord): boolean => {
    const collection = record.event.collection;
    if (scope.collection !== null) return collection === scope.collection;
    return stillAllowed(request, backend, collection);
  };
  const stream = new ChangeStream(raw, backlog, wanted, options, (s) => registry.remove(s));
  stream.attach(
    backend.changes.subscribeRecords((record) => {
      // A node behind the token (a client that moved from a node ahead of this one) applies
      // changes the client has already seen: skipped.
      if (after !== null && compareChangeTokens(tokenOf(record.event), after) <= 0) return;
      if (!stillAuthorized(request, backend, scope)) stream.close();
      else if (wanted(record)) stream.push(record);
    }),
  );
  if (!stream.isClosed) registry.add(stream);
  stream.start();
}

/** Whether the stream may go on: its collection is still readable, or (all collections) its user still holds. */
function stillAuthorized(request: FastifyRequest, backend: DatabaseBackend, scope: Scope): boolean {
  if (scope.collection !== null) return stillAllowed(request, backend, scope.collection);
  const principal = request.principal;
  if (principal === undefined) return !request.server.authRequired();
  if (principal.expiresAtMs !== undefined && principal.expiresAtMs <= Date.now()) return false;
  const user = backend.store.auth.user(principal.user.name);
  return user !== undefined && user.generation === principal.user.generation;
}

export function registerChangeRoutes(
  app: FastifyInstance,
  { backend }: RouteContext,
  registry: ChangeStreamRegistry,
  options: ChangeStreamOptions,
): void {
  app.get('/api/_changes', (request, reply) => openChangeStream(request, reply, { collection: null }, backend, registry, options));
  app.get<{ Params: CollectionParams }>('/api/:collection/_changes', (request, reply) => {
    const { collection } = request.params;
    validateCollectionName(collection);
    return openChangeStream(request, reply, { collection }, backend, registry, options);
  });
}
