// The chaos command's flags for looking into a run: --node-log-level (checked like the node's
// --log-level, a bad level is a usage error before anything starts) and --keep-data (a passing
// run keeps the local nodes' data and logs, which hold the info lines asked for).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI_COMMAND } from '../product-process.ts';

function run(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...CLI_COMMAND, 'chaos', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('--node-log-level must be a log level: exit 2 naming the flag, nothing started', async () => {
  const r = await run(['--node-log-level', 'loud', '--duration', '1s']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--node-log-level/);
  assert.doesNotMatch(r.stdout + r.stderr, /starting \d+ local nodes/);
});

test('--keep-data keeps a passing run’s node data and logs; --node-log-level info fills the logs', { timeout: 60_000 }, async () => {
  const r = await run(['--duration', '1s', '--nodes', '1', '--load-test-concurrent', '2', '--node-log-level', 'info', '--keep-data', '--seed', '3']);
  const out = r.stdout + r.stderr;
  const dir = /data and node logs in (\S+)\)/.exec(out)?.[1];
  try {
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.ok(dir !== undefined, out);
    assert.match(out, new RegExp(`node data and logs kept in ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.ok(existsSync(join(dir, 'node1')), 'the node’s data directory is still there');
    assert.match(readFileSync(join(dir, 'logs', 'node1.log'), 'utf8'), /INFO/, 'info lines were logged');
  } finally {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
});
