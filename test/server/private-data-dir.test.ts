import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { makeDataDirPrivate } from '../../src/server/private-data-dir.ts';

test('a data directory open to other users is narrowed to 0700 with a warning; a new one is made 0700', async () => {
  const root = await mkdtemp(join(tmpdir(), 'cs-private-'));
  try {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const open = join(root, 'open');
    await makeDataDirPrivate(open, logger);
    assert.equal((await stat(open)).mode & 0o777, 0o700, 'created private');
    assert.equal(lines.length, 0);
    await chmod(open, 0o755);
    await makeDataDirPrivate(open, logger);
    assert.equal((await stat(open)).mode & 0o777, 0o700, 'narrowed');
    assert.match(lines[0] ?? '', /data directory was open to other users: its mode is now 0700/);
    assert.match(lines[0] ?? '', /"was":"0755"/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
