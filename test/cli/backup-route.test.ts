// GET /cluster/backup on a server over an embedded database: root only when authentication
// is on, the file holds users and roles, and a node streams at most BACKUPS_IN_FLIGHT_MAX at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBackup } from '../../src/cli/backup.ts';
import { verifyBackup } from '../../src/node/backup-format.ts';
import { BACKUPS_IN_FLIGHT_MAX } from '../../src/server/routes-backup.ts';
import { Store } from '../../src/store/store.ts';
import { errorOf, send, startTestServer } from '../server/helpers.ts';

const ROOT_PASSWORD = 'correct horse battery';

function basic(user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

test('with authentication on: 401 without credentials, 403 for a user without root, and root gets a backup holding the users', async () => {
  const s = await startTestServer({ auth: { rootPassword: ROOT_PASSWORD } });
  try {
    const root = basic('root', ROOT_PASSWORD);
    const until = Date.now() + 5000;
    while (!s.db.store.auth.enabled && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(
      (await send(s.app, 'PUT', '/auth/roles/writer', { permissions: [{ collection: '*', actions: ['read', 'write'] }] }, root)).statusCode,
      201,
    );
    assert.equal((await send(s.app, 'PUT', '/auth/users/alice', { password: 'alice-password', roles: ['writer'] }, root)).statusCode, 201);
    assert.equal((await send(s.app, 'POST', '/api/things', [{ _id: 'a' }, { _id: 'b' }], { ...root, 'idempotency-key': 'k-1' })).statusCode, 201);

    const anonymous = await send(s.app, 'GET', '/cluster/backup');
    assert.equal(anonymous.statusCode, 401);
    const alice = await send(s.app, 'GET', '/cluster/backup', undefined, basic('alice', 'alice-password'));
    assert.equal(alice.statusCode, 403);
    assert.equal(errorOf(alice).code, 'FORBIDDEN');

    const ok = await send(s.app, 'GET', '/cluster/backup', undefined, root);
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.headers['content-type'], 'application/octet-stream');
    const { header, data } = verifyBackup(ok.rawPayload);
    assert.equal(header.index, s.db.store.lastApplied);
    assert.equal(ok.headers['x-backup-index'], String(header.index));
    const restored = Store.restoreSnapshot(data);
    assert.deepEqual(
      restored.find('things', {}).map((d) => d._id),
      ['a', 'b'],
    );
    assert.deepEqual(
      restored
        .captureSnapshot()
        .auth?.users.map((u) => u.name)
        .sort(),
      ['alice', 'root'],
    );
    // The exactly-once records too (keyed by key and user): a retry after a restore is still answered once.
    assert.deepEqual(
      restored.captureSnapshot().sessions?.records.map((r) => r.key),
      ['k-1\x00root'],
    );
  } finally {
    await s.close();
  }
});

test(`a node streams at most ${BACKUPS_IN_FLIGHT_MAX} backups at once: the next is refused with 429, and a slot frees when one ends`, async () => {
  const s = await startTestServer();
  try {
    // One request first: the node has caught up once, so the hooks before the route need no barrier.
    assert.equal((await send(s.app, 'GET', '/cluster/backup')).statusCode, 200);
    // The first backups wait at their read barrier, holding their slots.
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => (open = resolve));
    const backend = s.backend as unknown as { readBarrier: () => Promise<void> };
    const original = backend.readBarrier.bind(backend);
    backend.readBarrier = async () => {
      await gate;
      return original();
    };
    const held = Array.from({ length: BACKUPS_IN_FLIGHT_MAX }, () => send(s.app, 'GET', '/cluster/backup'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const refused = await send(s.app, 'GET', '/cluster/backup');
    assert.equal(refused.statusCode, 429);
    assert.equal(errorOf(refused).code, 'TOO_MANY_REQUESTS');
    open();
    for (const response of await Promise.all(held)) assert.equal(response.statusCode, 200);
    assert.equal((await send(s.app, 'GET', '/cluster/backup')).statusCode, 200);
  } finally {
    await s.close();
  }
});

test('the backup command: writes a verified file with credentials; a refusal or a transfer cut short leaves the old file as it was', async () => {
  const s = await startTestServer({ auth: { rootPassword: ROOT_PASSWORD } });
  const dir = await mkdtemp(join(tmpdir(), 'cs-backup-cmd-'));
  const cut = createHttpServer();
  try {
    const until = Date.now() + 5000;
    while (!s.db.store.auth.enabled && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal((await send(s.app, 'POST', '/api/things', { _id: 'kept' }, basic('root', ROOT_PASSWORD))).statusCode, 201);
    await s.app.listen({ port: 0, host: '127.0.0.1' });
    const address = s.app.server.address() as AddressInfo;
    const url = `http://127.0.0.1:${address.port}`;
    const out = join(dir, 'b.backup');

    const header = await runBackup({ url, out, timeoutMs: 10_000, auth: { user: 'root', password: ROOT_PASSWORD } });
    const first = await readFile(out);
    assert.equal(verifyBackup(first).header.index, header.index);
    assert.deepEqual(await readdir(dir), ['b.backup'], 'no temporary file left');

    await assert.rejects(runBackup({ url, out, timeoutMs: 10_000, auth: { user: 'root', password: 'wrong password!' } }), /answered 401/);
    assert.deepEqual(await readFile(out), first);

    // A server that sends the first half of a backup, then drops the connection.
    cut.on('request', (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/octet-stream' });
      response.write(first.subarray(0, Math.floor(first.byteLength / 2)), () => response.destroy());
    });
    await new Promise<void>((resolve) => cut.listen(0, '127.0.0.1', resolve));
    const cutUrl = `http://127.0.0.1:${(cut.address() as AddressInfo).port}`;
    await assert.rejects(runBackup({ url: cutUrl, out, timeoutMs: 10_000 }));
    assert.deepEqual(await readFile(out), first, 'the old backup is intact');
    assert.deepEqual(await readdir(dir), ['b.backup'], 'no temporary file left');
  } finally {
    cut.close();
    await s.close();
    await rm(dir, { recursive: true, force: true });
  }
});
