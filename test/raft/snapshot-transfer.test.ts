// Snapshot transfers under pressure: the leader snapshots faster than it can send, chunks are
// pipelined in a bounded window, two different snapshots share an (index, term), data is
// corrupted in transit, the driver snapshots while a received snapshot waits to be applied,
// and a follower slightly behind catches up from the entries kept below the snapshot.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from './harness.ts';
import type { InstallSnapshotRequest, InstallSnapshotResponse, Message } from '../../src/raft/index.ts';

const chunks = (ms: readonly Message[]): InstallSnapshotRequest[] => ms.filter((m): m is InstallSnapshotRequest => m.type === 'InstallSnapshot');

/** Node 3 was down while 20 commands committed; node 1 (leader) snapshotted at index 21. */
function behindBySnapshot(overrides: ConstructorParameters<typeof Cluster>[1] = {}): Cluster {
  const c = new Cluster([1, 2, 3], { snapshotChunkBytes: 16, snapshotCatchUpEntries: 0, ...overrides });
  c.campaign(1);
  c.crash(3);
  for (let i = 0; i < 20; i++) c.propose(1, `cmd-${i}`);
  c.tick(1);
  return c;
}

describe('snapshot transfer', () => {
  test('a snapshot transfer slower than the snapshot interval still completes', () => {
    const c = behindBySnapshot();
    c.takeSnapshot(1);
    c.restart(3);
    let budget = 0; // at most 8 chunks per snapshot interval
    c.dropIf = (m) => m.type === 'InstallSnapshot' && --budget < 0;
    for (let round = 0; round < 50; round++) {
      budget = 8;
      c.tick(3);
      c.propose(1, `more-${round}`);
      c.takeSnapshot(1); // writes continue, the leader snapshots again
    }
    assert.ok(c.core(3).status().commitIndex >= 21, `follower stuck at ${c.core(3).status().commitIndex}`);
    c.dropIf = null;
    c.tick(10);
    assert.deepEqual(c.node(3).applied, c.node(1).applied);
  });

  test('chunks are pipelined in a bounded window, and not resent on every heartbeat', () => {
    const c = behindBySnapshot({ snapshotInflightChunks: 4 });
    c.takeSnapshot(1);
    c.restart(3);
    c.dropIf = (m) => m.type === 'InstallSnapshotResponse'; // no chunk is ever acknowledged
    c.delivered = [];
    c.tick(1);
    assert.deepEqual(
      chunks(c.delivered).map((m) => m.offset),
      [0, 16, 32, 48],
      'one window, at once',
    );
    c.delivered = [];
    c.tick(1); // one heartbeat without progress: wait
    assert.equal(chunks(c.delivered).length, 0);
    c.tick(1); // still nothing acknowledged: resend the window
    assert.deepEqual(
      chunks(c.delivered).map((m) => m.offset),
      [0, 16, 32, 48],
    );
    c.dropIf = null;
    c.tick(3);
    assert.equal(c.node(3).applied.length, 20);
  });

  test('a follower slightly behind catches up from the entries kept below the snapshot', () => {
    const c = behindBySnapshot({ snapshotCatchUpEntries: 5000 });
    c.takeSnapshot(1);
    assert.equal(c.core(1).status().firstIndex, 1, 'the leader keeps the entries below its snapshot');
    assert.equal(c.node(1).disk.snapshot?.meta.index, 21);
    c.delivered = [];
    c.restart(3);
    c.tick(3);
    assert.equal(chunks(c.delivered).length, 0, 'no snapshot needed');
    assert.equal(c.node(3).applied.length, 20);
  });

  test('only snapshotCatchUpEntries entries stay below the snapshot; a restart keeps only what is after it', () => {
    const c = behindBySnapshot({ snapshotCatchUpEntries: 5 });
    c.takeSnapshot(1);
    assert.equal(c.core(1).status().firstIndex, 17); // entries 17..21 kept, 1..16 compacted
    // The driver's log holds only entries after the snapshot: a restarted leader starts there.
    c.crash(1);
    c.restart(1);
    assert.equal(c.core(1).status().firstIndex, 22);
    c.restart(3);
    c.electSomeone();
    c.tick(10);
    assert.equal(c.node(3).applied.length, 20);
    c.assertAgreement();
  });

  test('chunks of two snapshots with the same (index, term) are not spliced', () => {
    const c = behindBySnapshot();
    const s1 = c.takeSnapshot(1);
    // Node 2 holds a snapshot of the same state at the same (index, term), encoded differently.
    const meta2 = c.core(2).snapshotMeta(s1.meta.index);
    const alt = new TextEncoder().encode(JSON.stringify(JSON.parse(new TextDecoder().decode(s1.data)), null, 1));
    assert.notEqual(alt.byteLength, s1.data.byteLength);
    c.core(2).snapshotTaken({ meta: meta2, data: alt });
    c.node(2).disk.snapshot = { meta: meta2, data: alt };
    c.restart(3);
    let n = 0;
    c.dropIf = (m) => m.type === 'InstallSnapshot' && ++n > 4; // node 3 gets 4 chunks from node 1
    c.tick(1);
    c.crash(1);
    c.dropIf = null;
    for (let i = 0; i < 100 && c.leaders().length === 0; i++) c.tickOnly([2, 3]);
    assert.deepEqual(c.leaders(), [2]);
    c.tickOnly([2, 3], 5);
    const got = c.node(3).disk.snapshot!.data;
    assert.ok(Buffer.from(got).equals(Buffer.from(alt)), 'node 3 installed node 2 snapshot, whole');
    assert.equal(c.node(3).applied.length, 20);
  });

  test('a snapshot corrupted in transit is never installed', () => {
    const c = behindBySnapshot();
    const snap = c.takeSnapshot(1);
    let corrupted = 0;
    c.rewrite = (m) => {
      if (m.type !== 'InstallSnapshot' || m.offset !== 32 || corrupted > 0) return m;
      corrupted++;
      const chunk = m.chunk.slice();
      chunk[0] = chunk[0]! ^ 0xff;
      return { ...m, chunk };
    };
    c.restart(3);
    c.tick(6);
    assert.equal(corrupted, 1);
    assert.ok(Buffer.from(c.node(3).disk.snapshot!.data).equals(Buffer.from(snap.data)));
    assert.equal(c.node(3).applied.length, 20);
  });

  test('a transfer that sends more bytes than it announced, or fewer, is never installed', () => {
    for (const lie of ['longer', 'shorter'] as const) {
      const c = behindBySnapshot();
      const snap = c.takeSnapshot(1);
      let lied = 0;
      c.rewrite = (m) => {
        if (m.type !== 'InstallSnapshot' || m.offset !== 32 || lied > 0) return m;
        lied++;
        // A chunk that grows past the announced size, or a size announced too large (every
        // chunk of the transfer then carries it, so the receiver keeps them together).
        return lie === 'longer' ? { ...m, chunk: new Uint8Array(m.size!) } : m;
      };
      if (lie === 'shorter') {
        c.rewrite = (m) => {
          if (m.type !== 'InstallSnapshot' || lied > 2) return m;
          if (m.done) lied++;
          return { ...m, size: m.size! + 1 };
        };
      }
      c.restart(3);
      c.tick(8);
      assert.ok(lied > 0, lie);
      // Dropped each time, then the honest transfer installs the real snapshot.
      assert.ok(Buffer.from(c.node(3).disk.snapshot!.data).equals(Buffer.from(snap.data)), lie);
      assert.equal(c.node(3).applied.length, 20, lie);
    }
  });

  test('snapshotMeta and snapshotTaken while a received snapshot waits to be applied', () => {
    const c = behindBySnapshot();
    c.takeSnapshot(1);
    c.restart(3);
    // Hold back the final chunk, then hand it to node 3's core without draining its ready().
    let last: InstallSnapshotRequest | null = null;
    c.dropIf = (m) => {
      if (m.type !== 'InstallSnapshot' || !m.done || m.to !== 3) return false;
      last = m;
      return true;
    };
    c.tick(1);
    assert.ok(last !== null);
    const n3 = c.node(3);
    const applied = n3.appliedIndex;
    const before = n3.core.snapshotMeta(applied);
    n3.core.step(last);
    assert.ok(n3.core.hasReady());
    // The driver snapshots the state it has applied, as it may while a write is pending.
    const meta = n3.core.snapshotMeta(applied);
    assert.deepEqual(meta, before);
    n3.core.snapshotTaken({ meta, data: new TextEncoder().encode(JSON.stringify(n3.applied)) });
    c.dropIf = null;
    c.stabilize();
    assert.equal(n3.disk.snapshot?.meta.index, 21);
    assert.equal(n3.appliedIndex >= 21, true);
    assert.equal(n3.applied.length, 20);
    c.tick(2);
    assert.deepEqual(n3.applied, c.node(1).applied);
  });

  // docs/found-bugs.md section 5 (swarm seed 852 at 462c824), with the cores driven by hand.
  // Snapshot A (index 21) reaches node 3; node 3 falls behind again and node 1 sends snapshot
  // B in 16-byte chunks, 4 in flight. How node 3 loses its partial copy of B is the argument.
  function staleResponseScenario(losePartialCopy: (c: Cluster, lastChunkOfA: InstallSnapshotRequest) => void): { c: Cluster; b: number } {
    const c = behindBySnapshot({ snapshotInflightChunks: 4 });
    c.takeSnapshot(1);
    let lastChunkOfA: InstallSnapshotRequest | null = null;
    c.dropIf = (m) => {
      if (m.type === 'InstallSnapshot' && m.to === 3 && m.done) lastChunkOfA = m; // the network keeps a copy
      return false;
    };
    c.restart(3);
    c.tick(3);
    assert.equal(c.node(3).disk.snapshot?.meta.index, 21, 'snapshot A installed');
    assert.ok(lastChunkOfA !== null);
    c.crash(3);
    for (let i = 0; i < 20; i++) c.propose(1, `more-${i}`);
    c.tick(1);
    const b = c.takeSnapshot(1).meta.index;
    assert.ok(b > 21 && c.core(1).status().firstIndex > 22, 'node 3 needs snapshot B');
    // Node 3 gets B's chunks up to offset 64 (the ones after it are lost) and answers
    // "next 64"; the network keeps a copy of that answer.
    let lost = (offset: number): boolean => offset >= 64;
    let next64: InstallSnapshotResponse | null = null;
    c.dropIf = (m) => {
      if (m.type === 'InstallSnapshotResponse' && m.nextOffset === 64 && !m.done) next64 ??= m;
      return m.type === 'InstallSnapshot' && lost(m.offset);
    };
    c.restart(3);
    c.tick(3);
    assert.ok(next64 !== null, 'node 3 answered "next 64"');
    losePartialCopy(c, lastChunkOfA);
    // The leader resends from 64, node 3 answers -1, the leader starts over from 0; this time
    // the chunks at 32 and 48 are lost, so node 3 holds 32 bytes and asks for 32.
    lost = (offset) => offset >= 32 && offset < 64;
    c.tick(4);
    // The late copy of "next 64" reaches the leader, which takes it as progress.
    c.core(1).step(next64);
    c.stabilize();
    c.dropIf = null;
    return { c, b };
  }

  /** Heartbeats until node 3 installed snapshot `b` (at most `max`); returns how many. */
  function heartbeatsUntilInstalled(c: Cluster, b: number, max: number): number {
    for (let n = 1; n <= max; n++) {
      c.tick(1);
      if (c.node(3).disk.snapshot?.meta.index === b) return n;
    }
    return Infinity;
  }

  test('a late chunk of an older snapshot and a late answer do not stall a transfer (found-bugs 5)', () => {
    const { c, b } = staleResponseScenario((c, lastChunkOfA) => {
      // A late copy of snapshot A's last chunk: node 3's commit index covers it.
      c.delivered = [];
      c.core(3).step(lastChunkOfA);
      c.stabilize();
      const answer = c.delivered.find((m): m is InstallSnapshotResponse => m.type === 'InstallSnapshotResponse');
      assert.ok(answer?.done === true && answer.snapshotIndex === 21, 'answered "done" for A');
    });
    const n = heartbeatsUntilInstalled(c, b, 20);
    assert.ok(n <= 4, `snapshot B installed after ${n} heartbeats`);
    assert.deepEqual(c.node(3).applied, c.node(1).applied);
  });

  test('a late answer from before the follower restarted its transfer does not stall it', () => {
    // The leader-side half alone: node 3 restarts (its partial copy was in memory), so the
    // late "next 64" is past what it holds; the leader must resend from what it asks for.
    const { c, b } = staleResponseScenario((c) => {
      c.crash(3);
      c.restart(3);
    });
    const n = heartbeatsUntilInstalled(c, b, 20);
    assert.ok(n <= 4, `snapshot B installed after ${n} heartbeats`);
    assert.deepEqual(c.node(3).applied, c.node(1).applied);
  });
});
