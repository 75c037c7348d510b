// `start` of a single node (no peers: a cluster of one): serves, and stops cleanly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { isPortFree } from '../../src/cli/ports.ts';
import { cleanupsAfterAll, CliProcess, eventually, freeConsecutivePorts, tempDir } from './cli-process.ts';

const cleanups = cleanupsAfterAll();

/** `start` of node 1 alone on a free port, its data in a temp dir; once it listens. */
async function startOneNode(): Promise<{ cli: CliProcess; port: number; url: string }> {
  const dir = await tempDir();
  cleanups.push(dir.remove);
  const port = await freeConsecutivePorts(1);
  const cli = new CliProcess(['start', '--node-id', '1', '--port', String(port), '--data-dir', join(dir.path, 'node1'), '--log-level', 'warn']);
  cleanups.push(() => cli.kill());
  const [, url] = await cli.waitFor(/listening at (http:\/\/\S+)/, 20_000);
  return { cli, port, url: url! };
}

test('a single node answers /healthz, elects itself, and exits 0 on SIGTERM', async () => {
  const { cli, port, url } = await startOneNode();
  assert.equal(url, `http://127.0.0.1:${port}`);
  const health = await fetch(`${url}/healthz`);
  assert.equal(health.status, 200);
  await eventually(
    async () => {
      const status = (await (await fetch(`${url}/cluster/status`)).json()) as { leader: { id: number } | null };
      return status.leader?.id === 1;
    },
    10_000,
    'node 1 leads its cluster of one',
  );

  cli.signal('SIGTERM');
  const result = await cli.exited;
  assert.equal(result.code, 0, `exit code; stderr: ${result.stderr}`);
  assert.equal(await isPortFree('127.0.0.1', port), true, 'the port is released');
});

test('--host 0.0.0.0 --insecure starts without a secret, with a warning', async () => {
  const dir = await tempDir();
  cleanups.push(dir.remove);
  const port = await freeConsecutivePorts(1);
  const args = ['start', '--node-id', '1', '--host', '0.0.0.0', '--port', String(port), '--data-dir', join(dir.path, 'node1'), '--log-level', 'warn'];
  const cli = new CliProcess([...args, '--insecure']);
  cleanups.push(() => cli.kill());
  await cli.waitFor(/listening at http:\/\/0\.0\.0\.0:\d+/, 20_000);
  assert.match(cli.stderr, /^collection-store: warning: --insecure: peers are not authenticated.*--cluster-secret-file/m);
  assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
  cli.signal('SIGTERM');
  assert.equal((await cli.exited).code, 0);
});

test('a port in use: one line, exit 1', async () => {
  const dir = await tempDir();
  cleanups.push(dir.remove);
  const port = await freeConsecutivePorts(1);
  const { createServer } = await import('node:net');
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => blocker.close(() => resolve())));
  const cli = new CliProcess(['start', '--node-id', '1', '--port', String(port), '--data-dir', join(dir.path, 'node1'), '--log-level', 'silent']);
  cleanups.push(() => cli.kill());
  const result = await cli.exited;
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, new RegExp(`^collection-store: .*${port}.*in use\\n$`));
});

test('a node stopped for 400 ms warns of its event-loop stall once it runs again, and reports it in /cluster/status', async () => {
  const { cli, url } = await startOneNode();
  // A stall at start (a busy machine) may have been warned of already: past the throttle's
  // second, only what comes after the stop is read.
  await new Promise((resolve) => setTimeout(resolve, 1200));
  const before = cli.stdout.length;
  cli.signal('SIGSTOP');
  await new Promise((resolve) => setTimeout(resolve, 400));
  cli.signal('SIGCONT');
  // A stopped process neither works nor waits for a core: the stall is the machine's (a stop),
  // and the line says so with a small busyMs.
  const deadline = Date.now() + 10_000;
  let line: string | undefined;
  while (line === undefined && Date.now() < deadline) {
    line = cli.stdout
      .slice(before)
      .split('\n')
      .find((l) => l.includes('event loop stalled') && (JSON.parse(l) as { wallMs: number }).wallMs >= 350);
    if (line === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.ok(line !== undefined, `a warning of the stop's stall after it; stdout since:\n${cli.stdout.slice(before)}`);
  const warning = JSON.parse(line) as { level: number; wallMs: number; busyMs: number; coreWaitMs: number; role: string };
  assert.equal(warning.level, 40, 'a warning');
  assert.ok(warning.wallMs >= 350, `wallMs ${warning.wallMs}`);
  assert.ok(warning.busyMs < warning.wallMs / 2, `busyMs ${warning.busyMs} of ${warning.wallMs}`);
  assert.equal(typeof warning.coreWaitMs, 'number');
  assert.equal(warning.role, 'leader');
  const status = (await (await fetch(`${url}/cluster/status`)).json()) as {
    loopStalls: { recent: Array<{ wallMs: number; coreWaitMs: number }> };
    slowLogWrites: unknown;
  };
  assert.ok(
    status.loopStalls.recent.some((s) => s.wallMs === warning.wallMs && typeof s.coreWaitMs === 'number'),
    JSON.stringify(status.loopStalls),
  );
  assert.ok(Array.isArray(status.slowLogWrites), 'slowLogWrites is listed (empty unless the disk was slow)');
  cli.signal('SIGTERM');
  assert.equal((await cli.exited).code, 0);
});
