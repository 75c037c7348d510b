// Three `start` processes configured as one cluster with mutual TLS and no cluster secret,
// so the certificates are all that authenticates a peer: nodes 1 and 2 have certificates
// from the cluster's CA and form the cluster (a majority of three); node 3's come from
// another CA, and it never joins: no leader, no commit, not the write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { ensureLocalTls } from '../../src/cli/local-ca.ts';
import { cleanupsAfterAll, CliProcess, eventually, freeConsecutivePorts, tempDir } from './cli-process.ts';

const cleanups = cleanupsAfterAll();

interface Status {
  readonly leader: { id: number } | null;
  readonly commitIndex: number;
  readonly members: ReadonlyArray<{ id: number; connected: boolean }>;
}

test('two nodes with the cluster CA form a cluster over mutual TLS; a third with a certificate from another CA never joins', async () => {
  const dir = await tempDir();
  cleanups.push(dir.remove);
  const cluster = await ensureLocalTls(join(dir.path, 'cluster'), [1, 2, 3], []);
  const stranger = await ensureLocalTls(join(dir.path, 'stranger'), [3], []);
  // This test's own client trusts both CAs: it must reach node 3 to see what node 3 has.
  const agent = new Agent({ connect: { ca: [await readFile(cluster.caCert), await readFile(stranger.caCert)] } });
  cleanups.push(() => agent.close());
  const base = await freeConsecutivePorts(3);
  const portOf = (id: number): number => base + id - 1;
  const call = async (id: number, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: unknown }> => {
    const response = await request(`https://127.0.0.1:${portOf(id)}${path}`, {
      method,
      dispatcher: agent,
      ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
    });
    return { status: response.statusCode, body: await response.body.json() };
  };
  const status = async (id: number): Promise<Status> => (await call(id, 'GET', '/cluster/status')).body as Status;

  const nodes = [1, 2, 3].map((id) => {
    const pki = id === 3 ? stranger : cluster;
    const files = pki.nodes.get(id)!;
    const peers = [1, 2, 3].filter((other) => other !== id).map((other) => `${other}=127.0.0.1:${portOf(other)}`);
    const cli = new CliProcess([
      'start',
      '--node-id',
      String(id),
      '--port',
      String(portOf(id)),
      '--data-dir',
      join(dir.path, `node${id}`),
      '--peers',
      peers.join(','),
      '--tls-cert-file',
      files.cert,
      '--tls-key-file',
      files.key,
      '--tls-ca-file',
      pki.caCert,
      '--log-level',
      'warn',
    ]);
    cleanups.push(() => cli.kill());
    return cli;
  });
  for (const cli of nodes) await cli.waitFor(/listening at https:\/\/127\.0\.0\.1:\d+/, 20_000);

  let leader = 0;
  await eventually(
    async () => {
      leader = (await status(1)).leader?.id ?? 0;
      return leader === 1 || leader === 2;
    },
    20_000,
    'node 1 or node 2 leads',
  );
  const created = await call(1, 'POST', '/api/tls_test', { _id: 'x', n: 1 });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal((await call(2, 'GET', '/api/tls_test/x')).status, 200, 'the write is read through the other member');

  // Give node 3 ample time (many heartbeats and reconnects) to be let in, if it could be.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const third = await status(3);
  assert.equal(third.leader, null, 'node 3 never hears from the leader');
  assert.equal(third.commitIndex, 0, 'node 3 has committed nothing');
  // 503: a node that never caught up serves nothing (it cannot tell who may read); never the document.
  assert.equal((await call(3, 'GET', '/api/tls_test/x?consistency=local')).status, 503, 'the write never reached node 3');
  const fromLeader = await status(leader);
  assert.equal(fromLeader.members.find((m) => m.id === 3)?.connected, false, 'the leader has no link to node 3');
  assert.ok(nodes.every((cli) => cli.running));
});
