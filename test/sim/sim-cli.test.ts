import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUG_CATALOGUE, BUG_NAMES } from '../../src/sim/bug-catalogue.ts';

const CLI = ['--import', 'tsx', 'src/sim/cli.ts'];

function sim(args: readonly string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('--minutes runs seeds until the time is up, with progress lines and a summary with coverage', () => {
  const started = Date.now();
  const r = sim(['--minutes', '0.06']);
  const elapsedMs = Date.now() - started;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(elapsedMs >= 3_500, `ran ${elapsedMs} ms`);
  const summary = JSON.parse(r.stdout) as {
    seeds: number;
    minutes: number;
    failed: number;
    coverage: { covered: number; of: number };
    totals: { faultsInjected: number };
  };
  assert.equal(summary.minutes, 0.06);
  assert.ok(summary.seeds > 5, `${summary.seeds} seeds`);
  assert.equal(summary.failed, 0);
  assert.ok(summary.coverage.covered > 5 && summary.coverage.covered <= summary.coverage.of);
  assert.ok(summary.totals.faultsInjected > 0);
  // A progress line every 2 s (and a last one), then the coverage table.
  const lines = r.stderr
    .split('\n')
    .filter((l) => /^sim: \d+ seeds, [\d.]+ seeds\/s, \d+ faults injected, states covered \d+ of \d+, 0 failed$/.test(l));
  assert.ok(lines.length >= 2, r.stderr);
  assert.match(r.stderr, /coverage \(runs that reached each state, total hits\):\nstate\s+runs\s+hits\n/);
});

test('--bug: the first failing seed, the seeds it took and a shrunk script that --replay replays', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-cli-'));
  const r = sim(['--bug', 'voteTwiceInTerm', '--seeds', '40', '--stop-on-failure']);
  assert.equal(r.code, 1);
  const summary = JSON.parse(r.stdout) as { firstFailure: { seed: number; seedsTaken: number; shrunk: { eventsAfter: number; file: string } } };
  const first = summary.firstFailure;
  assert.equal(first.seedsTaken, first.seed); // seeds start at 1
  assert.match(r.stderr, new RegExp(`first failing seed: ${first.seed}, after ${first.seedsTaken} seeds`));
  assert.match(r.stderr, /--- shrunk trace of seed \d+ ---\n# Shrunk from seed/);
  const script = readFileSync(first.shrunk.file, 'utf8');
  assert.match(script, /^sim seed=/m);
  assert.equal(
    script.split('\n').filter((l) => /^(crash|restart|arm|partition|heal|conf|campaign|transfer) /.test(l)).length,
    first.shrunk.eventsAfter,
  );
  const replay = sim(['--replay', first.shrunk.file]);
  assert.equal(replay.code, 1);
  assert.match(replay.stdout, /^replay .*: invariant failure at \d+ ms/);
  // Without the bug line the same script passes.
  writeFileSync(join(dir, 'fixed.txt'), script.replace(/ bugs=\S+/, ''));
  const fixed = sim(['--replay', join(dir, 'fixed.txt')]);
  assert.equal(fixed.code, 0, fixed.stdout + fixed.stderr);
});

test('--list-bugs prints every planted bug of the catalogue with its one-line description', () => {
  const r = sim(['--list-bugs']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, BUG_NAMES.length);
  for (const name of BUG_NAMES) {
    const line = lines.find((l) => l.split(/\s+/)[0] === name);
    assert.ok(line !== undefined, `${name} is not listed`);
    assert.ok(line.includes(BUG_CATALOGUE[name].description), `${name}: ${line}`);
  }
});
