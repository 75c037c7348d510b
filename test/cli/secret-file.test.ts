// The cluster secret file and the loopback-only rule, in-process.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, chown, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseClusterOptions } from '../../src/cli/cluster.ts';
import { checkUnauthenticatedHost, createClusterSecretFile, isLoopbackHost, readClusterSecretFile } from '../../src/cli/secret-file.ts';
import { parseStartOptions } from '../../src/cli/start.ts';
import { UsageError } from '../../src/cli/usage-error.ts';
import { tempDir } from './cli-process.ts';

let dir: { path: string; remove: () => Promise<void> };
before(async () => {
  dir = await tempDir();
});
after(async () => {
  await dir.remove();
});

const FLAG = '--cluster-secret-file';
const HEX = 'ab'.repeat(32);

function usageError(pattern: RegExp): (error: unknown) => boolean {
  return (error) => error instanceof UsageError && pattern.test(error.message) && !error.message.includes('\n');
}

async function secretFile(name: string, text: string, mode = 0o600): Promise<string> {
  const path = join(dir.path, name);
  await writeFile(path, text);
  await chmod(path, mode);
  return path;
}

describe('readClusterSecretFile', () => {
  test('64 hex digits, trailing newline and upper case accepted', async () => {
    assert.deepEqual(await readClusterSecretFile(FLAG, await secretFile('ok', `${HEX}\n`)), Uint8Array.from(Buffer.from(HEX, 'hex')));
    assert.equal((await readClusterSecretFile(FLAG, await secretFile('upper', `  ${HEX.toUpperCase()}${HEX}\r\n`, 0o400))).length, 64);
  });
  test('missing file', async () => {
    await assert.rejects(
      readClusterSecretFile(FLAG, join(dir.path, 'nope')),
      usageError(/^--cluster-secret-file ".*nope" cannot be read \(no such file\)$/),
    );
  });
  test('a directory', async () => {
    await assert.rejects(readClusterSecretFile(FLAG, dir.path), usageError(/is not a regular file/));
  });
  test('too short', async () => {
    const path = await secretFile('short', `${'ab'.repeat(31)}\n`);
    await assert.rejects(readClusterSecretFile(FLAG, path), usageError(/holds 31 bytes; at least 32 are needed/));
  });
  test('not hex', async () => {
    await assert.rejects(
      readClusterSecretFile(FLAG, await secretFile('text', `${'x'.repeat(64)}\n`)),
      usageError(/must hold the secret as hex digits/),
    );
    await assert.rejects(readClusterSecretFile(FLAG, await secretFile('odd', `${HEX}a\n`)), usageError(/must hold the secret as hex digits/));
  });
  test('a symbolic link is refused, even to a good file (the checks and the read use one open handle)', async () => {
    const target = await secretFile('target.secret', `${HEX}\n`);
    const link = join(dir.path, 'link.secret');
    await symlink(target, link);
    await assert.rejects(
      readClusterSecretFile(FLAG, link),
      usageError(/link\.secret" cannot be read \(it is a symbolic link: give the file itself\)$/),
    );
    assert.equal((await readClusterSecretFile(FLAG, target)).length, 32);
  });
  test('a FIFO is refused without blocking, a huge file without reading it', async () => {
    const fifo = join(dir.path, 'fifo.secret');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    await assert.rejects(readClusterSecretFile(FLAG, fifo), usageError(/is not a regular file/));
    const big = await secretFile('big.secret', `${HEX}\n${' '.repeat(5000)}`);
    await assert.rejects(readClusterSecretFile(FLAG, big), usageError(/is 5065 bytes; a secret file is at most 4096/));
  });
  test('a file of another user is refused (run as root only: chown needs it)', async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('not root');
      return;
    }
    const path = await secretFile('other-owner.secret', `${HEX}\n`);
    await chown(path, 65534, 65534);
    await assert.rejects(readClusterSecretFile(FLAG, path), usageError(/belongs to user 65534, not to the user running this node \(0\)/));
  });
  for (const mode of [0o644, 0o640, 0o604, 0o660]) {
    test(`mode ${mode.toString(8)} refused, with the fix`, async () => {
      const path = await secretFile(`m${mode.toString(8)}`, `${HEX}\n`, mode);
      await assert.rejects(
        readClusterSecretFile(FLAG, path),
        usageError(new RegExp(`readable by group or others \\(mode 0${mode.toString(8)}\\); run: chmod 600 ${path}$`)),
      );
    });
  }
});

describe('createClusterSecretFile', () => {
  test('creates 32 random bytes as hex, mode 0600, once', async () => {
    const path = join(dir.path, 'generated.secret');
    assert.equal(await createClusterSecretFile(path), true);
    const first = await readFile(path, 'utf8');
    assert.match(first, /^[0-9a-f]{64}\n$/);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await readClusterSecretFile(FLAG, path)).length, 32);
    assert.equal(await createClusterSecretFile(path), false, 'an existing secret is kept');
    assert.equal(await readFile(path, 'utf8'), first);
  });
});

describe('loopback only without a secret', () => {
  test('isLoopbackHost', () => {
    for (const host of ['127.0.0.1', '127.9.8.7', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) {
      assert.equal(isLoopbackHost(host), true, host);
    }
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'example.com', 'localhost.example.com', '::ffff:10.0.0.1']) {
      assert.equal(isLoopbackHost(host), false, host);
    }
  });
  test('checkUnauthenticatedHost', () => {
    checkUnauthenticatedHost('127.0.0.1', false, false);
    checkUnauthenticatedHost('0.0.0.0', true, false);
    checkUnauthenticatedHost('0.0.0.0', false, true);
    assert.throws(() => checkUnauthenticatedHost('0.0.0.0', false, false), usageError(/^--host 0\.0\.0\.0 .*--cluster-secret-file.*--insecure/));
  });
  test('parseStartOptions: the secret is passed on; a public host needs it or --insecure', async () => {
    const base = { nodeId: '1', port: '18080', dataDir: join(dir.path, 'start') };
    const path = await secretFile('start.secret', `${HEX}\n`);
    const withSecret = await parseStartOptions({ ...base, host: '0.0.0.0', clusterSecretFile: path });
    assert.deepEqual(withSecret.clusterSecret, Uint8Array.from(Buffer.from(HEX, 'hex')));
    assert.equal((await parseStartOptions(base)).clusterSecret, undefined);
    assert.equal((await parseStartOptions({ ...base, host: '0.0.0.0', insecure: true })).clusterSecret, undefined);
    await assert.rejects(parseStartOptions({ ...base, host: '0.0.0.0' }), usageError(/--cluster-secret-file.*--insecure/));
    await assert.rejects(parseStartOptions({ ...base, clusterSecretFile: join(dir.path, 'missing') }), usageError(/^--cluster-secret-file/));
  });
  test('parseClusterOptions: generates <data-dir>/cluster.secret, or takes the given file', async () => {
    const dataDir = join(dir.path, 'cluster');
    const generated = await parseClusterOptions({ dataDir });
    assert.equal(generated.secretFile, join(dataDir, 'cluster.secret'));
    assert.equal(generated.secretCreated, true);
    assert.equal((await stat(generated.secretFile)).mode & 0o777, 0o600);
    const again = await parseClusterOptions({ dataDir });
    assert.equal(again.secretCreated, false);
    const path = await secretFile('given.secret', `${HEX}\n`);
    const given = await parseClusterOptions({ dataDir: join(dir.path, 'cluster2'), clusterSecretFile: path });
    assert.equal(given.secretFile, path);
    await assert.rejects(
      parseClusterOptions({ dataDir, clusterSecretFile: await secretFile('loose.secret', `${HEX}\n`, 0o644) }),
      usageError(/chmod 600/),
    );
  });
});
