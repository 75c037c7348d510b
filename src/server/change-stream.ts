// One server-sent-events connection of GET /api/:collection/_changes. It sends a
// backlog (the collection's current documents newer than `since`) and then the
// live events, in that order, writing only while the socket accepts data. Live
// events that arrive while the client is slow wait in a bounded queue; a client
// that falls further behind than that is disconnected (it reconnects with
// Last-Event-ID / since= and gets the backlog again).
import type { ServerResponse } from 'node:http';
import type { ChangeEvent } from '../node/backend.ts';
import type { Document } from '../store/types.ts';

export interface ChangeStreamOptions {
  /** Live events queued for a slow client before it is dropped. */
  readonly maxQueuedEvents: number;
  /** Interval of the keep-alive comment line. */
  readonly heartbeatMs: number;
}

export const DEFAULT_CHANGE_STREAM_OPTIONS: ChangeStreamOptions = { maxQueuedEvents: 10_000, heartbeatMs: 15_000 };

/** Events written per turn before yielding to the event loop (a long backlog must not starve others). */
const WRITES_PER_TURN = 256;

export function formatChangeEvent(event: ChangeEvent): string {
  return `id: ${event.rev}\nevent: change\ndata: ${JSON.stringify(event)}\n\n`;
}

export class ChangeStream {
  private readonly queue: ChangeEvent[] = [];
  private backlogNext = 0;
  private blocked = false;
  private scheduled = false;
  private closed = false;
  private readonly heartbeat: NodeJS.Timeout;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly raw: ServerResponse,
    private readonly collection: string,
    /** Current documents with `_rev > since`, in `_rev` order. */
    private readonly backlog: readonly Document[],
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

  /** A live event (already filtered to this collection and past the backlog). */
  push(event: ChangeEvent): void {
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

  private nextEvent(): ChangeEvent | undefined {
    if (this.backlogNext < this.backlog.length) {
      const doc = this.backlog[this.backlogNext++]!;
      // A backlog entry is the document as it is now: op "replace" (upsert it).
      return { collection: this.collection, op: 'replace', id: doc._id, rev: doc._rev, doc };
    }
    return this.queue.shift();
  }

  private write(chunk: string): void {
    if (this.raw.writableEnded || this.raw.destroyed) return;
    if (!this.raw.write(chunk)) this.blocked = true;
  }
}
