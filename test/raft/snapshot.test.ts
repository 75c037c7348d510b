import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from './harness.ts';
import type { InstallSnapshotRequest, Message } from '../../src/raft/index.ts';
import { InvariantError } from '../../src/assert.ts';

const chunks = (ms: readonly Message[]): InstallSnapshotRequest[] => ms.filter((m): m is InstallSnapshotRequest => m.type === 'InstallSnapshot');

function clusterWithSnapshot(): Cluster {
  // No entries kept below the snapshot: a follower that missed any of them needs the snapshot.
  const c = new Cluster([1, 2, 3], { snapshotChunkBytes: 16, snapshotCatchUpEntries: 0 });
  c.campaign(1);
  c.crash(3);
  for (let i = 0; i < 20; i++) c.propose(1, `cmd-${i}`);
  c.tick(1);
  c.takeSnapshot(1);
  assert.equal(c.core(1).status().firstIndex, 22);
  c.propose(1, 'after-snapshot');
  return c;
}

describe('snapshots (§7, thesis ch. 5)', () => {
  test('a follower that was down catches up by InstallSnapshot in chunks, then by entries', () => {
    const c = clusterWithSnapshot();
    c.delivered = [];
    c.restart(3);
    c.tick(5);
    const sent = chunks(c.delivered);
    assert.ok(sent.length > 5, `expected many chunks, saw ${sent.length}`);
    assert.ok(sent.every((m) => m.chunk.byteLength <= 16));
    assert.equal(sent.filter((m) => m.done).length, 1);
    const expected = [...Array.from({ length: 20 }, (_, i) => `cmd-${i}`), 'after-snapshot'];
    assert.deepEqual(c.node(3).applied, expected);
    const st = c.core(3).status();
    assert.equal(st.firstIndex, 22);
    assert.equal(st.commitIndex, c.core(1).status().commitIndex);
    assert.deepEqual(st.conf, { voters: [1, 2, 3], learners: [] });
    assert.equal(c.node(3).disk.snapshot?.meta.index, 21);
  });

  test('a dropped chunk is resent and the transfer resumes where it stopped', () => {
    const c = clusterWithSnapshot();
    let seen = 0;
    c.dropIf = (m) => m.type === 'InstallSnapshot' && ++seen === 3; // lose the third chunk once
    c.delivered = [];
    c.restart(3);
    c.tick(8);
    const offsets = chunks(c.delivered).map((m) => m.offset);
    assert.equal(offsets.filter((o) => o === 0).length, 1, 'resumed, not restarted from 0');
    assert.equal(c.node(3).applied.length, 21);
  });

  test('a follower that lost its partial copy asks to restart from offset 0', () => {
    const c = clusterWithSnapshot();
    let seen = 0;
    c.dropIf = (m) => m.type === 'InstallSnapshot' && ++seen > 3; // the transfer stalls after 3 chunks
    c.restart(3);
    c.tick(2);
    assert.equal(c.node(3).applied.length, 0);
    c.crash(3); // loses the 3 chunks it had in memory
    c.heal();
    c.restart(3);
    c.delivered = [];
    c.tick(8);
    const sent = chunks(c.delivered);
    assert.equal(sent[0]!.offset, 48, 'the leader first resumes where it was');
    assert.ok(
      sent.some((m) => m.offset === 0),
      'then restarts from 0 when asked',
    );
    const restarts = c.delivered.filter((m) => m.type === 'InstallSnapshotResponse' && m.nextOffset === -1);
    assert.ok(restarts.length >= 1);
    // Every chunk of the window answers -1; the leader restarts from 0 only once.
    assert.equal(sent.filter((m) => m.offset === 0).length, 1, 'restarted from 0 exactly once');
    assert.equal(c.node(3).applied.length, 21);
  });

  test('snapshotTaken refuses metadata that does not match the log', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, 'a');
    const meta = c.core(1).snapshotMeta(2);
    assert.throws(() => c.core(1).snapshotTaken({ meta: { ...meta, term: 9 }, data: new Uint8Array() }), InvariantError);
    assert.throws(() => c.core(1).snapshotTaken({ meta: { ...meta, conf: { voters: [1], learners: [] } }, data: new Uint8Array() }), InvariantError);
  });

  test('a restarted leader sends the snapshot it was given back by its driver', () => {
    const c = clusterWithSnapshot();
    c.crash(1);
    c.restart(1);
    c.restart(3);
    const leader = c.electSomeone();
    c.tick(10);
    assert.equal(c.node(3).applied.length, 21);
    assert.ok(leader === 1 || leader === 2);
  });
});
