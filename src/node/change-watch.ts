// watch() of the embedded database: the changes of a collection (or of all) from the node's
// change feed (change-log.ts), as an async iterable. The same contract as the client's watch():
// after `resumeAfter` (an event id or a log index) every retained change, then live ones; a
// token older than the retained log throws CHANGES_EXPIRED. A consumer slower than the writes
// never holds up apply: past WATCH_QUEUE_EVENTS_MAX waiting changes, its queue is dropped and
// it reads on from the retained log after the last change it took (CHANGES_EXPIRED if those
// have left it meanwhile).
import { BadRequestError } from '../store/errors.ts';
import type { RaftEvent } from '../store/raft-event.ts';
import { parseChangeToken, tokenOf, type ChangeFeed, type ChangeRecord, type ChangeToken } from './change-log.ts';

/** Changes waiting for a slow consumer before it goes back to reading the retained log. */
export const WATCH_QUEUE_EVENTS_MAX = 10_000;

export interface EmbeddedWatchOptions {
  /** Start after this change (an event's `eventId`, or a log index: after that whole entry).
   * Without it, the changes applied from the first call of next() on. */
  readonly resumeAfter?: string;
  /** Ends the iteration (without an error) when aborted. */
  readonly signal?: AbortSignal;
}

export async function* watchFeed(
  feed: ChangeFeed,
  collection: string | null,
  options: EmbeddedWatchOptions = {},
  queueMax: number = WATCH_QUEUE_EVENTS_MAX,
): AsyncGenerator<RaftEvent, void, undefined> {
  const { signal } = options;
  let after: ChangeToken | null = null;
  if (options.resumeAfter !== undefined) {
    after = typeof options.resumeAfter === 'string' ? parseChangeToken(options.resumeAfter) : null;
    if (after === null) throw new BadRequestError('watch: resumeAfter must be an event id (<sequence>.<position>) or a log index');
  }
  // Read and subscribe in one turn: every change is in the backlog or comes live.
  let queue: ChangeRecord[] = after === null ? [] : feed.read(after);
  let head = 0;
  // The place of the last change taken from the queue (shown or filtered out).
  let last: ChangeToken = after ?? feed.latest();
  let overflowed = false;
  let wake: (() => void) | null = null;
  const unsubscribe = feed.subscribeRecords((record) => {
    if (!overflowed) {
      if (queue.length - head >= queueMax) {
        overflowed = true;
        queue = [];
        head = 0;
      } else queue.push(record);
    }
    wake?.();
  });
  const onAbort = (): void => wake?.();
  signal?.addEventListener('abort', onAbort);
  try {
    for (;;) {
      if (signal?.aborted === true) return;
      if (head < queue.length) {
        const record = queue[head++]!;
        if (head > 1024 && head * 2 > queue.length) {
          queue = queue.slice(head);
          head = 0;
        }
        last = tokenOf(record.event);
        if (collection === null || record.event.collection === collection) yield record.event;
        continue;
      }
      if (overflowed) {
        overflowed = false;
        queue = feed.read(last);
        head = 0;
        continue;
      }
      await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    unsubscribe();
  }
}
