// `npm run bench`'s command line: --help prints the usage; an unknown flag or a missing value
// is refused at once (exit 2), before any benchmark runs, instead of being ignored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

function bench(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/main.ts', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('--help prints the usage and runs nothing', () => {
  const r = bench('--help');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^usage: npm run bench \[-- SUITE\] \[options\]/);
  assert.match(r.stdout, /--compare FILE/);
  assert.equal(r.stderr, '');
});

test('an unknown flag, a missing value or an unknown suite: exit 2 with the reason, nothing run', () => {
  for (const [args, reason] of [
    [['--qiuck'], /Unknown option '--qiuck'/],
    [['cluster', '--compare'], /--compare <value>' argument missing/],
    [['clutser'], /unknown benchmark suite "clutser"/],
    [['cluster', 'embedded'], /one suite at a time/],
  ] as const) {
    const r = bench(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, reason);
    assert.equal(r.stdout, '', 'no results');
  }
});
