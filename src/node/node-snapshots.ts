// Snapshots this node takes of its applied state, to keep the log short: when one is
// due, taking it in the background, writing it (one snapshot file at a time), and
// handing it to the core between two Ready cycles. A snapshot that cannot be written (a
// read-only or full disk) does not stop the node: the log only stays longer. The failure is
// logged and shown in /cluster/status, and retried later (backing off), or at once on request.
import type { Logger } from 'pino';
import { assert } from '../assert.ts';
import type { LogStorage } from '../log/types.ts';
import type { RaftCore } from '../raft/index.ts';
import type { Snapshot } from '../raft/types.ts';
import { snapshotParts } from '../store/snapshot.ts';
import type { Store } from '../store/store.ts';
import { StoreError } from '../store/errors.ts';
import type { SnapshotHealth } from './backend.ts';
import { nextTurn } from './node-waiting.ts';

/** The first automatic retry after a failed snapshot waits this long; each failure doubles it. */
export const SNAPSHOT_RETRY_MIN_MS = 1_000;
/** ...up to this: a disk that stays full is tried again once a minute, not at every apply. */
export const SNAPSHOT_RETRY_MAX_MS = 60_000;

/**
 * Whether `error` is the file system refusing (ENOSPC, EROFS, EACCES, EIO, EDQUOT...): a
 * system error of node:fs has a string code of this form. Anything else (a broken
 * invariant, the log stopped by a failed write) still stops the node.
 */
export function isStorageError(error: unknown): error is Error & { readonly code: string } {
  if (!(error instanceof Error)) return false;
  const code: unknown = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code);
}

/** What snapshots need from the node that drives the core. */
export interface SnapshotHost {
  readonly snapshotThreshold: number;
  readonly log: Pick<LogStorage, 'snapshot' | 'installSnapshot'>;
  readonly logger: Logger;
  /** The core (made with the node: never missing). */
  core(): Pick<RaftCore, 'snapshotMeta' | 'snapshotTaken'>;
  /** The applied state (replaced when a snapshot from the leader is installed). */
  store(): Store;
  isClosed(): boolean;
  /** Whether a Ready cycle is running now (the core is handed snapshots only between two). */
  isProcessing(): boolean;
  guarded<T>(call: () => T): T;
  stopOnFatal(error: unknown): void;
  /** A snapshot of this node's own was written (metrics and cluster events). */
  snapshotTaken?(index: number, bytes: number): void;
}

export class NodeSnapshots {
  /** The snapshot being encoded and written in the background, if any. */
  private snapshotJob: Promise<number> | null = null;
  private snapshotWrites: Promise<void> = Promise.resolve();
  /** A snapshot written to disk, waiting to be handed to the core between two Ready cycles. */
  private snapshotForCore: Snapshot | null = null;
  private lastSnapshotIndex: number;
  /** The last log index found at start: entries up to it are replayed, not snapshotted along the way. */
  private readonly recoveredLastIndex: number;
  /** The latest snapshot failure since the last success (null: none). */
  private lastError: { readonly message: string; readonly at: string } | null = null;
  /** Failures in a row since the last success. */
  private failures = 0;
  /** No automatic snapshot before this time (ms since the epoch), after a failure. */
  private retryNotBeforeMs = 0;

  /** `lastIndex`: the index of the snapshot found at start (0 if none); `recoveredLastIndex`: see the field. */
  constructor(
    private readonly host: SnapshotHost,
    lastIndex: number,
    recoveredLastIndex: number,
  ) {
    this.lastSnapshotIndex = lastIndex;
    this.recoveredLastIndex = recoveredLastIndex;
  }

  /** The index of the last snapshot taken or installed. */
  get lastIndex(): number {
    return this.lastSnapshotIndex;
  }

  /** Records a snapshot from the leader, installed by the Ready loop: a snapshot file was written. */
  installed(index: number): void {
    this.lastSnapshotIndex = index;
    this.succeeded();
  }

  /** For /cluster/status: the last failure since the last success, and how many in a row. */
  health(): SnapshotHealth {
    return { lastError: this.lastError, failures: this.failures, lastSuccessIndex: this.lastSnapshotIndex };
  }

  /** Takes a snapshot now (after the one running, if any). Waits for two jobs at most: the
   * running one, then ours (or one started meanwhile, which captures a state as new).
   * A snapshot the disk refuses rejects with STORAGE_FAILED; the node goes on serving. */
  async take(): Promise<{ index: number; bytes: number }> {
    if (this.snapshotJob !== null) await this.snapshotJob.catch(() => 0);
    let bytes: number;
    try {
      bytes = await this.startSnapshot();
    } catch (error) {
      if (!isStorageError(error)) throw error;
      throw new StoreError(
        'STORAGE_FAILED',
        `the snapshot could not be written: ${error.message}; the node goes on serving, its log is not compacted until a snapshot succeeds`,
      );
    }
    return { index: this.lastSnapshotIndex, bytes };
  }

  private succeeded(): void {
    this.lastError = null;
    this.failures = 0;
    this.retryNotBeforeMs = 0;
  }

  /** A snapshot the file system refused: logged, shown in the status, retried after a backoff. */
  private failed(error: Error): void {
    this.failures++;
    const at = Date.now();
    this.lastError = { message: error.message, at: new Date(at).toISOString() };
    const backoffMs = Math.min(SNAPSHOT_RETRY_MAX_MS, SNAPSHOT_RETRY_MIN_MS * 2 ** Math.min(this.failures - 1, 16));
    this.retryNotBeforeMs = at + backoffMs;
    this.host.logger.error(
      { err: error, failures: this.failures, retryInMs: backoffMs },
      'snapshot failed; the node goes on serving, its log is not compacted until a snapshot succeeds',
    );
  }

  /**
   * A snapshot every `snapshotThreshold` applied entries keeps the log short. Not while
   * replaying the log found at start: those entries are on disk already, and a snapshot
   * every threshold of a growing state would cost more than the replay (one is taken at the end).
   */
  private snapshotDue(): boolean {
    const applied = this.host.store().lastApplied;
    return (
      !this.host.isClosed() &&
      this.host.snapshotThreshold > 0 &&
      applied >= this.recoveredLastIndex &&
      applied - this.lastSnapshotIndex >= this.host.snapshotThreshold &&
      Date.now() >= this.retryNotBeforeMs
    );
  }

  /** Snapshot files are written one at a time: ours in the background, the leader's in a Ready. */
  writeSnapshot<T>(write: () => Promise<T>): Promise<T> {
    const result = this.snapshotWrites.then(write);
    this.snapshotWrites = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /**
   * Takes a snapshot of the applied state in the background: the capture is instant (it
   * holds references to immutable documents), the encoding yields to the event loop between
   * parts, so heartbeats, votes and writes go on meanwhile (a 1,000,000-document encoding in
   * one piece would stall the node for longer than an election timeout).
   */
  private startSnapshot(): Promise<number> {
    if (this.snapshotJob !== null) return this.snapshotJob;
    const job = this.takeSnapshot()
      .catch((error: unknown) => {
        if (isStorageError(error) && !this.host.isClosed()) this.failed(error);
        throw error;
      })
      .finally(() => {
        this.snapshotJob = null;
      });
    this.snapshotJob = job;
    return job;
  }

  private async takeSnapshot(): Promise<number> {
    const host = this.host;
    // Captured on the next turn of the event loop, not inside the Ready cycle that made it
    // due: whoever waits for that cycle (open() after a replay) goes on first.
    await nextTurn();
    if (host.isClosed()) return 0;
    const capture = host.store().captureSnapshot();
    const index = capture.lastApplied;
    if (index <= this.lastSnapshotIndex) return 0;
    const meta = host.core().snapshotMeta(index);
    assert(meta.index === index, `the core described snapshot ${index} as ${meta.index}`);
    const parts: Uint8Array[] = [];
    let bytes = 0;
    for (const part of snapshotParts(capture)) {
      parts.push(part);
      bytes += part.byteLength;
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (host.isClosed()) return 0;
    }
    const data = Buffer.concat(parts, bytes);
    const written = await this.writeSnapshot(async () => {
      // Closing, or a snapshot received from the leader meanwhile is newer (compared with what
      // is on disk, not with a field another continuation updates): this one is not needed.
      if (host.isClosed() || index <= (host.log.snapshot()?.meta.index ?? 0)) return false;
      await host.log.installSnapshot(meta, data);
      return true;
    });
    if (!written) return 0;
    this.lastSnapshotIndex = index;
    this.succeeded();
    host.logger.info({ index, bytes: data.byteLength }, 'snapshot taken, log compacted');
    host.snapshotTaken?.(index, data.byteLength);
    // The core takes it between two Ready cycles, never in the middle of one: as the log holds
    // it (its bytes in memory, or in its file when released: LogStorage.releaseSnapshotData).
    const held = host.log.snapshot();
    this.snapshotForCore = held !== null && held.meta.index === index ? held : { meta, data };
    if (!host.isProcessing()) this.maintain();
    return data.byteLength;
  }

  /** Between Ready cycles: hands a written snapshot to the core (which then compacts its
   * in-memory log and can send it to followers), and starts the next one when due. */
  maintain(): void {
    const taken = this.snapshotForCore;
    if (taken !== null) {
      this.snapshotForCore = null;
      this.host.guarded(() => this.host.core().snapshotTaken(taken));
    }
    if (this.snapshotDue() && this.snapshotJob === null) {
      this.startSnapshot().catch((error: unknown) => {
        // A refusal of the file system was recorded (failed()); anything else is a bug, or the
        // log stopped after a failed write: the node stops as on any fatal error.
        if (!this.host.isClosed() && !isStorageError(error)) this.host.stopOnFatal(error);
      });
    }
  }
}
