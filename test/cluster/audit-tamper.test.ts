// The audit chain edited on one node's disk (issue #14), on a 3-node cluster of real
// processes: an audited collection takes a few changes, node T (a follower) writes a snapshot
// that holds the chain, is stopped, and its snapshot file is edited the way someone with the
// node's files could: decoded, one audit record changed, encoded and written back with valid
// checksums (the project's own snapshot codec and snapshot-file writer, so the node accepts
// the file). Restarted, T loads the chain from that snapshot (it is not rebuilt from the log)
// and `GET /api/:collection/_audit?verify=true` names the first broken record and why:
//   1. a record's data edited: that record's hash does not match its content;
//   2. ...and its hash recomputed: the next record's prevHash names the break;
//   3. ...and every later hash rewritten: verify says ok on T (a chain with no outside anchor
//      cannot catch that), but T's head hash differs from the other nodes' for the same
//      eventId (docs/models.md, Audit).
// First the counter-case: a snapshot edited without fixing its checksum is refused at start,
// naming the file (the log-level cases are in test/log/open-refusals.test.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SNAPSHOT_NAME } from '../../src/log/segment-files.ts';
import { readSnapshotFile, writeSnapshotFile } from '../../src/log/snapshot-file.ts';
import { linkHash, type AuditVerification } from '../../src/store/audit.ts';
import type { RaftEvent } from '../../src/store/raft-event.ts';
import { decodeSnapshotData, encodeSnapshotData } from '../../src/store/snapshot.ts';
import { http, useCluster, writeToLeader, type TestCluster } from './harness.ts';

const COLLECTION = 'ledger';

/** An audit record as stored (and as an attacker may rewrite it). */
interface StoredRecord {
  event: RaftEvent;
  prevHash: string;
  hash: string;
}

async function verify(cluster: TestCluster, id: number): Promise<AuditVerification> {
  const r = await http(cluster.node(id).url, 'GET', `/api/${COLLECTION}/_audit?verify=true&consistency=linearizable`, undefined, {
    timeoutMs: 10_000,
  });
  assert.equal(r.status, 200, `verify on node ${id}: ${JSON.stringify(r.body) ?? r.error}`);
  return r.body as AuditVerification;
}

async function records(cluster: TestCluster, id: number): Promise<StoredRecord[]> {
  const r = await http(cluster.node(id).url, 'GET', `/api/${COLLECTION}/_audit?consistency=linearizable`, undefined, { timeoutMs: 10_000 });
  assert.equal(r.status, 200, `audit on node ${id}: ${JSON.stringify(r.body) ?? r.error}`);
  return r.body as StoredRecord[];
}

/** The one snapshot file of a stopped node (a node removes older ones once a newer is written). */
async function snapshotFile(dataDir: string): Promise<{ dir: string; name: string; path: string }> {
  const dir = join(dataDir, 'snapshots');
  const names = (await readdir(dir)).filter((name) => SNAPSHOT_NAME.test(name));
  assert.equal(names.length, 1, `one snapshot file in ${dir}: ${names.join(', ')}`);
  return { dir, name: names[0]!, path: join(dir, names[0]!) };
}

/** Edits the audit chain in a stopped node's snapshot file, which is written back with valid checksums. */
async function tamper(dataDir: string, edit: (chain: StoredRecord[]) => void): Promise<void> {
  const file = await snapshotFile(dataDir);
  const read = await readSnapshotFile(file.path, file.name);
  if (typeof read === 'string') throw new Error(`${file.path}: ${read}`);
  const data = decodeSnapshotData(read.data);
  const chain = data.audit?.find((c) => c.collection === COLLECTION);
  assert.ok(chain !== undefined, `the snapshot ${file.path} holds the audit chain of "${COLLECTION}"`);
  edit(chain.records as StoredRecord[]);
  await writeSnapshotFile(file.dir, read.meta, encodeSnapshotData(data));
  assert.notEqual(typeof (await readSnapshotFile(file.path, file.name)), 'string', 'the edited file is accepted');
}

describe('audit chain edited on one node’s disk (3 real nodes)', () => {
  const cluster = useCluster({ size: 3 });

  test('verify=true on the edited node names the first broken record and why; the other nodes verify, and a full rewrite shows in the head', async () => {
    await cluster().waitForLeader();
    const schema = await writeToLeader(cluster(), 'PUT', `/api/${COLLECTION}/_schema`, { schema: { type: 'object' }, options: { audited: true } });
    assert.equal(schema.status, 200, JSON.stringify(schema.body));
    for (const [method, path, body] of [
      ['POST', `/api/${COLLECTION}`, { _id: 'acct-1', amount: 100 }],
      ['POST', `/api/${COLLECTION}`, { _id: 'acct-2', amount: 50 }],
      ['PATCH', `/api/${COLLECTION}/acct-1`, { $inc: { amount: -30 } }],
      ['PATCH', `/api/${COLLECTION}/acct-2`, { $set: { amount: 80 } }],
      ['DELETE', `/api/${COLLECTION}/acct-2`, undefined],
    ] as const) {
      const r = await writeToLeader(cluster(), method, path, body);
      assert.ok(r.status >= 200 && r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    }
    const leader = await cluster().waitForLeader();
    await cluster().waitApplied([1, 2, 3], leader.appliedIndex);
    const honest = await records(cluster(), leader.nodeId);
    assert.ok(honest.length >= 5, `five changes or more (a retried write adds one): ${honest.length}`);
    assert.deepEqual(honest[2]!.event.data, { _id: 'acct-1', _rev: honest[2]!.event.data!['_rev'], amount: 70 });
    const honestHead = { hash: honest.at(-1)!.hash, eventId: honest.at(-1)!.event.eventId };
    for (const id of [1, 2, 3]) {
      assert.deepEqual(await verify(cluster(), id), { ok: true, checked: honest.length, head: honestHead }, `node ${id} before`);
    }

    // Node T writes a snapshot holding the chain, and stops cleanly.
    const t = [1, 2, 3].find((id) => id !== leader.nodeId)!;
    const taken = await http(cluster().node(t).url, 'POST', '/cluster/snapshot', undefined, { timeoutMs: 10_000 });
    assert.equal(taken.status, 200, JSON.stringify(taken.body));
    assert.ok((taken.body as { index: number }).index >= honest.at(-1)!.event.sequence, JSON.stringify(taken.body));
    await cluster().stop(t);
    const dataDir = cluster().node(t).dataDir;

    // Counter-case: one byte changed and the checksum left as it was. The node refuses to start.
    const file = await snapshotFile(dataDir);
    const original = await readFile(file.path);
    const flipped = Buffer.from(original);
    flipped[flipped.length - 1]! ^= 0xff;
    await writeFile(file.path, flipped);
    await assert.rejects(cluster().startNode(t), (error: Error) => {
      assert.match(
        error.message,
        /START FAILED: cannot open data directory .*log corruption in \S+\.snap .*is corrupt \(checksum mismatch\); no valid snapshot to recover from/,
      );
      return true;
    });
    await writeFile(file.path, original);

    // 1. A record's data edited, checksums made valid: verify names that record.
    const otherNodes = [1, 2, 3].filter((id) => id !== t);
    const restartEdited = async (edit: (chain: StoredRecord[]) => void): Promise<AuditVerification> => {
      if (cluster().node(t).running) await cluster().stop(t);
      await tamper(dataDir, edit);
      await cluster().startNode(t);
      await cluster().waitForLeader();
      for (const id of otherNodes)
        assert.deepEqual(await verify(cluster(), id), { ok: true, checked: honest.length, head: honestHead }, `node ${id}`);
      return verify(cluster(), t);
    };
    let verdict = await restartEdited((chain) => {
      (chain[2]!.event.data as { amount: number }).amount = 1_000_000;
    });
    assert.equal(verdict.ok, false, JSON.stringify(verdict));
    assert.equal(verdict.checked, 2);
    assert.equal(verdict.brokenAt?.position, 2);
    assert.equal(verdict.brokenAt?.eventId, honest[2]!.event.eventId);
    assert.match(verdict.brokenAt!.reason, /^hash [0-9a-f]{64} does not match the record's content \(expected [0-9a-f]{64}\)$/);
    // The node serves the edited record: its chain came from the snapshot, not from the log.
    assert.equal((await records(cluster(), t))[2]!.event.data!['amount'], 1_000_000);

    // 2. ...and that record's hash recomputed: the next record's link is broken.
    verdict = await restartEdited((chain) => {
      chain[2]!.hash = linkHash(chain[2]!.prevHash, chain[2]!.event);
    });
    assert.equal(verdict.ok, false, JSON.stringify(verdict));
    assert.equal(verdict.checked, 3);
    assert.equal(verdict.brokenAt?.position, 3);
    assert.equal(verdict.brokenAt?.eventId, honest[3]!.event.eventId);
    assert.match(verdict.brokenAt!.reason, /^prevHash [0-9a-f]{64} is not the hash of the record before \([0-9a-f]{64}\)$/);

    // 3. ...and every later hash rewritten: the chain alone verifies, the head gives it away.
    verdict = await restartEdited((chain) => {
      for (let i = 3; i < chain.length; i++) {
        chain[i]!.prevHash = chain[i - 1]!.hash;
        chain[i]!.hash = linkHash(chain[i]!.prevHash, chain[i]!.event);
      }
    });
    assert.equal(verdict.ok, true, JSON.stringify(verdict));
    assert.equal(verdict.checked, honest.length);
    assert.equal(verdict.head.eventId, honestHead.eventId);
    assert.notEqual(verdict.head.hash, honestHead.hash, 'the rewritten chain has another head than the other nodes');
  });
});
