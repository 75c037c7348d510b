#!/usr/bin/env node
// Runs every test file under test/ with Node's test runner and tsx (the processes the tests
// start run the compiled build: `npm test` builds it first).
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

/**
 * Files that measure time on a real cluster (a follower's longest gap between messages from
 * its leader) run after the others, alone: on a 2-core machine a CPU-bound file running
 * beside them takes a core from the three nodes and adds tens of ms that are not the product's.
 */
const ALONE = ['test/cluster/heavy-requests.test.ts'];

const filter = process.argv[2];
const files = collect('test').filter((f) => !filter || f.includes(filter));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const together = files.filter((f) => !ALONE.includes(f));
const alone = files.filter((f) => ALONE.includes(f));
// Locks that serialise test files (the real clusters) live in a directory of this run
// only, so a lock left behind by a killed earlier run can never hold this one up.
const runDir = mkdtempSync(join(tmpdir(), 'collection-store-test-run-'));
function run(list, concurrency) {
  if (list.length === 0) return 0;
  const result = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${concurrency}`,
      // A file whose tests have all finished exits even if a failed test left a server
      // or a timer behind: a failure must fail the run, never hang it.
      '--test-force-exit',
      `--test-timeout=${FILE_TIMEOUT_MS}`,
      '--test-reporter=spec',
      ...list,
    ],
    // CS_TEST_DIST: node and CLI processes run the compiled build, which `npm test` has just
    // made from these sources (test/product-process.ts): tsx would compile each of the few
    // hundred the suite starts again.
    { stdio: 'inherit', env: { ...process.env, CS_TEST_RUN_DIR: runDir, CS_TEST_DIST: '1' } },
  );
  return result.status ?? 1;
}
const statusTogether = run(together, 2);
const statusAlone = run(alone, 1);
rmSync(runDir, { recursive: true, force: true });
process.exit(statusTogether !== 0 ? statusTogether : statusAlone);
