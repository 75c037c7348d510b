// One server-sent-events connection of GET /api/:collection/_changes or GET /api/_changes.
// It sends a backlog (the retained changes after the client's resume token) and then the
// live changes, in that order, writing only while the socket accepts data. Live changes
// that arrive while the client is slow wait in a bounded queue; a client that falls further
// behind than that is disconnected (it reconnects with Last-Event-ID and gets the rest from
// the retained log): the node's apply never waits for a subscriber.
import type { ServerResponse } from 'node:http';
import type { ChangeRecord } from '../node/change-log.ts';

export interface ChangeStreamOptions {
  /** Live events queued for a slow client before it is dropped. */
  readonly maxQueuedEvents: number;
  /** Interval of the keep-alive comment line. The client library's watch() drops a stream silent
   * for its idleTimeoutMs (default 37,500 ms, 2.5x this default): keep them in step. */
  readonly heartbeatMs: number;
}

export const DEFAULT_CHANGE_STREAM_OPTIONS: ChangeStreamOptions = { maxQueuedEvents: 10_000, heartbeatMs: 15_000 };

/** Events written per turn before yielding to the event loop (a long backlog must not starve others). */
const WRITES_PER_TURN = 256;

/** The SSE message of a change: its id is the resume token (the event id, `<sequence>.<position>`). */
export function formatChangeEvent(record: ChangeRecord): string {
  return `id: ${record.event.eventId}\nevent: change\ndata: ${record.json}\n\n`;
}

export class ChangeStream {
  private readonly queue: ChangeRecord[] = [];
  private backlogNext = 0;
  private blocked = false;
  private scheduled = false;
  private closed = false;
  private readonly heartbeat: NodeJS.Timeout;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly raw: ServerResponse,
    /** The retained changes after the resume token this stream sends, oldest first. */
    private readonly backlog: readonly ChangeRecord[],
    /** Which backlog changes this stream sends (its collection, what its user may read). */
    private readonly wanted: (record: ChangeRecord) => boolean,
    private readonly options: ChangeStreamOptions,
    private readonly onClosed: (stream: ChangeStream) => void,
  ) {
    raw.on('drain', () => {
      this.blocked = false;
      this.pump();
    });
    raw.on('close', () => this.close());
    raw.on('error', () => this.close());
    this.heartbeat = setInterval(() => {
      // Only when idle: a blocked socket already has data in flight.
      if (!this.blocked && !this.closed) this.write(': heartbeat\n\n');
    }, options.heartbeatMs);
    this.heartbeat.unref();
  }

  /** Attaches the live feed; must be called in the same turn the backlog was read. */
  attach(unsubscribe: () => void): void {
    this.unsubscribe = unsubscribe;
    if (this.closed) unsubscribe();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  start(): void {
    this.write(': connected\n\n');
    this.pump();
  }

  /** A live change (already filtered to this stream and past its token). */
  push(event: ChangeRecord): void {
    if (this.closed) return;
    if (this.queue.length >= this.options.maxQueuedEvents) {
      // Too far behind: drop the client rather than buffer without bound.
      this.close(true);
      return;
    }
    this.queue.push(event);
    this.pump();
  }

  /** Ends the stream (destroying the socket when the client is too slow to end cleanly). */
  close(destroy = false): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.queue.length = 0;
    if (destroy) this.raw.destroy();
    else if (!this.raw.writableEnded) this.raw.end();
    this.onClosed(this);
  }

  private pump(): void {
    if (this.closed || this.blocked || this.scheduled) return;
    let written = 0;
    while (!this.blocked && !this.closed) {
      if (written >= WRITES_PER_TURN) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.pump();
        });
        return;
      }
      const event = this.nextEvent();
      if (event === undefined) return;
      this.write(formatChangeEvent(event));
      written++;
    }
  }

  private nextEvent(): ChangeRecord | undefined {
    while (this.backlogNext < this.backlog.length) {
      const record = this.backlog[this.backlogNext++]!;
      if (this.wanted(record)) return record;
    }
    return this.queue.shift();
  }

  private write(chunk: string): void {
    if (this.raw.writableEnded || this.raw.destroyed) return;
    if (!this.raw.write(chunk)) this.blocked = true;
  }
}
