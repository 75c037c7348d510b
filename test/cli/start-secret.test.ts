// Three `start` processes configured as one cluster: nodes 1 and 2 share a cluster secret
// and form the cluster (a majority of three); node 3, with another secret, is never let in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanupsAfterAll, CliProcess, eventually, freeConsecutivePorts, tempDir } from './cli-process.ts';

const cleanups = cleanupsAfterAll();

interface Status {
  readonly leader: { id: number } | null;
  readonly commitIndex: number;
  readonly members: ReadonlyArray<{ id: number; connected: boolean }>;
}

async function status(port: number): Promise<Status> {
  return (await (await fetch(`http://127.0.0.1:${port}/cluster/status`)).json()) as Status;
}

test('two nodes sharing a secret form a cluster; a third with another secret cannot join', async () => {
  const dir = await tempDir();
  cleanups.push(dir.remove);
  const secrets = { a: join(dir.path, 'a.secret'), b: join(dir.path, 'b.secret') };
  for (const path of Object.values(secrets)) await writeFile(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  const base = await freeConsecutivePorts(3);
  const portOf = (id: number): number => base + id - 1;
  const nodes = [1, 2, 3].map((id) => {
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
      '--cluster-secret-file',
      id === 3 ? secrets.b : secrets.a,
      '--log-level',
      'warn',
    ]);
    cleanups.push(() => cli.kill());
    return cli;
  });
  for (const cli of nodes) await cli.waitFor(/listening at http:\/\/127\.0\.0\.1:\d+/, 20_000);

  let leader = 0;
  await eventually(
    async () => {
      const s = await status(portOf(1));
      leader = s.leader?.id ?? 0;
      return leader === 1 || leader === 2;
    },
    20_000,
    'node 1 or node 2 leads',
  );
  const created = await fetch(`http://127.0.0.1:${portOf(1)}/api/secret_test`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ _id: 'x', n: 1 }),
  });
  assert.equal(created.status, 201, await created.text());
  const read = await fetch(`http://127.0.0.1:${portOf(2)}/api/secret_test/x`);
  assert.equal(read.status, 200, 'the write is read through the other member');

  // Give node 3 ample time (many heartbeats and reconnects) to be let in, if it could be.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const third = await status(portOf(3));
  assert.equal(third.leader, null, 'node 3 never hears from the leader');
  assert.equal(third.commitIndex, 0, 'node 3 has committed nothing');
  // 503: a node that never caught up serves nothing (it cannot tell who may read); never the document.
  assert.equal((await fetch(`http://127.0.0.1:${portOf(3)}/api/secret_test/x?consistency=local`)).status, 503, 'the write never reached node 3');
  const fromLeader = await status(portOf(leader));
  assert.equal(fromLeader.members.find((m) => m.id === 3)?.connected, false, 'the leader has no link to node 3');
  assert.equal(fromLeader.members.find((m) => m.id === (leader === 1 ? 2 : 1))?.connected, true, 'the two members are linked');
  for (const cli of nodes) assert.equal(cli.running, true, 'a refused peer is not a reason to stop');

  for (const cli of nodes) cli.signal('SIGTERM');
  for (const cli of nodes) assert.equal((await cli.exited).code, 0);
});
