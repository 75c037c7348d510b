// Group commit onto segment files. Records added while no flush is running are
// framed into one buffer; the flush writes it with one positional write and one
// fdatasync, then resolves every caller of that batch at once. While a flush is
// in flight, new records accumulate for the next one (at most one in flight).
// In sync 'batch' the segment is opened with O_DSYNC, so "write + fdatasync" is a
// single positional write that returns once durable (one thread-pool round trip);
// the event loop keeps running meanwhile (async fs).
// In sync 'batch' the records are written over zeros made durable ahead of them
// (preallocation.ts): an overwrite does not change the file size, so its O_DSYNC
// write costs about half of an append's.
import type { FileHandle } from 'node:fs/promises';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { assert } from '../assert.ts';
import type { HardState } from '../raft/types.ts';
import type { SyncMode } from './types.ts';
import { LogClosedError } from './errors.ts';
import { MAX_WRITE_BYTES, PAGE_BYTES, writeZeros, zeroFillTarget } from './preallocation.ts';
import { FrameBuffer, SECTOR_BYTES, sectorAlignUp, type LogRecord } from './record.ts';
import { sectorCrcs, writeEndMaxBytes } from './write-end.ts';
import { fsyncDir, openSegmentForWrite, segmentFileName } from './segment-files.ts';
import { LatencyBuckets } from './latency-buckets.ts';
import { SlowWrites, type SlowLogWrite } from './slow-writes.ts';

export interface SegmentInfo {
  /** The number in the file name: the first index written to it (monotonic across files). */
  readonly name: number;
  readonly path: string;
  /** End of the records: where the next one is written. */
  size: number;
  /** File length: the bytes in [size, zeroedTo) are zeros (durable ones in sync 'batch'). */
  zeroedTo: number;
  /** Highest entry index of any entry record in the file, -1 when none. */
  maxEntryIndex: number;
  /** Whether the data holds a writeEnd record (false: a new file, or one an older version wrote). */
  hasWriteEnd: boolean;
}

interface Batch {
  readonly frames: FrameBuffer;
  firstEntryIndex: number;
  maxEntryIndex: number;
  lastHardState: HardState | null;
  readonly done: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
}

export interface SegmentWriterOptions {
  readonly dir: string;
  readonly sync: SyncMode;
  readonly segmentBytes: number;
  /** Segments found at open, oldest first; the last one is open for writing. */
  readonly segments: SegmentInfo[];
  readonly handle: FileHandle;
  /** Hard state as of the end of the log on disk: written first in each new segment. */
  readonly hardState: HardState;
  /** Told of each write batch that took LOG_WRITE_SLOW_MS or longer (slow-writes.ts). */
  readonly onSlowWrite?: (write: SlowLogWrite) => void;
}

const SPARE_BUFFER_MAX_BYTES = 8 * 1024 * 1024;

function newBatch(frames: FrameBuffer): Batch {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A batch nobody awaited must not crash the process with an unhandled rejection;
  // callers that do await it still see the error.
  done.catch(() => {});
  return { frames, firstEntryIndex: -1, maxEntryIndex: -1, lastHardState: null, done, resolve, reject };
}

export class SegmentWriter {
  private readonly dir: string;
  private readonly sync: SyncMode;
  private readonly segmentBytes: number;
  /**
   * Zero-fill ahead only in sync 'batch'. In sync 'none' nothing orders the page
   * cache's writeback, so after a power loss an overwritten zero-filled region
   * could show holes anywhere in the unsynced data, which recovery would have to
   * refuse; appending keeps the old behaviour there, and costs nothing extra
   * since there is no fdatasync to save.
   */
  private readonly preallocate: boolean;
  private readonly segments: SegmentInfo[];
  private handle: FileHandle;
  private loggedHardState: HardState;
  private pending: Batch;
  /** The buffer of the batch in flight, reused for the batch after next. */
  private spare: FrameBuffer | null = new FrameBuffer();
  private flushing = false;
  /** The batch being written, while `flushing`. */
  private inFlight: Batch | null = null;
  private flushScheduled = false;
  /** A commit() waits on the pending batch: it must be written, not left for the next one. */
  private flushWanted = false;
  private failure: Error | null = null;
  private closed = false;
  /** How long each batch took to become durable (its write and, in sync 'batch', its O_DSYNC
   * flush): the log's fsync latency (GET /metrics). One observation per batch. */
  readonly syncLatency = new LatencyBuckets();
  /** The newest batches that took LOG_WRITE_SLOW_MS or longer (GET /cluster/status). */
  readonly slowWrites: SlowWrites;

  constructor(options: SegmentWriterOptions) {
    assert(options.segments.length > 0, 'SegmentWriter needs an open segment');
    this.dir = options.dir;
    this.sync = options.sync;
    this.segmentBytes = options.segmentBytes;
    this.preallocate = options.sync === 'batch';
    this.segments = options.segments;
    this.handle = options.handle;
    this.loggedHardState = options.hardState;
    this.pending = newBatch(new FrameBuffer());
    this.slowWrites = new SlowWrites(options.onSlowWrite);
  }

  /** Throws when no more writes are accepted. */
  checkWritable(): void {
    if (this.failure !== null) throw new LogClosedError(`log stopped after a write failure: ${this.failure.message}`);
    if (this.closed) throw new LogClosedError(`log is closed: ${this.dir}`);
  }

  /** Frames a record into the pending batch (synchronously). */
  add(record: LogRecord): void {
    this.checkWritable();
    const batch = this.pending;
    batch.frames.add(record);
    if (record.kind === 'entry') {
      if (batch.firstEntryIndex < 0) batch.firstEntryIndex = record.entry.index;
      batch.maxEntryIndex = Math.max(batch.maxEntryIndex, record.entry.index);
    } else if (record.kind === 'hardState') {
      batch.lastHardState = record.state;
    }
  }

  /** Resolves once everything added so far is written (and fdatasynced in sync 'batch'). */
  commit(): Promise<void> {
    if (this.failure !== null) return Promise.reject(new LogClosedError(`log stopped after a write failure: ${this.failure.message}`));
    const batch = this.pending;
    if (batch.frames.length > 0) {
      this.flushWanted = true;
      this.scheduleFlush();
      return batch.done;
    }
    return this.inFlight !== null ? this.inFlight.done : Promise.resolve();
  }

  /** Resolves once everything added so far is written, by the next commit() or close(): the
   * records added since the last commit() cost no write of their own. */
  withNextWrite(): Promise<void> {
    if (this.failure !== null) return Promise.reject(new LogClosedError(`log stopped after a write failure: ${this.failure.message}`));
    return this.pending.frames.length > 0 ? this.pending.done : this.inFlight !== null ? this.inFlight.done : Promise.resolve();
  }

  segmentList(): readonly SegmentInfo[] {
    return this.segments;
  }

  private scheduleFlush(): void {
    if (this.flushing || this.flushScheduled) return;
    this.flushScheduled = true;
    // setImmediate, not a microtask: callers woken by the previous batch get to
    // run their continuations (and append again) before this batch is cut.
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    if (this.flushing || batch.frames.length === 0) return;
    this.flushing = true;
    this.inFlight = batch;
    const spare = this.spare;
    this.spare = null;
    this.pending = newBatch(spare ?? new FrameBuffer());
    this.flushWanted = false;
    try {
      const started = performance.now();
      await this.writeBatch(batch);
      const durationMs = performance.now() - started;
      this.syncLatency.observe(durationMs);
      this.slowWrites.observe(durationMs, batch.frames.length);
      batch.resolve();
    } catch (error) {
      this.failure = error as Error;
      batch.reject(error as Error);
      this.pending.reject(new LogClosedError(`log stopped after a write failure: ${(error as Error).message}`));
    } finally {
      batch.frames.reset();
      // Keep the buffer for reuse unless one huge batch grew it: do not pin that memory.
      this.spare = batch.frames.capacity <= SPARE_BUFFER_MAX_BYTES ? batch.frames : null;
      this.inFlight = null;
      this.flushing = false;
    }
    // Records added with withNextWrite() alone wait for the next commit(): no write of their own.
    if (this.failure === null && this.pending.frames.length > 0 && this.flushWanted) this.scheduleFlush();
  }

  private async writeBatch(batch: Batch): Promise<void> {
    const body = batch.frames.length;
    // the batch, its writeEnd, the padding to the next sector, and a lone writeEnd first
    const recordBytes = body + writeEndMaxBytes(body) + SECTOR_BYTES + writeEndMaxBytes(0) + SECTOR_BYTES;
    let segment = this.segments[this.segments.length - 1]!;
    // Roll on the data size, not the file length (which includes the zero tail).
    if (segment.size > 0 && segment.size + recordBytes > this.segmentBytes) {
      segment = await this.roll(batch, recordBytes);
    }
    if (!segment.hasWriteEnd) {
      // A new file, or one an older version wrote: a writeEnd of its own first, so that
      // recovery knows that every write after it ends with one (segment-tail.ts).
      await this.writeAlone(segment, new FrameBuffer(64));
    }
    await this.writeAlone(segment, batch.frames);
    // sync 'batch': the file is opened with O_DSYNC, so the writes above are already durable.
    segment.maxEntryIndex = Math.max(segment.maxEntryIndex, batch.maxEntryIndex);
    if (batch.lastHardState !== null) this.loggedHardState = batch.lastHardState;
  }

  /** Ends `frames` with its writeEnd (see RecordType.writeEnd) and writes them as one
   * write at the end of the data; the next write begins at the next sector boundary. */
  private async writeAlone(segment: SegmentInfo, frames: FrameBuffer): Promise<void> {
    const start = segment.size;
    frames.add({ kind: 'writeEnd', start, sectors: sectorCrcs(frames.bytes(), start) });
    const bytes = frames.bytes();
    const next = sectorAlignUp(start + bytes.length);
    await this.zeroAhead(segment, next);
    await this.writeRecords(segment, bytes);
    // The bytes up to `next` stay zero (zero-filled, or a hole past the end of a file
    // written without zero fill), which recovery's walk expects after a writeEnd.
    segment.size = next;
    segment.zeroedTo = Math.max(segment.zeroedTo, next);
    segment.hasWriteEnd = true;
  }

  /** Makes sure [segment.size, end) is zero-filled (and durable) before records go there. */
  private async zeroAhead(segment: SegmentInfo, end: number): Promise<void> {
    if (!this.preallocate || end <= segment.zeroedTo) return;
    if (segment.zeroedTo < segment.size) assert(false, `zero fill of ${segment.path} at ${segment.zeroedTo} is behind the data end ${segment.size}`);
    const target = zeroFillTarget(segment.zeroedTo, end, this.segmentBytes);
    await writeZeros(this.handle, segment.path, segment.zeroedTo, target);
    segment.zeroedTo = target;
  }

  /**
   * Writes framed records at the end of the data, at most MAX_WRITE_BYTES per
   * write, each one durable (sync 'batch') before the next starts: a power loss
   * can then tear only the last write, which recovery relies on. Every write but the
   * last ends on a page boundary (so on a sector boundary too), so that no sector is
   * written by two of them (a torn sector then holds either what this batch put there
   * or zeros), and so that a sync 'none' file a kill cut between two of them ends where
   * a crash can leave a file: recovery refuses a file that ends inside a record anywhere
   * else (preallocation.ts, segment-tail.ts).
   */
  private async writeRecords(segment: SegmentInfo, bytes: Buffer): Promise<void> {
    if (this.preallocate && segment.size + bytes.length > segment.zeroedTo) {
      assert(false, `records up to ${segment.size + bytes.length} would pass the zero fill at ${segment.zeroedTo} of ${segment.path}`);
    }
    for (let done = 0; done < bytes.length;) {
      let chunk = Math.min(bytes.length - done, MAX_WRITE_BYTES);
      if (done + chunk < bytes.length) chunk -= (segment.size + chunk) % PAGE_BYTES;
      const { bytesWritten } = await this.handle.write(bytes, done, chunk, segment.size);
      if (bytesWritten <= 0) throw new Error(`write to ${segment.path} made no progress`);
      done += bytesWritten;
      segment.size += bytesWritten;
    }
    segment.zeroedTo = Math.max(segment.zeroedTo, segment.size);
  }

  /** Starts a new segment, beginning with the hard state as of the end of the previous one. */
  private async roll(batch: Batch, batchBytes: number): Promise<SegmentInfo> {
    const previous = this.segments[this.segments.length - 1]!;
    if (this.sync === 'none') await this.handle.datasync(); // a non-last segment is never torn
    const wanted = batch.firstEntryIndex > 0 ? batch.firstEntryIndex : Math.max(previous.maxEntryIndex + 1, 1);
    const name = Math.max(wanted, previous.name + 1);
    const path = join(this.dir, segmentFileName(name));
    const handle = await openSegmentForWrite(path, true, this.sync);
    await fsyncDir(this.dir);
    await this.handle.close();
    this.handle = handle;
    const segment: SegmentInfo = { name, path, size: 0, zeroedTo: 0, maxEntryIndex: -1, hasWriteEnd: false };
    this.segments.push(segment);
    const head = new FrameBuffer(256);
    head.add({ kind: 'hardState', state: this.loggedHardState });
    // One zero fill for the head and the batch that follows it.
    await this.zeroAhead(segment, sectorAlignUp(head.length + writeEndMaxBytes(head.length)) + batchBytes);
    await this.writeAlone(segment, head);
    return segment;
  }

  /**
   * Deletes the oldest segments whose entries are all at or below `index` (never
   * the segment being written). Only a prefix goes: replaying the remaining files
   * from the first one gives the same entries above `index`.
   */
  async deleteSegmentsUpTo(index: number): Promise<number> {
    const doomed: SegmentInfo[] = [];
    while (this.segments.length > 1 && this.segments[0]!.maxEntryIndex <= index) {
      doomed.push(this.segments.shift()!);
    }
    if (doomed.length === 0) return 0;
    for (const segment of doomed) await unlink(segment.path);
    await fsyncDir(this.dir);
    return doomed.length;
  }

  /** Flushes what is pending, then closes the file. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.failure === null) {
      while (this.flushing || this.pending.frames.length > 0) {
        await this.commit().catch(() => {});
        if (this.failure !== null) break;
      }
    }
    this.closed = true;
    await this.handle.close();
  }
}
