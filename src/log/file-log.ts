// The durable log: segment files under <dir>/log, snapshot files under
// <dir>/snapshots. The entries since the snapshot are kept in memory so that
// reads are synchronous; every mutation updates memory at the call and frames a
// record for the group-commit writer, whose promise resolves once it is durable.
import { join } from 'node:path';
import type { Entry, HardState, Snapshot, SnapshotMeta, StoredEntries } from '../raft/types.ts';
import type { FileLogOptions, LogStats, LogStorage, RecoveredLog, SyncMode } from './types.ts';
import type { EntryLog } from './entry-log.ts';
import { LogClosedError } from './errors.ts';
import { LogReader } from './log-reader.ts';
import { assertSameTermAndVote, assertValidEntry, assertValidHardState } from './record.ts';
import { entriesOf } from './compact-entries.ts';
import { recover, type RecoveryResult } from './recovery.ts';
import { ensureWritableDir, fsyncDir, listDir, logDirs, openSegmentForWrite, segmentFileName, SNAPSHOT_NAME, type LogDirs } from './segment-files.ts';
import { SegmentWriter, type SegmentInfo } from './segment-writer.ts';
import { fileBackedSnapshot, removeFile, writeSnapshotFile } from './snapshot-file.ts';
import { assertValidSnapshotMeta } from './snapshot-meta.ts';

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;

export async function openFileLog(options: FileLogOptions): Promise<LogStorage> {
  return FileLog.open(options);
}

export class FileLog extends LogReader implements LogStorage {
  readonly recovered: RecoveredLog;
  private readonly dirs: LogDirs;
  protected readonly log: EntryLog;
  private readonly writer: SegmentWriter;
  protected hard: HardState;
  protected snap: Snapshot | null;
  /** Snapshot installs run one at a time, in call order. */
  private snapshotChain: Promise<void> = Promise.resolve();
  private closing: Promise<void> | null = null;

  /** What recovery read (immutable), behind `recovered.entries` until the first write: after
   * it the log may drop those entries, and nothing here should keep them in memory. */
  private recoveredEntries: readonly Entry[] | StoredEntries | null;
  /** A snapshot was installed since the log was opened: it removed the recovered one's file, and
   * `recovered.snapshot` (until then the newest, `snap`) is no longer available. */
  private installedSinceOpen = false;
  /** Whether snapshots keep their bytes in memory (releaseSnapshotData). */
  private keepSnapshotData = true;
  /** Size of the newest snapshot's data (its bytes may be in its file only). */
  private snapBytes: number;

  private constructor(dirs: LogDirs, result: RecoveryResult, writer: SegmentWriter) {
    super();
    this.dirs = dirs;
    this.log = result.log;
    this.writer = writer;
    this.hard = result.hardState;
    this.snap = result.snapshot;
    this.snapBytes = result.snapshot?.data.byteLength ?? 0;
    this.recoveredEntries = result.log.restartEntries();
    const recoveredEntries = (): readonly Entry[] => {
      if (this.recoveredEntries === null) throw new Error('recovered.entries is only available until the first write to the log');
      return entriesOf(this.recoveredEntries);
    };
    const recoveredSnapshot = (): Snapshot | null => {
      if (this.installedSinceOpen) throw new Error('recovered.snapshot is only available until a snapshot is installed');
      return this.snap;
    };
    this.recovered = {
      hardState: result.hardState,
      get snapshot(): Snapshot | null {
        return recoveredSnapshot();
      },
      get entries(): readonly Entry[] {
        return recoveredEntries();
      },
      warnings: result.warnings,
    };
  }

  static async open(options: FileLogOptions): Promise<FileLog> {
    const sync: SyncMode = options.sync ?? 'batch';
    const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    if (!Number.isSafeInteger(segmentBytes) || segmentBytes < 1024)
      throw new RangeError(`segmentBytes must be an integer >= 1024, got ${segmentBytes}`);
    const dirs = logDirs(options.dir);
    await ensureWritableDir(dirs.root);
    await ensureWritableDir(dirs.log);
    await ensureWritableDir(dirs.snapshots);
    const warn = options.onWarning ?? (() => {});
    const result = await recover(dirs, warn);
    const segments: SegmentInfo[] = result.segments;
    if (segments.length === 0) {
      const name = result.log.lastIndex() + 1;
      const path = join(dirs.log, segmentFileName(name));
      await (await openSegmentForWrite(path, true, 'none')).close();
      await fsyncDir(dirs.log);
      segments.push({ name, path, size: 0, zeroedTo: 0, maxEntryIndex: -1, hasWriteEnd: false });
    }
    const handle = await openSegmentForWrite(segments[segments.length - 1]!.path, false, sync);
    const writer = new SegmentWriter({
      dir: dirs.log,
      sync,
      segmentBytes,
      segments,
      handle,
      hardState: result.hardState,
      ...(options.onSlowWrite !== undefined ? { onSlowWrite: options.onSlowWrite } : {}),
    });
    return new FileLog(dirs, result, writer);
  }

  append(entries: readonly Entry[]): Promise<void> {
    try {
      this.checkOpen();
      this.wrote();
      for (const entry of entries) assertValidEntry(entry);
      const added = this.log.append(entries);
      for (const entry of added) this.writer.add({ kind: 'entry', entry });
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return this.writer.commit();
  }

  setHardState(state: HardState): Promise<void> {
    try {
      this.recordHardState(state);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return this.writer.commit();
  }

  setCommitWithNextWrite(state: HardState): Promise<void> {
    try {
      assertSameTermAndVote(this.hard, state);
      this.recordHardState(state);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return this.writer.withNextWrite();
  }

  /** Adds a hard-state record to the pending batch (written by the caller's commit or withNextWrite). */
  private recordHardState(state: HardState): void {
    this.checkOpen();
    assertValidHardState(state);
    const copy: HardState = { term: state.term, vote: state.vote, commit: state.commit };
    this.writer.add({ kind: 'hardState', state: copy });
    this.hard = copy;
  }

  installSnapshot(meta: SnapshotMeta, data: Uint8Array): Promise<void> {
    try {
      this.checkOpen();
      this.checkSnapshotIsNewer(meta);
      if (!(data instanceof Uint8Array)) throw new TypeError('snapshot data must be a Uint8Array');
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const run = this.snapshotChain.then(() => this.doInstallSnapshot(meta, data));
    this.snapshotChain = run.catch(() => {});
    return run;
  }

  private async doInstallSnapshot(meta: SnapshotMeta, data: Uint8Array): Promise<void> {
    this.writer.checkWritable();
    this.checkSnapshotIsNewer(meta); // again: an earlier install in the chain may have passed it
    const path = await writeSnapshotFile(this.dirs.snapshots, meta, data);
    try {
      this.writer.checkWritable();
    } catch (error) {
      await removeFile(path);
      throw error;
    }
    // From here on, memory and the log record change together, in call order.
    this.wrote();
    const keep = this.log.compact(meta.index, meta.term);
    this.writer.add({ kind: 'snapshotMarker', marker: { index: meta.index, term: meta.term, keep } });
    this.snap = this.keepSnapshotData ? { meta, data } : fileBackedSnapshot(this.dirs.snapshots, meta);
    // The recovered snapshot's file goes below; its bytes are not kept for anyone any more.
    this.installedSinceOpen = true;
    this.snapBytes = data.byteLength;
    await this.writer.commit();
    await this.writer.deleteSegmentsUpTo(meta.index);
    await this.removeOlderSnapshots(meta);
  }

  releaseSnapshotData(): void {
    this.keepSnapshotData = false;
    if (this.snap !== null) this.snap = fileBackedSnapshot(this.dirs.snapshots, this.snap.meta);
  }

  private checkSnapshotIsNewer(meta: SnapshotMeta): void {
    assertValidSnapshotMeta(meta);
    const current = this.snap?.meta.index ?? 0;
    if (meta.index <= current) {
      throw new RangeError(`snapshot at index ${meta.index} is not newer than the current one at index ${current}`);
    }
  }

  private async removeOlderSnapshots(meta: SnapshotMeta): Promise<void> {
    let removed = false;
    for (const name of await listDir(this.dirs.snapshots)) {
      const match = SNAPSHOT_NAME.exec(name);
      if (match === null) continue;
      if (Number(match[1]) === meta.index && Number(match[2]) === meta.term) continue;
      await removeFile(join(this.dirs.snapshots, name));
      removed = true;
    }
    if (removed) await fsyncDir(this.dirs.snapshots);
  }

  /** The entries changed: `recovered.entries` lets what recovery read go. */
  private wrote(): void {
    this.recoveredEntries = null;
  }

  private checkOpen(): void {
    if (this.closing !== null) throw new LogClosedError(`log is closed: ${this.dirs.root}`);
    this.writer.checkWritable();
  }

  /** Flushes pending writes (and waits for a snapshot install in progress), then closes the files. */
  close(): Promise<void> {
    if (this.closing === null) {
      this.closing = (async () => {
        await this.snapshotChain;
        await this.writer.close();
      })();
    }
    return this.closing;
  }

  stats(): LogStats {
    let segmentBytes = 0;
    const segments = this.writer.segmentList();
    for (const segment of segments) segmentBytes += Math.max(segment.size, segment.zeroedTo);
    return {
      segmentBytes,
      segmentCount: segments.length,
      snapshotBytes: this.snap === null ? 0 : this.snapBytes,
      syncLatency: this.writer.syncLatency,
      slowWrites: this.writer.slowWrites.list(),
    };
  }

  /** Segment files currently in use, oldest first (for tests and status pages). */
  segmentPaths(): string[] {
    return this.writer.segmentList().map((segment) => segment.path);
  }
}
