// GET /cluster/events: the cluster events this node sees (node/cluster-events.ts) as
// server-sent events, `id: <seq>`, `event: <type>`, `data: <JSON>`. A subscriber first
// gets the kept events after `?since=<seq>` (or Last-Event-ID; default: all kept ones),
// then the live ones. The node never waits for a subscriber: events go to a bounded queue
// per subscriber, written while its socket accepts data; one that falls EVENTS_QUEUED_MAX
// events behind is dropped (it reconnects with Last-Event-ID).
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { DatabaseBackend } from '../node/backend.ts';
import type { ClusterEvent } from '../node/cluster-events.ts';
import { ROOT } from '../store/auth-state.ts';
import { StoreError, ValidationError } from '../store/errors.ts';
import { parseNonNegativeInt, queryParams } from './http-input.ts';
import type { RouteContext } from './route-context.ts';

/** Events waiting for a slow subscriber before it is dropped. */
export const EVENTS_QUEUED_MAX = 1_000;
/** Interval of the keep-alive comment on an idle stream. */
export const EVENTS_HEARTBEAT_MS = 15_000;

export function formatClusterEvent(event: ClusterEvent): string {
  return `id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** One subscriber's stream. */
class EventStream {
  private readonly queue: string[] = [];
  private blocked = false;
  private closed = false;
  private readonly heartbeat: NodeJS.Timeout;
  unsubscribe: (() => void) | null = null;

  constructor(
    private readonly raw: ServerResponse,
    private readonly queuedMax: number,
    heartbeatMs: number,
    private readonly onClosed: (stream: EventStream) => void,
  ) {
    raw.on('drain', () => {
      this.blocked = false;
      this.pump();
    });
    raw.on('close', () => this.close());
    raw.on('error', () => this.close());
    this.heartbeat = setInterval(() => {
      if (!this.blocked && !this.closed) this.write(': heartbeat\n\n');
    }, heartbeatMs);
    this.heartbeat.unref();
  }

  push(event: ClusterEvent): void {
    if (this.closed) return;
    if (this.queue.length >= this.queuedMax) {
      // Too far behind: drop it rather than hold events without bound (or slow the node).
      this.close(true);
      return;
    }
    this.queue.push(formatClusterEvent(event));
    this.pump();
  }

  close(destroy = false): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.unsubscribe?.();
    this.queue.length = 0;
    if (destroy) this.raw.destroy();
    else if (!this.raw.writableEnded) this.raw.end();
    this.onClosed(this);
  }

  pump(): void {
    while (!this.blocked && !this.closed && this.queue.length > 0) this.write(this.queue.shift()!);
  }

  write(chunk: string): void {
    if (this.raw.writableEnded || this.raw.destroyed) return;
    if (!this.raw.write(chunk)) this.blocked = true;
  }
}

export interface EventRouteOptions {
  readonly queuedMax: number;
  readonly heartbeatMs: number;
}

function sinceOf(request: FastifyRequest<{ Querystring: Record<string, unknown> }>): number {
  const q = queryParams(request.query, ['since']);
  const header = request.headers['last-event-id'];
  if (Array.isArray(header)) throw new ValidationError('Last-Event-ID must be given once');
  const given = q['since'] ?? header;
  return given === undefined ? 0 : parseNonNegativeInt(given, q['since'] !== undefined ? 'since' : 'Last-Event-ID');
}

/** A stream goes on while its credentials hold: the token has not expired, the user is the
 * same (not removed, password unchanged) and still has role root (authentication off: until
 * it is turned on). */
function stillAuthorized(request: FastifyRequest, backend: DatabaseBackend): boolean {
  const principal = request.principal;
  if (principal === undefined) return !request.server.authRequired();
  if (principal.expiresAtMs !== undefined && principal.expiresAtMs <= Date.now()) return false;
  const user = backend.store.auth.user(principal.user.name);
  return user !== undefined && user.generation === principal.user.generation && user.roles.includes(ROOT);
}

export function registerEventRoutes(
  app: FastifyInstance,
  { backend }: RouteContext,
  options: EventRouteOptions = { queuedMax: EVENTS_QUEUED_MAX, heartbeatMs: EVENTS_HEARTBEAT_MS },
): void {
  const streams = new Set<EventStream>();
  app.addHook('preClose', async () => {
    for (const stream of [...streams]) stream.close();
  });

  app.get<{ Querystring: Record<string, unknown> }>('/cluster/events', async (request, reply) => {
    const since = sinceOf(request);
    if (backend.clusterEvents === undefined) throw new StoreError('NOT_FOUND', 'this server has no cluster events');
    const events = backend.clusterEvents();
    reply.hijack();
    const raw = reply.raw;
    if (raw.destroyed || request.raw.socket.destroyed) {
      raw.destroy();
      return;
    }
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'close',
      'x-accel-buffering': 'no',
    });
    const stream = new EventStream(raw, options.queuedMax, options.heartbeatMs, (s) => streams.delete(s));
    streams.add(stream);
    stream.write(': connected\n\n');
    // Kept events and the subscription in the same turn: none is missed or sent twice.
    for (const event of events.since(since)) stream.push(event);
    stream.unsubscribe = events.subscribe((event) => {
      if (!stillAuthorized(request, backend)) stream.close();
      else stream.push(event);
    });
  });
}
