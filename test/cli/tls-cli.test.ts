// The TLS flags through the real command: bad combinations exit 2 with one line; with
// mutual TLS a node may bind a non-loopback address without a cluster secret; `cluster
// --tls` without openssl says so in one line. (File checks run in-process in tls-files.test.ts.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { request } from 'node:https';
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

/** One JSON request to an https node whose certificate `ca` signed. */
function httpsJson(url: string, ca: Buffer, method: string, path: string, body: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { method, ca, headers: { 'content-type': 'application/json' }, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

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

  // A backup over https: with the CA that signed the node's certificate it is taken and
  // restores; without it the certificate is refused, with a line saying so, and no file is written.
  const url = `https://127.0.0.1:${port}`;
  const ca = await readFile(pki.caCert);
  const inserted = await httpsJson(url, ca, 'POST', '/api/notes', [{ _id: 'a', text: 'over tls' }, { _id: 'b' }]);
  assert.equal(inserted.status, 201, inserted.body);
  const unverified = join(dir.path, 'unverified.backup');
  const refused = await runCli(['backup', '--node', url, '--out', unverified]);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /^collection-store: backup failed: .*certificate/m);
  await assert.rejects(stat(unverified), { code: 'ENOENT' });
  const out = join(dir.path, 'tls.backup');
  const backup = await runCli(['backup', '--node', url, '--out', out, '--ca-file', pki.caCert]);
  assert.equal(backup.code, 0, backup.stderr);
  assert.match(backup.stdout, new RegExp(`^backup of ${url.replace(/\./g, '\\.')} at log index \\d+`));
  const restore = await runCli(['restore', '--from', out, '--data-dir', join(dir.path, 'restored'), '--node-id', '1']);
  assert.equal(restore.code, 0, restore.stderr);
  assert.match(restore.stdout, /^restored 2 documents in 1 collection \(/);

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
