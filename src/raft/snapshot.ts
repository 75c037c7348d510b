// Snapshots (paper §7, thesis ch. 5): the leader sends InstallSnapshot in chunks of
// snapshotChunkBytes, one chunk at a time, resuming at the offset the follower asks for;
// the follower assembles the chunks and, once complete, replaces its log with the snapshot.
import type { InstallSnapshotRequest, InstallSnapshotResponse, Snapshot, SnapshotMeta } from './types.ts';
import type { Progress } from './progress.ts';
import { type RaftState, send } from './state.ts';
import { invariant } from './invariant.ts';

// ---------------------------------------------------------------------------------------
// Leader side.

/**
 * Starts (or, when already in snapshot state, repeats) the transfer to a follower whose
 * next entry we no longer hold. Called again on each heartbeat response, which is how a
 * dropped chunk is resent. Without snapshot data (restarted, snapshotTaken() not yet
 * called) the follower waits in probe.
 */
export function sendSnapshot(s: RaftState, pr: Progress): void {
  const snapshot = s.snapshot;
  if (snapshot === null) return;
  if (pr.state !== 'snapshot' || pr.pendingSnapshot !== snapshot.meta.index) {
    pr.becomeSnapshot(snapshot.meta.index);
  }
  sendChunk(s, pr, snapshot);
}

function sendChunk(s: RaftState, pr: Progress, snapshot: Snapshot): void {
  const size = Math.max(1, s.config.snapshotChunkBytes);
  const offset = pr.snapshotOffset;
  invariant(offset <= snapshot.data.byteLength, `snapshot offset ${offset} past its end`);
  const chunk = snapshot.data.subarray(offset, offset + size);
  const message: InstallSnapshotRequest = {
    type: 'InstallSnapshot',
    from: s.id,
    to: pr.id,
    term: s.term,
    meta: snapshot.meta,
    offset,
    chunk,
    done: offset + chunk.byteLength >= snapshot.data.byteLength,
  };
  send(s, message);
}

export function handleInstallSnapshotResponse(s: RaftState, m: InstallSnapshotResponse): void {
  const pr = s.progress.get(m.from);
  if (!pr) return;
  pr.recentActive = true;
  if (m.done) {
    // The follower now holds everything up to the snapshot index.
    pr.maybeUpdate(m.snapshotIndex);
    if (pr.state === 'snapshot') pr.becomeProbe();
    s.appendPending = true;
    return;
  }
  if (pr.state !== 'snapshot' || m.snapshotIndex !== pr.pendingSnapshot || s.snapshot === null) return;
  if (m.nextOffset < 0) {
    pr.snapshotOffset = 0; // the follower lost its partial copy: start over
  } else if (m.nextOffset > pr.snapshotOffset) {
    pr.snapshotOffset = m.nextOffset;
  } else {
    return; // duplicate or stale answer; a heartbeat response will resend if needed
  }
  sendSnapshot(s, pr);
}

// ---------------------------------------------------------------------------------------
// Follower side.

/** A snapshot being assembled from chunks; only one at a time. */
export class SnapshotReceiver {
  private readonly chunks: Uint8Array[] = [];
  nextOffset = 0;

  constructor(readonly meta: SnapshotMeta) {}

  add(chunk: Uint8Array): void {
    // Copy: the chunk may be a view into a transport buffer that is reused.
    this.chunks.push(chunk.slice());
    this.nextOffset += chunk.byteLength;
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
  if (index <= s.log.committed || (s.log.matchTerm(index, term) && index <= s.log.lastIndex())) {
    // We already hold this prefix (thesis 5.1: keep the entries that follow it).
    s.log.commitTo(index);
    s.receiver = null;
    respond(s, m, 0, true);
    return;
  }
  let r = s.receiver;
  const same = r !== null && r.meta.index === index && r.meta.term === term;
  if (m.offset === 0 && !(same && r!.nextOffset > 0)) {
    r = s.receiver = new SnapshotReceiver(m.meta);
  } else if (!same) {
    respond(s, m, -1, false); // we have no partial copy of this snapshot: restart from 0
    return;
  }
  invariant(r !== null, 'snapshot receiver missing');
  if (m.offset !== r.nextOffset) {
    respond(s, m, r.nextOffset, false); // out of order or duplicate: ask for what we need
    return;
  }
  r.add(m.chunk);
  if (!m.done) {
    respond(s, m, r.nextOffset, false);
    return;
  }
  s.receiver = null;
  restoreSnapshot(s, { meta: m.meta, data: r.assemble() });
  // Sent after the driver has persisted Ready.snapshot (same ready, persisted first).
  respond(s, m, r.nextOffset, true);
}

/** Replaces our log and configuration with a complete snapshot from the leader. */
function restoreSnapshot(s: RaftState, snapshot: Snapshot): void {
  s.log.restore(snapshot);
  s.conf.restore(snapshot.meta.conf, snapshot.meta.index);
  s.snapshot = snapshot;
}
