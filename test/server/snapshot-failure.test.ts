// POST /cluster/snapshot on a disk that refuses the snapshot file: 507 STORAGE_FAILED in the
// API's error shape (not 500 INTERNAL), the failure in GET /cluster/status, and the node goes
// on serving writes and reads. The snapshot directory is replaced by a file (ENOTDIR), which
// stops writes as root too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { open } from '../../src/index.ts';
import { EmbeddedBackend } from '../../src/node/embedded-backend.ts';
import { createServer } from '../../src/server/index.ts';
import { withTempDir } from '../log/helpers.ts';
import { errorOf, send } from './helpers.ts';

test('a snapshot the disk refuses: 507 STORAGE_FAILED, shown in /cluster/status, writes and reads go on; the next success clears it', () =>
  withTempDir(async (dir) => {
    const db = await open({ dir, snapshotThreshold: 0 });
    const app = await createServer({ backend: new EmbeddedBackend(db, 'http://127.0.0.1:0') });
    try {
      assert.equal((await send(app, 'POST', '/api/c', { _id: 'a' })).statusCode, 201);
      const before = (await send(app, 'GET', '/cluster/status')).json();
      assert.deepEqual(before.snapshot, { lastError: null, failures: 0, lastSuccessIndex: 0 });

      const snapshots = join(dir, 'snapshots');
      await rm(snapshots, { recursive: true });
      await writeFile(snapshots, 'not a directory');
      const refused = await send(app, 'POST', '/cluster/snapshot');
      assert.equal(refused.statusCode, 507, refused.body);
      const error = errorOf(refused);
      assert.equal(error.code, 'STORAGE_FAILED');
      assert.match(error.message, /the snapshot could not be written: .*ENOTDIR.*goes on serving/);

      const status = (await send(app, 'GET', '/cluster/status')).json();
      assert.equal(status.snapshot.failures, 1);
      assert.match(status.snapshot.lastError.message, /ENOTDIR/);
      assert.equal(typeof status.snapshot.lastError.at, 'string');
      assert.equal(status.role, 'leader');

      assert.equal((await send(app, 'POST', '/api/c', { _id: 'b' })).statusCode, 201, 'writes go on');
      assert.equal((await send(app, 'GET', '/api/c/b')).statusCode, 200, 'reads go on');
      assert.equal((await send(app, 'GET', '/readyz')).statusCode, 200);

      await rm(snapshots);
      await mkdir(snapshots);
      const taken = await send(app, 'POST', '/cluster/snapshot');
      assert.equal(taken.statusCode, 200, taken.body);
      const after = (await send(app, 'GET', '/cluster/status')).json();
      assert.deepEqual(after.snapshot, { lastError: null, failures: 0, lastSuccessIndex: taken.json().index });
    } finally {
      await app.close();
      await db.close();
    }
  }));
