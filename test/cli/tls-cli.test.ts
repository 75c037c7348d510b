// The TLS flags through the real command: bad combinations exit 2 with one line; with
// mutual TLS a node may bind a non-loopback address without a cluster secret; `cluster
// --tls` without openssl says so in one line. (File checks run in-process in tls-files.test.ts.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureLocalTls, type LocalTls } from '../../src/cli/local-ca.ts';
import { BIN, CliProcess, freeConsecutivePorts, runCli, tempDir, type CliResult } from './cli-process.ts';

let dir: { path: string; remove: () => Promise<void> };
let pki: LocalTls;
const cleanups: Array<() => Promise<void>> = [];
before(async () => {
  dir = await tempDir();
  pki = await ensureLocalTls(dir.path, [1], []);
});
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  await dir.remove();
});

function node1(): { cert: string; key: string } {
  return pki.nodes.get(1)!;
}

async function assertUsageError(args: string[], mention: RegExp): Promise<void> {
  const result = await runCli(args);
  assert.equal(result.code, 2, `exit code for ${args.join(' ')}; stderr: ${result.stderr}`);
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${result.stderr}`);
  assert.match(lines[0]!, /^collection-store: /);
  assert.match(lines[0]!, mention);
  assert.equal(result.stdout, '', 'nothing on stdout');
}

function startArgs(extra: string[]): string[] {
  return ['start', '--node-id', '1', '--port', '18443', '--data-dir', join(dir.path, 'data'), ...extra];
}

describe('start refuses unusable TLS flags with exit 2 and one line', { concurrency: 4 }, () => {
  test('only --tls-cert-file', () =>
    assertUsageError(startArgs(['--tls-cert-file', node1().cert]), /--tls-cert-file needs --tls-key-file too \(give both or neither\)/));
  test('only --tls-key-file', () => assertUsageError(startArgs(['--tls-key-file', node1().key]), /--tls-key-file needs --tls-cert-file too/));
  test('a certificate file that is not PEM', () =>
    assertUsageError(
      startArgs(['--tls-cert-file', node1().key, '--tls-key-file', node1().key]),
      /--tls-cert-file ".*node1\.key" holds no PEM certificate/,
    ));
  test('cert and key with peers but no CA: peers could not be dialed', () =>
    assertUsageError(
      startArgs(['--tls-cert-file', node1().cert, '--tls-key-file', node1().key, '--peers', '127.0.0.1:18444']),
      /--tls-ca-file is needed with --peers or --join/,
    ));
  test('a public host with cert and key but no CA or secret: peers would be unauthenticated', () =>
    assertUsageError(
      startArgs(['--host', '0.0.0.0', '--tls-cert-file', node1().cert, '--tls-key-file', node1().key]),
      /--host 0\.0\.0\.0 is not a loopback address.*--cluster-secret-file or --tls-cert-file, --tls-key-file and --tls-ca-file/,
    ));
});

test('with mutual TLS a node binds a non-loopback host without a cluster secret, and serves https', async () => {
  const port = await freeConsecutivePorts(1);
  const cli = new CliProcess([
    'start',
    '--node-id',
    '1',
    '--host',
    '0.0.0.0',
    '--advertise',
    `127.0.0.1:${port}`,
    '--port',
    String(port),
    '--data-dir',
    join(dir.path, 'public'),
    '--tls-cert-file',
    node1().cert,
    '--tls-key-file',
    node1().key,
    '--tls-ca-file',
    pki.caCert,
    '--log-level',
    'warn',
  ]);
  cleanups.push(() => cli.kill());
  await cli.waitFor(new RegExp(`listening at https://127\\.0\\.0\\.1:${port} `), 15_000);
  assert.doesNotMatch(cli.stderr, /warning/, 'no --insecure warning: peers are authenticated');
  cli.signal('SIGTERM');
  assert.equal((await cli.exited).code, 0);
});

test('cluster --tls without the openssl command: one line, and nothing starts', async () => {
  const empty = join(dir.path, 'empty-path');
  await mkdir(empty);
  const base = await freeConsecutivePorts(1);
  const child = spawn(
    process.execPath,
    [BIN, 'cluster', '--tls', '--nodes', '1', '--base-port', String(base), '--data-dir', join(dir.path, 'cluster')],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PATH: empty },
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const result = await new Promise<CliResult>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  clearTimeout(timer);
  assert.equal(result.code, 1, `stderr: ${result.stderr}`);
  assert.equal(
    result.stderr,
    'collection-store: cluster --tls needs the openssl command, which is not on PATH (on Debian: apt-get install openssl)\n',
  );
  assert.doesNotMatch(result.stdout, /started/);
});
