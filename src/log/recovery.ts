// Recovery at open: load the newest valid snapshot, replay every segment in
// order into an EntryLog (later records for earlier indexes overwrite the
// suffix; snapshot markers compact), accept the zeros after the data (segments
// are zero-filled ahead), truncate a torn tail of the last segment, and refuse to
// open on corruption anywhere else (segment-tail.ts says which is which).
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assert } from '../assert.ts';
import type { Entry, HardState, Snapshot } from '../raft/types.ts';
import { EMPTY_HARD_STATE } from '../raft/types.ts';
import { EntryLog } from './entry-log.ts';
import { LogCorruptionError, LogReadError } from './errors.ts';
import { sectorAlignUp, type LogRecord } from './record.ts';
import { walkRecords } from './record-scanner.ts';
import { listDir, SEGMENT_NAME, SNAPSHOT_NAME, SNAPSHOT_TEMP_NAME, type LogDirs } from './segment-files.ts';
import type { SegmentInfo } from './segment-writer.ts';
import { judgeTail } from './segment-tail.ts';
import { readSnapshotFile, removeFile } from './snapshot-file.ts';

export interface RecoveryResult {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  readonly log: EntryLog;
  /** Segments oldest first, data sizes and file lengths after any tail truncation. Empty when there are none yet. */
  readonly segments: SegmentInfo[];
  readonly warnings: string[];
}

/** Loads the newest snapshot whose checksum is valid; deletes leftover temp files. */
async function recoverSnapshot(dirs: LogDirs, warn: (message: string) => void): Promise<Snapshot | null> {
  const names = await listDir(dirs.snapshots);
  const snapshots: { name: string; index: number; term: number }[] = [];
  for (const name of names) {
    const match = SNAPSHOT_NAME.exec(name);
    if (match !== null) {
      snapshots.push({ name, index: Number(match[1]), term: Number(match[2]) });
    } else if (SNAPSHOT_TEMP_NAME.test(name)) {
      await removeFile(join(dirs.snapshots, name));
      warn(`removed unfinished snapshot file ${join(dirs.snapshots, name)}`);
    } else {
      const path = join(dirs.snapshots, name);
      throw new LogCorruptionError(path, 0, `unexpected file ${path} in the snapshot directory; refusing to open`, { kind: 'stray' });
    }
  }
  snapshots.sort((a, b) => b.index - a.index || b.term - a.term);
  const bad: string[] = [];
  for (const candidate of snapshots) {
    const path = join(dirs.snapshots, candidate.name);
    const result = await readSnapshotFile(path, candidate.name);
    if (typeof result !== 'string') {
      for (const message of bad) warn(`${message}; using the older snapshot ${path}`);
      return result;
    }
    bad.push(`snapshot file ${path} is corrupt (${result})`);
  }
  const newest = snapshots[0];
  if (newest !== undefined) {
    throw new LogCorruptionError(join(dirs.snapshots, newest.name), 0, `${bad.join('; ')}; no valid snapshot to recover from`, {
      kind: 'snapshot',
    });
  }
  return null;
}

function listSegments(dirs: LogDirs, names: readonly string[]): SegmentInfo[] {
  const segments: SegmentInfo[] = [];
  for (const name of names) {
    const path = join(dirs.log, name);
    const match = SEGMENT_NAME.exec(name);
    if (match === null) throw new LogCorruptionError(path, 0, `unexpected file ${path} in the log directory; refusing to open`, { kind: 'stray' });
    const first = Number(match[1]);
    // The writer names each segment after an index (segment-writer.ts): never beyond the safe integers.
    if (!Number.isSafeInteger(first))
      throw new LogCorruptionError(path, 0, `segment file name ${name} is not an index the log writes`, { kind: 'stray' });
    segments.push({ name: first, path, size: 0, zeroedTo: 0, maxEntryIndex: -1, hasWriteEnd: false });
  }
  return segments; // names are zero-padded: lexical order is numeric order
}

/** Where a record was read: its segment file and byte offset. */
interface RecordPlace {
  readonly file: string;
  readonly offset: number;
}

/** Replays records into the log, tracking the latest hard state. */
class Replayer {
  readonly log = new EntryLog();
  hardState: HardState = EMPTY_HARD_STATE;
  /** Where the latest hard state was read (null: none was). */
  private hardStatePlace: RecordPlace | null = null;
  private started = false;
  /** An entry was replayed (a marker alone may start the log: see startAt). */
  private entrySeen = false;
  /** The segment before the one being replayed, until the latter's first entry is read. */
  private previousSegment: { readonly file: string; readonly end: number } | null = null;
  /** Where the compaction point was last set: the first entry read (the log starts
   * right before it) or the latest snapshot marker (null: neither yet). */
  private compactionPlace: RecordPlace | null = null;

  constructor(
    private readonly snapshotIndex: number,
    private readonly snapshotTerm: number,
  ) {}

  /** A new segment begins; `previous` is the one replayed before it (its path and where its records end). */
  beginSegment(previous: { readonly file: string; readonly end: number } | null): void {
    this.previousSegment = previous;
  }

  apply(record: LogRecord, file: string, offset: number): void {
    switch (record.kind) {
      case 'hardState':
        this.hardState = record.state;
        this.hardStatePlace = { file, offset };
        return;
      case 'entry':
        this.applyEntry(record.entry, file, offset);
        return;
      case 'snapshotMarker': {
        const { index, term, keep } = record.marker;
        this.started = true;
        const compacted = this.log.compactedIndex();
        if (!keep) {
          this.log.applyCompaction(index, term, false);
        } else if (index <= this.snapshotIndex) {
          this.log.applyCompaction(index, term, true);
        } else {
          // The snapshot file of this marker is unreadable and an older one was
          // loaded: keep the entries between the two if the log still has them.
          this.log.applyCompaction(this.snapshotIndex, this.snapshotTerm, true);
        }
        if (this.log.compactedIndex() !== compacted) this.compactionPlace = { file, offset };
        return;
      }
      case 'writeEnd':
        return; // only recovery's judgement of a damaged tail reads these (segment-tail.ts)
    }
  }

  private applyEntry(entry: Entry, file: string, offset: number): void {
    this.startAt(entry.index, file, offset);
    this.log.appendOne(entry);
  }

  /** An entry in the usual form: kept compact, its data left in the segment buffer. */
  applyStored(
    index: number,
    term: number,
    typeCode: number,
    buffer: Uint8Array,
    dataStart: number,
    dataLength: number,
    file: string,
    offset: number,
  ): void {
    this.startAt(index, file, offset);
    this.log.appendStored(index, term, typeCode, buffer, dataStart, dataLength);
  }

  private startAt(index: number, file: string, offset: number): void {
    // Older segments may have been deleted after a snapshot: the log starts at the first entry.
    // So also when only a snapshot marker came before it: a marker below the last entry may open
    // a segment (its batch rolled the segment) whose first entries followed entries of the
    // segment before, which a later snapshot deleted (found by review: the log refused to open).
    const markerThenLaterEntry = this.started && !this.entrySeen && index > this.log.lastIndex() + 1;
    // An entry at or below where the log starts: written when older segments still held the
    // entries before it, it overwrote everything after it, including entries of a segment kept
    // past a snapshot that deleted the ones before (found by review: a new leader's removed
    // entries came back). The log starts again here, as it did when this entry was written.
    const rewritesBelowStart = this.started && index <= this.log.compactedIndex();
    if (!this.started || markerThenLaterEntry || rewritesBelowStart) {
      this.log.restartAt(index - 1, 0);
      this.started = true;
      this.compactionPlace = { file, offset };
    }
    this.entrySeen = true;
    const previous = this.previousSegment;
    this.previousSegment = null;
    if (index > this.log.lastIndex() + 1) {
      const last = this.log.lastIndex();
      if (previous !== null) {
        // The first entry of a segment: the one before it ends early. Named at its end, since
        // what to do is keep the log up to there (a segment cut short, or one between them gone).
        throw new LogCorruptionError(
          previous.file,
          previous.end,
          `its records end at index ${last} but the next segment ${file} begins with entry ${index} (which leaves a gap after index ${last}): ` +
            `entries ${last + 1} to ${index - 1} are missing, so this segment was cut short or a segment after it is gone (a crash only ever cuts the last segment)`,
        );
      }
      throw new LogCorruptionError(file, offset, `entry ${index} leaves a gap after index ${last}`);
    }
  }

  /**
   * Compacts to the loaded snapshot and checks what the log must hold to restart from:
   * every entry after the snapshot, up to the commit index of the hard state.
   */
  finish(): void {
    const compacted = this.log.compactedIndex();
    if (compacted > this.snapshotIndex) {
      const place = this.compactionPlace;
      assert(place !== null, `log compacted to ${compacted} before any entry or snapshot marker was read`);
      throw new LogCorruptionError(
        place.file,
        place.offset,
        `the log starts after index ${compacted} but the newest readable snapshot ends at index ${this.snapshotIndex}: entries are missing`,
      );
    }
    if (compacted === this.snapshotIndex) this.log.applyCompaction(this.snapshotIndex, this.snapshotTerm, true);
    else this.log.compact(this.snapshotIndex, this.snapshotTerm);
    // Entries are durable before the hard state that commits them, and a cut tail loses the
    // records after the cut only: a commit index past the last entry means entries were lost
    // some other way (a segment removed or cut short by hand, a snapshot gone).
    const { commit } = this.hardState;
    if (commit > this.log.lastIndex()) {
      const place = this.hardStatePlace;
      assert(place !== null, `commit index ${commit} without a hard state record`);
      throw new LogCorruptionError(
        place.file,
        place.offset,
        `the hard state written here commits index ${commit}, but the log recovered ends at index ${this.log.lastIndex()}: committed entries are missing`,
      );
    }
  }
}

/** The bytes of a segment file; one that cannot be read at all stops the open (LogReadError). */
async function readSegment(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new LogReadError(path, error);
  }
}

/** Cuts the file at `offset`, then zero-extends it to `length` (>= offset). */
async function truncateTail(path: string, offset: number, length: number): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.truncate(offset);
    if (length > offset) await handle.truncate(length);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function recover(dirs: LogDirs, warn: (message: string) => void): Promise<RecoveryResult> {
  const warnings: string[] = [];
  const record = (message: string): void => {
    warnings.push(message);
    warn(message);
  };
  const snapshot = await recoverSnapshot(dirs, record);
  const replayer = new Replayer(snapshot?.meta.index ?? 0, snapshot?.meta.term ?? 0);
  const segments = listSegments(dirs, await listDir(dirs.log));
  // Read the next segment while decoding this one.
  let previousEnd = 0;
  let nextRead: Promise<Buffer> | null = segments.length > 0 ? readSegment(segments[0]!.path) : null;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const isLast = i === segments.length - 1;
    const buf = await nextRead!;
    nextRead = isLast ? null : readSegment(segments[i + 1]!.path);
    nextRead?.catch(() => {}); // awaited next iteration; do not report it twice if we throw first
    // Where the write after the last writeEnd walked began (null: no writeEnd yet).
    let lastWriteStart: number | null = null;
    const previous = segments[i - 1];
    replayer.beginSegment(previous === undefined ? null : { file: previous.path, end: previousEnd });
    const result = walkRecords(buf, {
      entry(index, term, typeCode, dataStart, dataLength, offset) {
        if (index > segment.maxEntryIndex) segment.maxEntryIndex = index;
        replayer.applyStored(index, term, typeCode, buf, dataStart, dataLength, segment.path, offset);
      },
      record(rec, offset, end) {
        if (rec.kind === 'writeEnd') lastWriteStart = sectorAlignUp(end);
        if (rec.kind === 'entry') segment.maxEntryIndex = Math.max(segment.maxEntryIndex, rec.entry.index);
        replayer.apply(rec, segment.path, offset);
      },
    });
    segment.size = result.end;
    // Where its records end, for a gap found at the next segment's start: within the file (the
    // walk's end lies past it when the file ends inside the padding after a writeEnd).
    previousEnd = Math.min(result.end, buf.length);
    // past the bytes when a file written without zero fill ends inside a write's padding
    segment.zeroedTo = Math.max(buf.length, result.end);
    segment.hasWriteEnd = lastWriteStart !== null; // before any cut: only records before it were walked
    if (result.stop === null) continue;
    const verdict = judgeTail(buf, segment.path, result.stop, isLast, lastWriteStart);
    if (verdict.kind === 'clean') continue;
    // Cut the file at the data end: the writer zero-fills ahead again from there,
    // so the bytes after the data are zeros as it expects. Damage in the padding after
    // a writeEnd is cut too, but the next write still begins on the sector boundary,
    // where the walk looks for it.
    const cut = result.stop.offset;
    const resume = result.stop.reason === 'bad-padding' ? sectorAlignUp(cut) : cut;
    await truncateTail(segment.path, cut, resume);
    segment.size = resume;
    segment.zeroedTo = resume;
    record(verdict.warning);
  }
  replayer.finish();
  return { hardState: replayer.hardState, snapshot, log: replayer.log, segments, warnings };
}
