// Kill -9 a writer at random moments; after each reopen every write it
// acknowledged must be there (and the database must open at all).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from '../../src/index.ts';

const fixture = join(import.meta.dirname, 'fixtures', 'embedded-writer.ts');

function runAndKill(dir: string, round: number, killAfterMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, dir, String(round)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let buffered = '';
    const acked: string[] = [];
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        if (line === 'ready') timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        else if (line !== '') acked.push(line);
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`writer exited on its own: code ${code}`));
      else resolve(acked);
    });
  });
}

test('every acknowledged insert survives SIGKILL at random moments', { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cs-crash-'));
  try {
    const acknowledged: string[] = [];
    for (let round = 0; round < 6; round++) {
      const killAfter = 100 + Math.floor(Math.random() * 400);
      acknowledged.push(...(await runAndKill(dir, round, killAfter)));
      const db = await open({ dir, onWarning: () => {} });
      const col = db.collection('crash');
      const missing = acknowledged.filter((id) => col.get(id) === null);
      assert.deepEqual(missing.slice(0, 10), [], `round ${round}: ${missing.length} acknowledged writes lost`);
      await db.close();
    }
    assert.ok(acknowledged.length > 100, `only ${acknowledged.length} writes were acknowledged`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
