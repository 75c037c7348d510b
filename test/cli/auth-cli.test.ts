// The CLI's side of users and roles: password files (read safely, checked), --token-ttl,
// `cluster --root-password-file` (its nodes get the file, its readiness probes log in as
// root), and `status --password-file`.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDurationFlag } from '../../src/cli/flags.ts';
import { readPasswordFile } from '../../src/cli/password-file.ts';
import { UsageError } from '../../src/cli/usage-error.ts';
import { cleanupsAfterAll, CliProcess, freeConsecutivePorts, runCli, tempDir } from './cli-process.ts';

const cleanups = cleanupsAfterAll();

async function dir(): Promise<string> {
  const d = await tempDir();
  cleanups.push(d.remove);
  return d.path;
}

describe('password files', () => {
  test('one line, mode 0600, owned by this user, no symlink, 8 to 1,024 characters; the trailing newline is dropped', async () => {
    const d = await dir();
    const good = join(d, 'good');
    await writeFile(good, 'a good password\n', { mode: 0o600 });
    assert.equal(await readPasswordFile('--root-password-file', good), 'a good password');
    const cases: Array<[string, string, number, RegExp]> = [
      ['open', 'a good password\n', 0o644, /readable by group or others \(mode 0644\); run: chmod 600/],
      ['short', 'short\n', 0o600, /8 to 1024 characters \(it holds 5\)/],
      ['two-lines', 'first line here\nsecond line\n', 0o600, /on one line/],
    ];
    for (const [name, text, mode, message] of cases) {
      const path = join(d, name);
      await writeFile(path, text, { mode });
      await chmod(path, mode);
      await assert.rejects(readPasswordFile('--root-password-file', path), (e: unknown) => e instanceof UsageError && message.test(e.message), name);
    }
    await symlink(good, join(d, 'link'));
    await assert.rejects(readPasswordFile('--password-file', join(d, 'link')), /symbolic link/);
    await assert.rejects(readPasswordFile('--password-file', join(d, 'missing')), /no such file/);
    await assert.rejects(readPasswordFile('--password-file', d), /not a regular file/);
  });

  test('--token-ttl durations', () => {
    assert.equal(parseDurationFlag('--token-ttl', '3600', 1000, 86_400_000), 3_600_000);
    assert.equal(parseDurationFlag('--token-ttl', '90s', 1000, 86_400_000), 90_000);
    assert.equal(parseDurationFlag('--token-ttl', '30m', 1000, 86_400_000), 1_800_000);
    assert.equal(parseDurationFlag('--token-ttl', '1h', 1000, 86_400_000), 3_600_000);
    for (const bad of ['', '1d', '-5', '1.5h', '999ms', '25h', 'h'])
      assert.throws(() => parseDurationFlag('--token-ttl', bad, 1000, 86_400_000), UsageError, bad);
  });

  test('start exits 2 with one line for a bad --root-password-file or --token-ttl', async () => {
    const d = await dir();
    const open = join(d, 'open');
    await writeFile(open, 'a good password\n', { mode: 0o644 });
    await chmod(open, 0o644);
    const common = ['start', '--node-id', '1', '--port', '1', '--data-dir', join(d, 'data')];
    const bad = await runCli([...common, '--root-password-file', open]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--root-password-file .* readable by group or others/);
    const ttl = await runCli([...common, '--token-ttl', '2d']);
    assert.equal(ttl.code, 2, ttl.stderr);
    assert.match(ttl.stderr, /--token-ttl must be a duration/);
  });
});

test('cluster --root-password-file: ready (its probes log in), the API needs credentials, status --password-file shows the cluster', async () => {
  const d = await dir();
  const passwordFile = join(d, 'root.password');
  await writeFile(passwordFile, 'the root password\n', { mode: 0o600 });
  const base = await freeConsecutivePorts(3);
  const cli = new CliProcess([
    'cluster',
    '--nodes',
    '3',
    '--base-port',
    String(base),
    '--data-dir',
    join(d, 'data'),
    '--root-password-file',
    passwordFile,
    '--log-level',
    'warn',
  ]);
  cleanups.push(() => cli.kill());
  await cli.waitFor(/\[cluster\] ready: 3 nodes, leader is node \d/, 40_000);
  const url = `http://127.0.0.1:${base + 1}`;
  const anonymous = await fetch(`${url}/api/products`);
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers.get('www-authenticate') ?? '', /Bearer/);
  const basic = `Basic ${Buffer.from('root:the root password').toString('base64')}`;
  assert.equal((await fetch(`${url}/api/products`, { headers: { authorization: basic } })).status, 200);

  const status = await runCli(['status', '--node', url, '--password-file', passwordFile]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /leader/);
  const refused = await runCli(['status', '--node', url]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /authentication required|401|UNAUTHORIZED/i);
  cli.signal('SIGINT');
  assert.equal((await cli.exited).code, 0);
});
