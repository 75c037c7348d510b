// Snapshots (paper §7, thesis ch. 5): the leader sends InstallSnapshot in chunks of
// snapshotChunkBytes, a bounded window of chunks in flight (snapshotInflightChunks), resuming
// at the offset the follower asks for; the follower assembles the chunks of one transfer and,
// once complete and verified against the CRC-32C the chunks carry, replaces its log with it.
//
// A transfer is pinned to the snapshot it started with (Progress.sendingSnapshot): the leader
// may take newer snapshots meanwhile, and restarting the transfer at each would never finish
// when sending takes longer than the snapshot interval. Once done, the follower catches up
// from the log (the leader keeps snapshotCatchUpEntries below its snapshots) or gets the next.
import { crc32c } from '@node-rs/crc32';
import type { InstallSnapshotRequest, InstallSnapshotResponse, Snapshot, SnapshotMeta } from './types.ts';
import type { Progress } from './progress.ts';
import { type RaftState, send } from './state.ts';
import { assert } from '../assert.ts';

export const DEFAULT_SNAPSHOT_INFLIGHT_CHUNKS = 4;
/** Heartbeat responses without any chunk acknowledged before the window is resent. */
const STALLED_HEARTBEATS = 2;

/** CRC-32C of a snapshot's data, computed once per snapshot object. */
const crcCache = new WeakMap<Snapshot, number>();
export function snapshotCrc(snapshot: Snapshot): number {
  let crc = crcCache.get(snapshot);
  if (crc === undefined) {
    crc = crc32c(snapshot.data);
    crcCache.set(snapshot, crc);
  }
  return crc;
}

// ---------------------------------------------------------------------------------------
// Leader side.

/**
 * Starts a transfer to a follower whose next entry we no longer hold, or, when one is under
 * way, sends what the window allows. Without snapshot data (restarted, snapshotTaken() not yet
 * called) the follower waits in probe.
 */
export function sendSnapshot(s: RaftState, pr: Progress): void {
  if (pr.state !== 'snapshot' || pr.sendingSnapshot === null) {
    const snapshot = s.snapshot;
    if (snapshot === null) return;
    pr.becomeSnapshot(snapshot);
  }
  fillWindow(s, pr);
}

/** Sends chunks from pr.snapshotSent while fewer than the window are unacknowledged. */
function fillWindow(s: RaftState, pr: Progress): void {
  const snapshot = pr.sendingSnapshot;
  assert(snapshot !== null, `no snapshot being sent to ${pr.id}`);
  const size = Math.max(1, s.config.snapshotChunkBytes);
  const window = Math.max(1, s.config.snapshotInflightChunks ?? DEFAULT_SNAPSHOT_INFLIGHT_CHUNKS);
  const total = snapshot.data.byteLength;
  const crc = snapshotCrc(snapshot);
  while (!pr.snapshotSentAll && pr.snapshotSent - pr.snapshotOffset < window * size) {
    const offset = pr.snapshotSent;
    assert(offset <= total, `snapshot offset ${offset} past its end`);
    const chunk = snapshot.data.subarray(offset, offset + size);
    const done = offset + chunk.byteLength >= total;
    const message: InstallSnapshotRequest = {
      type: 'InstallSnapshot',
      from: s.id,
      to: pr.id,
      term: s.term,
      meta: snapshot.meta,
      offset,
      chunk,
      done,
      crc32c: crc,
      size: total,
    };
    send(s, message);
    pr.snapshotChunkSent(offset + chunk.byteLength, done);
  }
}

/** Resends from offset `to` (chunks were lost, or the follower restarted). */
function rewind(s: RaftState, pr: Progress, to: number): void {
  pr.rewindSnapshot(to);
  fillWindow(s, pr);
}

export function handleInstallSnapshotResponse(s: RaftState, m: InstallSnapshotResponse): void {
  const pr = s.progress.get(m.from);
  if (!pr) return;
  pr.recentActive = true;
  if (m.done) {
    // The follower now holds everything up to the snapshot index.
    pr.maybeUpdate(m.snapshotIndex);
    // A late answer about an older snapshot must not end a transfer of a newer one.
    if (pr.state === 'snapshot' && m.snapshotIndex >= pr.pendingSnapshot) pr.becomeProbe();
    s.appendPending = true;
    return;
  }
  const snapshot = pr.sendingSnapshot;
  if (pr.state !== 'snapshot' || m.snapshotIndex !== pr.pendingSnapshot || snapshot === null) return;
  if (m.nextOffset > pr.snapshotOffset) {
    pr.snapshotAcked(Math.min(m.nextOffset, snapshot.data.byteLength));
    fillWindow(s, pr);
    return;
  }
  // The follower lost its partial copy (-1), or is missing the chunk at the offset it asks for
  // (a chunk of the window was lost, and the ones after it arrive out of order). Rewind once
  // per acknowledged offset: the other chunks of the window produce the same answer.
  if (m.nextOffset < 0) {
    if (pr.snapshotOffset === 0 && pr.snapshotRewoundAt === 0) return;
    rewind(s, pr, 0);
    return;
  }
  if (m.nextOffset < pr.snapshotOffset) {
    // Usually a late answer (reordered behind a newer one), so not resent at once; but it may
    // be the truth after a late copy of an old answer moved snapshotOffset past what the
    // follower holds (it restarted the transfer meanwhile). Remembered: the stall rewind in
    // snapshotHeartbeat resends from there, or the follower would ask for it forever.
    pr.snapshotAskedBelow(m.nextOffset);
    return;
  }
  if (pr.snapshotRewoundAt === pr.snapshotOffset) return; // this window was already resent
  rewind(s, pr, pr.snapshotOffset);
}

/** Leader, on a heartbeat response from a follower in snapshot state: resend the window only
 * when nothing was acknowledged for a while (lost chunks), not on every heartbeat. It resends
 * from the lowest offset the follower asked for meanwhile when that is below the acknowledged
 * one: resending from an offset past what the follower holds never makes progress. */
export function snapshotHeartbeat(s: RaftState, pr: Progress): void {
  if (pr.sendingSnapshot === null) {
    sendSnapshot(s, pr);
    return;
  }
  const outstanding = pr.snapshotSentAll || pr.snapshotSent > pr.snapshotOffset;
  if (outstanding && ++pr.snapshotStalls < STALLED_HEARTBEATS) return;
  rewind(s, pr, pr.snapshotResendFrom);
}

// ---------------------------------------------------------------------------------------
// Follower side.

/** A snapshot being assembled from the chunks of one transfer: one leader, in one term, of
 * one snapshot (index, term, CRC). Any other chunk starts a new receiver or is refused. */
export class SnapshotReceiver {
  private readonly chunks: Uint8Array[] = [];
  nextOffset = 0;
  /** Running CRC-32C of the bytes received so far. */
  private crc = 0;

  constructor(
    readonly from: number,
    readonly leaderTerm: number,
    readonly meta: SnapshotMeta,
    readonly expectedCrc: number | undefined,
    readonly expectedSize: number,
  ) {}

  matches(m: InstallSnapshotRequest): boolean {
    return (
      m.from === this.from &&
      m.term === this.leaderTerm &&
      m.meta.index === this.meta.index &&
      m.meta.term === this.meta.term &&
      m.crc32c === this.expectedCrc &&
      m.size === this.expectedSize
    );
  }

  /** Whether `chunk` still fits in the size the leader announced. */
  fits(chunk: Uint8Array): boolean {
    return this.nextOffset + chunk.byteLength <= this.expectedSize;
  }

  add(chunk: Uint8Array): void {
    // Copy: the chunk may be a view into a transport buffer that is reused.
    this.chunks.push(chunk.slice());
    this.nextOffset += chunk.byteLength;
    this.crc = crc32c(chunk, this.crc);
  }

  /** True when the data received has the size and CRC the leader announced (or none was sent). */
  verified(): boolean {
    return (
      (this.expectedSize === undefined || this.nextOffset === this.expectedSize) && (this.expectedCrc === undefined || this.crc === this.expectedCrc)
    );
  }

  assemble(): Uint8Array {
    const data = new Uint8Array(this.nextOffset);
    let at = 0;
    for (const c of this.chunks) {
      data.set(c, at);
      at += c.byteLength;
    }
    return data;
  }
}

function respond(s: RaftState, m: InstallSnapshotRequest, nextOffset: number, done: boolean): void {
  const response: InstallSnapshotResponse = {
    type: 'InstallSnapshotResponse',
    from: s.id,
    to: m.from,
    term: s.term,
    snapshotIndex: m.meta.index,
    nextOffset,
    done,
  };
  send(s, response);
}

export function handleInstallSnapshot(s: RaftState, m: InstallSnapshotRequest): void {
  const { index, term } = m.meta;
  // Bug switch snapshotDiscardsNewerEntries: install a snapshot whose last entry we hold, which
  // drops the entries after it that we may have acknowledged (§7: keep them).
  if (
    index <= s.log.committed ||
    (s.log.matchTerm(index, term) && index <= s.log.lastIndex() && s.config.bugs?.snapshotDiscardsNewerEntries !== true)
  ) {
    // We already hold this prefix (thesis 5.1: keep the entries that follow it). A receiver of
    // a snapshot it covers is of no use any more; one of a newer snapshot is a transfer under
    // way, and this chunk may be a late copy from an older one: dropping it would restart
    // that transfer from 0 (and its late answers then mislead the leader).
    s.log.commitTo(index);
    if (s.receiver !== null && s.receiver.meta.index <= index) s.receiver = null;
    respond(s, m, 0, true);
    return;
  }
  let r = s.receiver;
  if (r === null || !r.matches(m)) {
    if (m.offset !== 0) {
      respond(s, m, -1, false); // we have no partial copy of this transfer: restart from 0
      return;
    }
    r = s.receiver = new SnapshotReceiver(m.from, m.term, m.meta, m.crc32c, m.size);
  }
  if (m.offset !== r.nextOffset) {
    respond(s, m, r.nextOffset, false); // out of order or duplicate: ask for what we need
    return;
  }
  if (!r.fits(m.chunk)) {
    // More bytes than the leader announced: never assembled, never installed; start over.
    s.receiver = null;
    respond(s, m, -1, false);
    return;
  }
  r.add(m.chunk);
  if (!m.done) {
    respond(s, m, r.nextOffset, false);
    return;
  }
  s.receiver = null;
  if (!r.verified()) {
    // Corrupt or spliced data: never install it; start the transfer over.
    respond(s, m, -1, false);
    return;
  }
  restoreSnapshot(s, { meta: m.meta, data: r.assemble() });
  // Sent after the driver has persisted Ready.snapshot (same ready, persisted first).
  respond(s, m, r.nextOffset, true);
}

/** Replaces our log and configuration with a complete snapshot from the leader. */
function restoreSnapshot(s: RaftState, snapshot: Snapshot): void {
  // Until the driver applies it, it may still ask for the metadata of a snapshot at its
  // applied index (see RaftCore.snapshotMeta): remember it before the log is replaced.
  const applied = s.log.applied;
  const appliedTerm = s.log.term(applied);
  if (appliedTerm !== undefined) s.supersededApplied = { index: applied, term: appliedTerm, conf: s.conf.at(applied) };
  s.log.restore(snapshot);
  s.conf.restore(snapshot.meta.conf, snapshot.meta.index);
  s.snapshot = snapshot;
}
