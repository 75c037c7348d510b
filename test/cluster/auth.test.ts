// Issue 11, users and roles on real processes: one node of three is given the root password;
// the bootstrap it proposes turns authentication on for every node; a token from one node
// works on the others and after a restart; a user without role root cannot change the
// membership; no password reaches any node's disk.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { acquireClusterLock, errorCode, eventually, http, TestCluster } from './harness.ts';

const ROOT_PASSWORD = 'root password of the test';
const APP_PASSWORD = 'app password of the test';

function bearer(token: string): { headers: Record<string, string> } {
  return { headers: { authorization: `Bearer ${token}` } };
}

async function login(url: string, user: string, password: string): Promise<string> {
  const res = await http(url, 'POST', '/auth/login', { user, password });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return (res.body as { token: string }).token;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

describe('users and roles on a 3-node cluster of real processes', () => {
  let cluster: TestCluster;
  let release: (() => void) | undefined;
  before(async () => {
    release = await acquireClusterLock();
    cluster = await TestCluster.start({ size: 3, rootPassword: ROOT_PASSWORD, rootPasswordOn: [1] });
  });
  after(async () => {
    await cluster?.close();
    release?.();
  });

  test('the bootstrap of one node turns authentication on everywhere; tokens work on every node, also after a restart', async () => {
    await cluster.waitForLeader();
    for (const id of [1, 2, 3]) {
      await eventually(`node ${id} requires authentication`, async () => {
        const res = await http(cluster.node(id).url, 'GET', '/api/things');
        return res.status === 401 && errorCode(res) === 'UNAUTHORIZED' ? true : undefined;
      });
    }
    assert.equal((await http(cluster.node(2).url, 'GET', '/healthz')).status, 200, 'probes stay open');
    const root = await login(cluster.node(1).url, 'root', ROOT_PASSWORD);
    for (const id of [1, 2, 3]) {
      assert.equal((await http(cluster.node(id).url, 'POST', '/api/things', { n: id }, bearer(root))).status, 201, `write on node ${id}`);
    }
    assert.equal((await http(cluster.node(3).url, 'POST', '/auth/login', { user: 'root', password: 'wrong password' })).status, 401);

    await cluster.kill(2);
    await cluster.startNode(2);
    await cluster.waitForLeader();
    assert.equal((await http(cluster.node(2).url, 'GET', '/api/things')).status, 401, 'still on after a restart without the flag');
    const listed = await http(cluster.node(2).url, 'GET', '/api/things', undefined, bearer(root));
    assert.equal(listed.status, 200);
    assert.equal((listed.body as unknown[]).length, 3);
  });

  test('a user without role root cannot add, remove or promote members, nor move the leadership', async () => {
    const root = await login(cluster.node(1).url, 'root', ROOT_PASSWORD);
    const role = await http(
      cluster.node(2).url,
      'PUT',
      '/auth/roles/app',
      { permissions: [{ collection: '*', actions: ['read', 'write'] }] },
      bearer(root),
    );
    assert.equal(role.status, 201, JSON.stringify(role.body));
    assert.equal((await http(cluster.node(3).url, 'PUT', '/auth/users/app', { password: APP_PASSWORD, roles: ['app'] }, bearer(root))).status, 201);
    // Created through node 3, logged in at node 1 at once: login reads linearizably.
    const app = await login(cluster.node(1).url, 'app', APP_PASSWORD);
    const before = await cluster.status(1);
    for (const id of [1, 2, 3]) {
      const url = cluster.node(id).url;
      for (const [method, path, body] of [
        ['POST', '/cluster/members', { id: 9, url: 'http://127.0.0.1:9' }],
        ['DELETE', '/cluster/members/3', undefined],
        ['PATCH', '/cluster/members/2', { address: '127.0.0.1:9' }],
        ['POST', '/cluster/transfer-leadership', {}],
        ['POST', '/cluster/transfer', { to: 2 }],
        ['POST', '/cluster/snapshot', {}],
        ['PUT', '/auth/users/app', { roles: ['root'] }],
      ] as const) {
        const asApp = await http(url, method, path, body, bearer(app));
        assert.equal(asApp.status, 403, `${method} ${path} on node ${id}: ${JSON.stringify(asApp.body)}`);
        assert.equal((await http(url, method, path, body)).status, 401, `${method} ${path} on node ${id} without credentials`);
      }
    }
    const afterwards = await cluster.status(1);
    assert.deepEqual(
      afterwards?.members.map((m) => [m.id, m.voter, m.url]),
      before?.members.map((m) => [m.id, m.voter, m.url]),
    );
    assert.equal(afterwards?.term, before?.term, 'no leadership change');
    // What its role allows works, on any node.
    const written = await http(cluster.node(3).url, 'POST', '/api/orders', { _id: 'o1' }, bearer(app));
    assert.equal(written.status, 201);
    assert.equal((await http(cluster.node(2).url, 'GET', '/api/orders/o1', undefined, bearer(root))).status, 200);
  });

  test('history records name the user of each write, the same on every node; a TTL sweep names none (issue 14)', async () => {
    const root = await login(cluster.node(1).url, 'root', ROOT_PASSWORD);
    const role = await http(
      cluster.node(1).url,
      'PUT',
      '/auth/roles/ledger',
      { permissions: [{ collection: 'ledger', actions: ['read', 'write'] }] },
      bearer(root),
    );
    assert.equal(role.status, 201, JSON.stringify(role.body));
    for (const name of ['alice', 'bob']) {
      const put = await http(
        cluster.node(2).url,
        'PUT',
        `/auth/users/${name}`,
        { password: `${name} password of the test`, roles: ['ledger'] },
        bearer(root),
      );
      assert.equal(put.status, 201, JSON.stringify(put.body));
    }
    const schema = await http(
      cluster.node(3).url,
      'PUT',
      '/api/ledger/_schema',
      { schema: { type: 'object' }, options: { trackHistory: true, ttlField: 'expireAt' } },
      bearer(root),
    );
    assert.equal(schema.status, 200, JSON.stringify(schema.body));
    const alice = bearer(await login(cluster.node(1).url, 'alice', 'alice password of the test'));
    const bob = bearer(await login(cluster.node(1).url, 'bob', 'bob password of the test'));
    // Through every node (followers forward to the leader), without Idempotency-Key.
    assert.equal((await http(cluster.node(2).url, 'POST', '/api/ledger', { _id: 'x', n: 1 }, alice)).status, 201);
    assert.equal((await http(cluster.node(3).url, 'PATCH', '/api/ledger/x', { $inc: { n: 1 } }, bob)).status, 200);
    assert.equal((await http(cluster.node(1).url, 'DELETE', '/api/ledger/x', undefined, alice)).status, 204);
    assert.equal((await http(cluster.node(2).url, 'PUT', '/api/ledger/y', { expireAt: Date.now() + 300 }, bob)).status, 201);

    type Record = { eventType: string; user?: string; nodeId: number };
    const seen = (records: Record[]): (string | null)[][] => records.map((r) => [r.eventType, Object.hasOwn(r, 'user') ? r.user! : null]);
    for (const id of [1, 2, 3]) {
      const url = cluster.node(id).url;
      const x = await http(url, 'GET', '/api/ledger/x/_history?consistency=linearizable', undefined, alice);
      assert.equal(x.status, 200, JSON.stringify(x.body));
      assert.deepEqual(
        seen(x.body as Record[]),
        [
          ['Created', 'alice'],
          ['Updated', 'bob'],
          ['Deleted', 'alice'],
        ],
        `node ${id}`,
      );
      const y = await eventually(
        `the TTL removal of y on node ${id}`,
        async () => {
          const r = await http(url, 'GET', '/api/ledger/y/_history?consistency=linearizable', undefined, bob);
          return r.status === 200 && (r.body as Record[]).length === 2 ? (r.body as Record[]) : undefined;
        },
        15_000,
      );
      assert.deepEqual(
        seen(y),
        [
          ['Created', 'bob'],
          ['Deleted', null],
        ],
        `node ${id}`,
      );
    }
  });

  test('no password is written to any node’s data directory, and no other user may enter one (mode 0700: the log holds the token key)', () => {
    for (const node of cluster.nodes) {
      assert.equal(statSync(node.dataDir).mode & 0o777, 0o700, node.dataDir);
      for (const file of filesUnder(node.dataDir)) {
        const bytes = readFileSync(file);
        assert.equal(bytes.indexOf(ROOT_PASSWORD), -1, file);
        assert.equal(bytes.indexOf(APP_PASSWORD), -1, file);
      }
    }
  });
});
