// `cluster --nodes 3`: a real local cluster of three processes on random free ports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isPortFree } from '../../src/cli/ports.ts';
import { alive, cleanupsAfterAll, CliProcess, freeConsecutivePorts, tempDir } from './cli-process.ts';

const cleanups = cleanupsAfterAll();

/** Node processes are in their own process group: kill them by pid whatever happens. */
function killPids(pids: Set<number>): () => Promise<void> {
  return async () => {
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  };
}

test('cluster --nodes 3: ready with a leader, replicates, reports a dead node, stops on Ctrl-C', async () => {
  const dir = await tempDir();
  cleanups.push(dir.remove);
  const base = await freeConsecutivePorts(3);
  const cli = new CliProcess(['cluster', '--nodes', '3', '--base-port', String(base), '--data-dir', dir.path, '--log-level', 'info']);
  const pids = new Set<number>();
  cleanups.push(killPids(pids));
  cleanups.push(() => cli.kill());

  const [, leader] = await cli.waitFor(/\[cluster\] ready: 3 nodes, leader is node (\d)/, 40_000);
  assert.ok(['1', '2', '3'].includes(leader!));
  for (let id = 1; id <= 3; id++) {
    const url = `http://127.0.0.1:${base + id - 1}`;
    const [, pid] = await cli.waitFor(new RegExp(`node ${id}  pid (\\d+) +API ${url} +dashboard ${url}/dashboard\\n`), 1000);
    pids.add(Number(pid));
    assert.match(cli.stdout, new RegExp(`^\\[node ${id}\\] node ${id} \\(pid ${pid}\\) listening at ${url}`, 'm'), 'child output is prefixed');
  }
  assert.match(cli.stdout, /\[cluster\] waiting: \d\/3 nodes answer \/healthz/, 'progress is shown while waiting');
  const [pid1, , pid3] = [...pids];

  // A write through node 1 is readable (linearizably) through node 3.
  const created = await fetch(`http://127.0.0.1:${base}/api/cli_test`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ _id: 'x', n: 42 }),
  });
  assert.equal(created.status, 201, await created.text());
  const read = await fetch(`http://127.0.0.1:${base + 2}/api/cli_test/x`);
  assert.equal(read.status, 200);
  assert.equal(((await read.json()) as { n: number }).n, 42);

  // A node that dies is reported, not restarted; the others keep serving.
  process.kill(pid3!, 'SIGKILL');
  await cli.waitFor(/\[cluster\] node 3 exited unexpectedly \(killed by SIGKILL\)/, 10_000);
  assert.equal(cli.running, true);
  assert.equal((await fetch(`http://127.0.0.1:${base}/healthz`)).status, 200);
  assert.ok(alive(pid1!));

  cli.signal('SIGINT');
  const result = await cli.exited;
  assert.equal(result.code, 0, `exit code; stderr: ${result.stderr}`);
  assert.match(result.stdout, /\[cluster\] stopping 2 nodes\.\.\./);
  assert.match(result.stdout, /\[cluster\] stopped\n/, 'every node stopped on SIGTERM, none had to be killed');
  for (const pid of pids) assert.equal(alive(pid), false, `node process ${pid} is gone`);
  for (let port = base; port < base + 3; port++) assert.equal(await isPortFree('127.0.0.1', port), true, `port ${port} is free`);
});

test('cluster refuses to start when one of its ports is taken', async () => {
  const dir = await tempDir();
  cleanups.push(dir.remove);
  const base = await freeConsecutivePorts(3);
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(base + 1, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => blocker.close(() => resolve())));
  const cli = new CliProcess(['cluster', '--nodes', '3', '--base-port', String(base), '--data-dir', dir.path]);
  cleanups.push(() => cli.kill());
  const result = await cli.exited;
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, new RegExp(`^collection-store: port ${base + 1} \\(node 2\\) already in use .*--base-port\\n$`));
  assert.equal(existsSync(join(dir.path, 'node1')), false, 'no node was started');
  assert.doesNotMatch(result.stdout, /\[node \d\]/);
});
