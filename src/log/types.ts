// The durable log's contract. One implementation writes segment files (FileLog),
// one keeps everything in memory (MemoryLog) for tests and `open({ memory: true })`.
// The Raft log and the embedded store's write-ahead log are the same thing.
import type { Entry, HardState, Snapshot, SnapshotMeta, StoredEntries } from '../raft/types.ts';
import type { LatencyBuckets } from './latency-buckets.ts';
import type { SlowLogWrite } from './slow-writes.ts';

export type SyncMode = 'batch' | 'none';

/** Everything recovered from disk at open, enough to restart the Raft core or
 * replay the embedded store. Entries are those after the snapshot, in order. */
export interface RecoveredLog {
  readonly hardState: HardState;
  /** A FileLog answers until it installs a newer snapshot (which removes this one's file), after
   * which it lets it go. */
  readonly snapshot: Snapshot | null;
  /** Built on each read (recovery keeps the entries in compact form; see restartEntries);
   * a FileLog answers only until the first write, after which it lets them go. */
  readonly entries: readonly Entry[];
  /** Warnings raised during recovery (for example a torn tail that was truncated). */
  readonly warnings: readonly string[];
}

export interface LogStorage {
  /** State found at open. Valid until the first write. */
  readonly recovered: RecoveredLog;
  /** Index of the first entry still held (snapshot index + 1 when compacted). */
  firstIndex(): number;
  /** Index of the last entry appended (durable or not), or the snapshot index. */
  lastIndex(): number;
  /** Term of the entry at `index`, or undefined when not held (compacted or past the end).
   * The snapshot's own index answers with the snapshot's term. */
  term(index: number): number | undefined;
  /** Entries in [lo, hi), all held; throws a RangeError otherwise. */
  entries(lo: number, hi: number): Entry[];
  /** Every entry held, for a Raft core to restart from: right after open, a compact,
   * immutable view of what recovery read rather than an object per entry. */
  restartEntries(): readonly Entry[] | StoredEntries;
  /**
   * Appends entries whose indexes are consecutive. When the first index is at or
   * below lastIndex(), the suffix from there is dropped first (a conflicting
   * leader overwrote it). Resolves once the bytes are durable (sync 'batch');
   * calls made in the same turn of the event loop share one fdatasync.
   */
  append(entries: readonly Entry[]): Promise<void>;
  /** Records term, vote, commit; durable when the promise resolves. */
  setHardState(state: HardState): Promise<void>;
  /**
   * Records a hard state whose term and vote are those already recorded (a new commit index
   * alone), without a write of its own: it goes to disk with the next write, or at close.
   * The promise resolves once it is durable. A commit index need not be durable to be acted
   * on (after a crash it is learned again from the leader, or, alone, by committing the new
   * term's first entry): a disk flush per commit would put a second flush in the way of the
   * next entry's.
   */
  setCommitWithNextWrite(state: HardState): Promise<void>;
  hardState(): HardState;
  /**
   * Writes a snapshot file (temp name, fsync, rename, fsync dir), then drops log
   * entries up to meta.index and older snapshot files. Entries after meta.index
   * that agree with meta.term are kept; otherwise the whole log is discarded.
   */
  installSnapshot(meta: SnapshotMeta, data: Uint8Array): Promise<void>;
  /** The newest snapshot, or null. */
  snapshot(): Snapshot | null;
  /**
   * From now on the snapshot's bytes are not kept in memory (a log on disk; absent for one in
   * memory): `snapshot().data` and `recovered.snapshot.data` read its file again, verified, each
   * time they are asked for, and so do snapshots installed later. For a node that never sends
   * its snapshot (a group of one: the embedded database), which holds the state it describes
   * already; a node with followers keeps the bytes to send them without reading a file.
   */
  releaseSnapshotData?(): void;
  close(): Promise<void>;
  /** Sizes and write latency, for metrics (a log on disk; absent for one in memory). */
  stats?(): LogStats;
}

/** What a log on disk reports for metrics (GET /metrics, /cluster/metrics). */
export interface LogStats {
  /** Length of the segment files, preallocated zeros included: what the log holds on disk. */
  readonly segmentBytes: number;
  readonly segmentCount: number;
  /** Size of the newest snapshot (0: none). */
  readonly snapshotBytes: number;
  /** Time each write batch took to become durable (the fsync latency). */
  readonly syncLatency: LatencyBuckets;
  /** The newest write batches that took LOG_WRITE_SLOW_MS or longer, oldest first. */
  readonly slowWrites: readonly SlowLogWrite[];
}

export interface FileLogOptions {
  /** Data directory; the log lives in <dir>/log and snapshots in <dir>/snapshots. */
  readonly dir: string;
  readonly sync?: SyncMode;
  /** Bytes after which a new segment file is started. Default 64 MiB. */
  readonly segmentBytes?: number;
  /** Called with each recovery warning (default: none; they are also in `recovered.warnings`). */
  readonly onWarning?: (message: string) => void;
  /** Called for each write batch that took LOG_WRITE_SLOW_MS or longer to become durable. */
  readonly onSlowWrite?: (write: SlowLogWrite) => void;
}
