// Crash safety with a real process: a child appends with group commit and
// prints each index once its append resolved; we SIGKILL it at a random moment,
// reopen, and check that every acknowledged entry is there, intact, in a
// contiguous log. Several rounds in the same directory, also with tiny
// segments so that kills land during segment rolls.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { openFileLog } from '../../src/log/index.ts';
import { payloadFor } from './fixtures/crash-writer.ts';
import { withTempDir } from './helpers.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'crash-writer.ts');

/** Runs the writer, kills it `delayMs` after its first acknowledged append, returns the acknowledged indexes. */
function runAndKill(dir: string, segmentBytes: number, term: number, delayMs: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, dir, String(segmentBytes), '64', String(term)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    const failsafe = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      // The kill's clock starts at the first acknowledged append (a loaded box can take longer
      // than the delay to make the first one durable; the test is about the ones after it).
      if (timer === undefined && /^ready\n\d+\n/.test(out)) timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(failsafe);
      if (signal !== 'SIGKILL' || timer === undefined) {
        reject(new Error(`writer ended with code ${code} signal ${signal}: ${err}`));
        return;
      }
      // a line cut by the kill is not an acknowledgement
      const lines = out.split('\n').slice(1, -1);
      resolve(lines.map(Number));
    });
  });
}

async function crashRounds(segmentBytes: number, rounds: number): Promise<void> {
  await withTempDir(async (dir) => {
    let everAcked = 0;
    for (let round = 1; round <= rounds; round++) {
      const delay = 50 + Math.floor(Math.random() * 250);
      const acked = await runAndKill(dir, segmentBytes, round, delay);
      assert.ok(acked.length > 0, `round ${round}: no append was acknowledged before the kill (${delay} ms after the first)`);
      const log = await openFileLog({ dir, segmentBytes });
      try {
        const first = log.firstIndex();
        const last = log.lastIndex();
        assert.equal(first, 1);
        const entries = log.entries(first, last + 1);
        for (const [i, e] of entries.entries()) {
          assert.equal(e.index, first + i, 'contiguous');
          assert.deepEqual(e.data, payloadFor(e.index), `entry ${e.index} intact`);
        }
        const maxAcked = Math.max(everAcked, ...acked);
        assert.ok(last >= maxAcked, `round ${round} (kill after ${delay} ms): acknowledged ${maxAcked} but the log ends at ${last}`);
        everAcked = maxAcked;
        assert.ok(log.hardState().commit <= last);
      } finally {
        await log.close();
      }
    }
    const segments = await readdir(join(dir, 'log'));
    assert.ok(segments.length >= 1);
  });
}

describe('crash safety (SIGKILL)', () => {
  test('acknowledged appends survive kill -9, 5 rounds', () => crashRounds(64 * 1024 * 1024, 5));
  test('acknowledged appends survive kill -9 during segment rolls', () => crashRounds(2048, 3));
});
