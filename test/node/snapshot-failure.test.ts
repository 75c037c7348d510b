// A snapshot the disk refuses (read-only, full) does not stop the node: the failure is
// logged and shown in its status, writes and reads go on, an explicit snapshot answers
// STORAGE_FAILED, automatic retries back off, and the next success clears the failure.
// The file-system errors are real ones, made in ways that hold as root too (where chmod
// stops nothing): the snapshot directory replaced by a file (ENOTDIR), or an injected
// error with the code node:fs gives a full disk (ENOSPC).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { openFileLog } from '../../src/log/file-log.ts';
import { createMemoryLog } from '../../src/log/memory-log.ts';
import { RaftNode } from '../../src/node/raft-node.ts';
import { StoreError } from '../../src/store/errors.ts';
import { withTempDir } from '../log/helpers.ts';

const silent = pino({ level: 'silent' });

async function insert(node: RaftNode, id: string): Promise<void> {
  const result = await node.execute({ type: 'insert', collection: 'c', docs: [{ _id: id }] });
  assert.equal(result.ok, true, JSON.stringify(result));
}

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const isStorageFailed = (message: RegExp) => (error: unknown) => {
  assert.ok(error instanceof StoreError, `not a StoreError: ${String(error)}`);
  assert.equal(error.code, 'STORAGE_FAILED', error.message);
  assert.match(error.message, message);
  return true;
};

describe('a failing snapshot', () => {
  test('a snapshot directory that cannot be written: the node goes on serving, the status shows it, the next success clears it', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir });
      const node = RaftNode.standalone(log, { snapshotThreshold: 5, requestTimeoutMs: 10_000, logger: silent });
      try {
        await node.leadingAndCaughtUp(5000);
        assert.deepEqual(node.status().snapshot, { lastError: null, failures: 0, lastSuccessIndex: 0 });
        // Every create in snapshots/ now fails with ENOTDIR, whoever the process runs as.
        const snapshots = join(dir, 'snapshots');
        await rm(snapshots, { recursive: true });
        await writeFile(snapshots, 'not a directory');

        for (let i = 0; i < 8; i++) await insert(node, `a${i}`); // past the threshold: a snapshot is due
        await until(() => node.status().snapshot?.failures === 1, 'the automatic snapshot fails');
        const failed = node.status().snapshot!;
        assert.match(failed.lastError!.message, /ENOTDIR/);
        assert.ok(Math.abs(Date.parse(failed.lastError!.at) - Date.now()) < 10_000, failed.lastError!.at);
        assert.equal(failed.lastSuccessIndex, 0);

        // The node serves on: writes past another threshold (no retry within the backoff), reads.
        for (let i = 0; i < 8; i++) await insert(node, `b${i}`);
        await node.readBarrier('linearizable');
        assert.equal(node.store.count('c', {}), 16);
        assert.equal(node.status().snapshot?.failures, 1, 'no automatic retry within the backoff');

        await assert.rejects(node.snapshot(), isStorageFailed(/the snapshot could not be written: .*ENOTDIR.*the node goes on serving/));
        assert.equal(node.status().snapshot?.failures, 2);
        await insert(node, 'c0');

        // The disk is fixed: the next snapshot succeeds and clears the failure.
        await rm(snapshots);
        await mkdir(snapshots);
        const taken = await node.snapshot();
        assert.equal(taken.index, node.store.lastApplied);
        assert.deepEqual(node.status().snapshot, { lastError: null, failures: 0, lastSuccessIndex: taken.index });
        assert.equal(node.status().snapshotIndex, taken.index);
        assert.deepEqual(
          (await readdir(snapshots)).filter((name) => name.endsWith('.tmp')),
          [],
          'no temporary file left',
        );
      } finally {
        await node.close(1000).catch(() => {});
      }
    }));

  test('a full disk (ENOSPC): logged, retried with a backoff, never fatal', async () => {
    const log = createMemoryLog();
    const install = log.installSnapshot.bind(log);
    let refusals = 0;
    log.installSnapshot = () => {
      refusals++;
      return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' }));
    };
    const lines: string[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => lines.push(line) });
    const node = RaftNode.standalone(log, { snapshotThreshold: 3, requestTimeoutMs: 10_000, logger });
    try {
      await node.leadingAndCaughtUp(5000);
      for (let i = 0; i < 30; i++) await insert(node, `x${i}`);
      await until(() => node.status().snapshot?.failures === 1, 'the automatic snapshot fails');
      // Spread over several turns of the event loop, so that a snapshot due at every apply could run.
      for (let i = 0; i < 10; i++) {
        await insert(node, `y${i}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(refusals, 1, 'one try within the first backoff, not one per apply');
      assert.match(node.status().snapshot!.lastError!.message, /ENOSPC/);
      assert.ok(
        lines.some((line) => /snapshot failed; the node goes on serving/.test(line) && /ENOSPC/.test(line)),
        `logged: ${lines.join('')}`,
      );
      await assert.rejects(node.snapshot(), isStorageFailed(/ENOSPC: no space left on device/));

      log.installSnapshot = install;
      const taken = await node.snapshot();
      assert.deepEqual(node.status().snapshot, { lastError: null, failures: 0, lastSuccessIndex: taken.index });
      await insert(node, 'after');
    } finally {
      await node.close(1000).catch(() => {});
    }
  });

  test('an error that is not the file system refusing (a bug) still stops the node', async () => {
    const log = createMemoryLog();
    log.installSnapshot = () => Promise.reject(new Error('a broken invariant'));
    const node = RaftNode.standalone(log, { snapshotThreshold: 3, requestTimeoutMs: 10_000, logger: silent });
    const fatal = new Promise<Error>((resolve) => node.onFatal(resolve));
    try {
      await node.leadingAndCaughtUp(5000);
      for (let i = 0; i < 5; i++) await insert(node, `z${i}`).catch(() => {});
      assert.match((await fatal).message, /a broken invariant/);
    } finally {
      await node.close(1000).catch(() => {});
    }
  });
});
