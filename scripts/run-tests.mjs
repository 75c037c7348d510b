#!/usr/bin/env node
// Runs every test file under test/ with Node's test runner and tsx.
// Node 20's --test takes no glob patterns, so the file list is built here.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

/**
 * A test file (its whole process) that runs longer than this fails instead of hanging
 * the run. The longest file takes well under a minute; cluster files also wait for each
 * other's lock, so the bound is generous.
 */
const FILE_TIMEOUT_MS = 10 * 60 * 1000;

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...collect(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const filter = process.argv[2];
const files = collect('test').filter((f) => !filter || f.includes(filter));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// Locks that serialise test files (the real clusters) live in a directory of this run
// only, so a lock left behind by a killed earlier run can never hold this one up.
const runDir = mkdtempSync(join(tmpdir(), 'collection-store-test-run-'));
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=2',
    // A file whose tests have all finished exits even if a failed test left a server
    // or a timer behind: a failure must fail the run, never hang it.
    '--test-force-exit',
    `--test-timeout=${FILE_TIMEOUT_MS}`,
    '--test-reporter=spec',
    ...files,
  ],
  { stdio: 'inherit', env: { ...process.env, CS_TEST_RUN_DIR: runDir } },
);
rmSync(runDir, { recursive: true, force: true });
process.exit(result.status ?? 1);
