// `cluster` without --cluster-secret-file generates <data-dir>/cluster.secret (mode 0600)
// once, starts every node with it, and reuses it after a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { alive, cleanupsAfterAll, CliProcess, eventually, freeConsecutivePorts, tempDir } from './cli-process.ts';

const cleanups = cleanupsAfterAll();

/** Runs `cluster --nodes 3` until ready; returns it and its nodes' pids. */
async function startCluster(base: number, dataDir: string): Promise<{ cli: CliProcess; pids: number[] }> {
  const cli = new CliProcess(['cluster', '--nodes', '3', '--base-port', String(base), '--data-dir', dataDir, '--log-level', 'warn']);
  const pids: number[] = [];
  cleanups.push(async () => {
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  cleanups.push(() => cli.kill());
  await cli.waitFor(/\[cluster\] ready: 3 nodes, leader is node \d/, 40_000);
  for (let id = 1; id <= 3; id++) {
    const [, pid] = await cli.waitFor(new RegExp(`node ${id}  pid (\\d+) `), 1000);
    pids.push(Number(pid));
  }
  return { cli, pids };
}

async function stopCluster(cli: CliProcess): Promise<void> {
  cli.signal('SIGINT');
  const result = await cli.exited;
  assert.equal(result.code, 0, `exit code; stderr: ${result.stderr}`);
}

test('cluster generates cluster.secret (0600) once, its nodes use it, form a cluster and accept a write; a restart reuses it', async () => {
  const dir = await tempDir();
  cleanups.push(dir.remove);
  const base = await freeConsecutivePorts(3);
  const secretPath = join(dir.path, 'cluster.secret');

  const first = await startCluster(base, dir.path);
  assert.match(first.cli.stdout, new RegExp(`\\[cluster\\] generated a cluster secret in ${secretPath} \\(mode 0600\\)`));
  const secret = await readFile(secretPath, 'utf8');
  assert.match(secret, /^[0-9a-f]{64}\n$/, '32 random bytes as hex');
  assert.equal((await stat(secretPath)).mode & 0o777, 0o600);
  for (const pid of first.pids) {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    assert.equal(args[args.indexOf('--cluster-secret-file') + 1], secretPath, `node pid ${pid} is started with the secret`);
  }
  const created = await fetch(`http://127.0.0.1:${base}/api/secret_test`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ _id: 'x', n: 7 }),
  });
  assert.equal(created.status, 201, await created.text());
  await stopCluster(first.cli);

  const second = await startCluster(base, dir.path);
  assert.doesNotMatch(second.cli.stdout, /generated a cluster secret/);
  assert.equal(await readFile(secretPath, 'utf8'), secret, 'the secret is reused, not replaced');
  await eventually(
    async () => {
      const read = await fetch(`http://127.0.0.1:${base + 2}/api/secret_test/x`);
      return read.status === 200 && ((await read.json()) as { n: number }).n === 7;
    },
    10_000,
    'the write made before the restart is read through node 3',
  );
  await stopCluster(second.cli);
});
