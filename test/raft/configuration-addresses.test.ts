// Issue 13: members' addresses in the replicated configuration. Conf entries of every age
// decode; adds may name an address, `setAddress` changes it, a removal drops it; the core
// replicates them like any conf entry and carries them in snapshot metadata, on disk and on
// the wire, so that a node that only ever saw a snapshot knows them too.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { InvariantError } from '../../src/assert.ts';
import {
  applyConfChange,
  decodeConfEntry,
  encodeConfChange,
  isMemberAddress,
  memberAddress,
  MEMBER_ADDRESS_CHARS_MAX,
  rejectConfChange,
} from '../../src/raft/configuration.ts';
import type { ConfState, SnapshotMeta } from '../../src/raft/types.ts';
import { readSnapshotFile, writeSnapshotFile } from '../../src/log/snapshot-file.ts';
import { assertValidSnapshotMeta } from '../../src/log/snapshot-meta.ts';
import { parseMessage } from '../../src/transport/message-validation.ts';
import { Cluster } from './harness.ts';

const bytes = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));
const THREE: ConfState = { voters: [1, 2, 3], learners: [] };

describe('conf entries with addresses', () => {
  test('an entry written before addresses existed decodes as it always did', () => {
    // The exact bytes an older node wrote for adding learner 4 to voters 1..3.
    const old = bytes({ change: { type: 'addLearner', node: 4 }, conf: { voters: [1, 2, 3], learners: [4] } });
    const decoded = decodeConfEntry(old);
    assert.deepEqual(decoded, { change: { type: 'addLearner', node: 4 }, conf: { voters: [1, 2, 3], learners: [4] } });
    assert.equal('addresses' in decoded.conf, false, 'no addresses field appears');
  });

  test('an add with an address records it; the entry round-trips', () => {
    const data = encodeConfChange({ type: 'addLearner', node: 4, address: '10.0.0.4:8083' }, THREE);
    const { change, conf } = decodeConfEntry(data);
    assert.deepEqual(change, { type: 'addLearner', node: 4, address: '10.0.0.4:8083' });
    assert.deepEqual(conf, { voters: [1, 2, 3], learners: [4], addresses: [{ id: 4, address: '10.0.0.4:8083' }] });
    // Promotion without an address keeps the one recorded.
    const promoted = applyConfChange(conf, { type: 'addVoter', node: 4 });
    assert.deepEqual(promoted, { voters: [1, 2, 3, 4], learners: [], addresses: [{ id: 4, address: '10.0.0.4:8083' }] });
  });

  test('setAddress changes only the address, kept sorted by id; a removal drops it', () => {
    let conf = applyConfChange(THREE, { type: 'setAddress', node: 3, address: 'c:3' });
    conf = applyConfChange(conf, { type: 'setAddress', node: 1, address: 'a:1' });
    conf = applyConfChange(conf, { type: 'setAddress', node: 3, address: 'c-moved:33' });
    assert.deepEqual(conf, {
      voters: [1, 2, 3],
      learners: [],
      addresses: [
        { id: 1, address: 'a:1' },
        { id: 3, address: 'c-moved:33' },
      ],
    });
    assert.equal(memberAddress(conf, 3), 'c-moved:33');
    assert.equal(memberAddress(conf, 2), undefined);
    const removed = applyConfChange(conf, { type: 'remove', node: 3 });
    assert.deepEqual(removed, { voters: [1, 2], learners: [], addresses: [{ id: 1, address: 'a:1' }] });
    assert.deepEqual(applyConfChange(removed, { type: 'remove', node: 1 }), { voters: [2], learners: [] }, 'no empty addresses field');
  });

  test('setAddress is refused for a non-member and for the address it already has', () => {
    const conf = applyConfChange(THREE, { type: 'setAddress', node: 2, address: 'b:2' });
    assert.equal(rejectConfChange(conf, { type: 'setAddress', node: 9, address: 'x:9' }), 'node is not a member');
    assert.equal(rejectConfChange(conf, { type: 'setAddress', node: 2, address: 'b:2' }), 'node already has that address');
    assert.equal(rejectConfChange(conf, { type: 'setAddress', node: 2, address: 'b:22' }), null);
  });

  test('malformed entries are refused: a setAddress without an address, a bad address, a bad row', () => {
    const refused = (value: unknown): void => assert.throws(() => decodeConfEntry(bytes(value)), InvariantError, JSON.stringify(value));
    refused({ change: { type: 'setAddress', node: 2 }, conf: THREE });
    refused({ change: { type: 'setAddress', node: 2, address: 'no-port' }, conf: THREE });
    refused({ change: { type: 'addVoter', node: 2, address: 7 }, conf: THREE });
    refused({ change: { type: 'rename', node: 2 }, conf: THREE });
    refused({ change: { type: 'remove', node: 2 }, conf: { ...THREE, addresses: [{ id: 0, address: 'a:1' }] } });
    refused({ change: { type: 'remove', node: 2 }, conf: { ...THREE, addresses: [{ id: 1, address: 'a:0' }] } });
    refused({ change: { type: 'remove', node: 2 }, conf: { ...THREE, addresses: { 1: 'a:1' } } });
  });

  test('isMemberAddress: host:port or [ipv6]:port, port 1..65535, bounded length', () => {
    for (const good of ['127.0.0.1:8080', 'node-1.example.com:1', '[::1]:65535', `${'a'.repeat(MEMBER_ADDRESS_CHARS_MAX - 5)}:8080`]) {
      assert.equal(isMemberAddress(good), true, good);
    }
    for (const bad of [
      '127.0.0.1',
      ':8080',
      'h:0',
      'h:65536',
      'http://h:1',
      'h:1/x',
      'u@h:1',
      'h :1',
      `${'a'.repeat(MEMBER_ADDRESS_CHARS_MAX)}:8080`,
      42,
    ]) {
      assert.equal(isMemberAddress(bad), false, String(bad));
    }
  });
});

describe('addresses through the core, snapshots, disk and wire', () => {
  test('a setAddress entry replicates to every member; a follower restored from a snapshot knows it', async () => {
    const c = new Cluster([1, 2, 3], { snapshotCatchUpEntries: 0 });
    c.campaign(1);
    c.crash(3);
    assert.notEqual(c.core(1).proposeConfChange({ type: 'setAddress', node: 3, address: 'n3:8083' }), null);
    c.tick(2);
    for (const id of [1, 2]) assert.equal(memberAddress(c.core(id).status().conf, 3), 'n3:8083', `node ${id}`);
    for (let i = 0; i < 5; i++) c.propose(1, `cmd-${i}`);
    c.tick(1);
    const snapshot = c.takeSnapshot(1);
    assert.deepEqual(snapshot.meta.conf.addresses, [{ id: 3, address: 'n3:8083' }], 'snapshot metadata carries the addresses');
    // Node 3 missed the entry; it catches up from the snapshot alone.
    c.restart(3);
    c.tick(5);
    assert.equal(c.core(3).status().firstIndex, snapshot.meta.index + 1);
    assert.equal(memberAddress(c.core(3).status().conf, 3), 'n3:8083');

    // On disk: written and read back; a file of the old shape (no addresses) still reads.
    const dir = mkdtempSync(join(tmpdir(), 'cs-conf-addresses-'));
    try {
      assertValidSnapshotMeta(snapshot.meta);
      const path = await writeSnapshotFile(dir, snapshot.meta, snapshot.data);
      const read = await readSnapshotFile(path, basename(path));
      assert.ok(typeof read !== 'string', String(read));
      assert.deepEqual(read.meta, snapshot.meta);
      const oldMeta: SnapshotMeta = { index: 7, term: 1, conf: THREE };
      const oldPath = await writeSnapshotFile(dir, oldMeta, new Uint8Array([1]));
      const oldRead = await readSnapshotFile(oldPath, basename(oldPath));
      assert.ok(typeof oldRead !== 'string');
      assert.deepEqual(oldRead.meta, oldMeta);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.throws(() => assertValidSnapshotMeta({ ...snapshot.meta, conf: { ...THREE, addresses: [{ id: 3, address: 'bad' }] } }), RangeError);

    // On the wire: an InstallSnapshot keeps them; a malformed row is refused.
    const wire = {
      type: 'InstallSnapshot',
      from: 1,
      to: 3,
      term: 1,
      meta: snapshot.meta,
      offset: 0,
      size: 1,
      chunk: new Uint8Array([1]),
      done: true,
    };
    const parsed = parseMessage(wire);
    assert.ok(typeof parsed !== 'string', String(parsed));
    assert.deepEqual(parsed.type === 'InstallSnapshot' && parsed.meta.conf, snapshot.meta.conf);
    const bad = parseMessage({ ...wire, meta: { ...snapshot.meta, conf: { ...THREE, addresses: [{ id: 3, address: 'x' }] } } });
    assert.equal(typeof bad, 'string');
  });
});
