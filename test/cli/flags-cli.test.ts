// Bad flags through the real command: each exits 2 with one line on stderr naming the
// flag. The other validation cases run in-process in flags.test.ts (spawning is slow).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, tempDir } from './cli-process.ts';

let dir: { path: string; remove: () => Promise<void> };
before(async () => {
  dir = await tempDir();
});
after(async () => {
  await dir.remove();
});

function startArgs(overrides: Record<string, string | null>): string[] {
  const flags: Record<string, string | null> = {
    '--node-id': '1',
    '--port': '18080',
    '--data-dir': join(dir.path, 'data'),
    ...overrides,
  };
  return ['start', ...Object.entries(flags).flatMap(([k, v]) => (v === null ? [] : [k, v]))];
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

describe('start rejects bad flags with exit 2 and one line', { concurrency: 4 }, () => {
  test('non-numeric node id', () => assertUsageError(startArgs({ '--node-id': 'abc' }), /--node-id.*"abc"/));
  test('port 0', () => assertUsageError(startArgs({ '--port': '0' }), /--port.*1 to 65535/));
  test('port 70000', () => assertUsageError(startArgs({ '--port': '70000' }), /--port.*"70000"/));
  test('heartbeat >= election timeout', () =>
    assertUsageError(startArgs({ '--heartbeat-interval': '200', '--election-timeout': '200' }), /--heartbeat-interval.*--election-timeout/));
  test('unknown option', () => assertUsageError([...startArgs({}), '--bogus-flag'], /unknown option '--bogus-flag'/));
  test('malformed peers', () => assertUsageError(startArgs({ '--peers': '127.0.0.1:8081,nonsense' }), /--peers.*nonsense/));
  test('data dir that is a regular file', async () => {
    const file = join(dir.path, 'a-file');
    await writeFile(file, 'x');
    await assertUsageError(startArgs({ '--data-dir': file }), /--data-dir.*a-file.*regular file/);
  });
});

describe('start refuses bad cluster secrets and an unauthenticated public host with exit 2 and one line', { concurrency: 4 }, () => {
  async function secret(name: string, text: string, mode: number): Promise<string> {
    const path = join(dir.path, name);
    await writeFile(path, text);
    await chmod(path, mode);
    return path;
  }
  test('missing secret file', () =>
    assertUsageError(
      startArgs({ '--cluster-secret-file': join(dir.path, 'no-such.secret') }),
      /--cluster-secret-file ".*no-such\.secret" cannot be read/,
    ));
  test('secret too short', async () => {
    const path = await secret('short.secret', `${'ab'.repeat(16)}\n`, 0o600);
    await assertUsageError(startArgs({ '--cluster-secret-file': path }), /--cluster-secret-file .* holds 16 bytes; at least 32/);
  });
  test('secret readable by others (0644)', async () => {
    const path = await secret('loose.secret', `${'ab'.repeat(32)}\n`, 0o644);
    await assertUsageError(startArgs({ '--cluster-secret-file': path }), new RegExp(`--cluster-secret-file .*mode 0644.*chmod 600 ${path}$`));
  });
  test('--host 0.0.0.0 without a secret', () =>
    assertUsageError(startArgs({ '--host': '0.0.0.0' }), /--host 0\.0\.0\.0 is not a loopback address.*--cluster-secret-file.*--insecure/));
});

describe('cluster and status reject bad flags with exit 2', { concurrency: 4 }, () => {
  test('--nodes 8', () => assertUsageError(['cluster', '--nodes', '8'], /--nodes.*1 to 7/));
  test('cluster with a missing secret file', () =>
    assertUsageError(
      ['cluster', '--data-dir', join(dir.path, 'cluster'), '--cluster-secret-file', join(dir.path, 'none.secret')],
      /--cluster-secret-file .*none\.secret.* cannot be read/,
    ));
  test('status with a non-http URL', () => assertUsageError(['status', '--node', 'ftp://x'], /--node/));
  test('unknown command', () => assertUsageError(['frobnicate'], /unknown command 'frobnicate'/));
});
