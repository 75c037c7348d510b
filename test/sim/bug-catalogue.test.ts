import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUG_CATALOGUE, BUG_NAMES } from '../../src/sim/bug-catalogue.ts';
import { SWARM, trySimulation, type SimOutcome } from '../../src/sim/run.ts';
import type { RaftBugs } from '../../src/raft/types.ts';

// Every planted bug of the catalogue (src/sim/bug-catalogue.ts) must be found by the DEFAULT
// random search: seeds from 1, run exactly as `npm run sim -- --bug NAME --seeds N` runs them,
// until one fails. The failure must be a checker's verdict (an invariant, linearizability,
// liveness after healing, or an assertion of the core), never an exception of the harness, and
// the correct core must pass that very seed. This file fails when a bug stops being found.

/** Seeds tried per bug before it counts as not found (the bar is 1,000). */
const SEEDS_PER_BUG_MAX = 1000;
/** The whole file stays within this (2 shared cores): a bug still unfound when it runs out fails. */
const FILE_TIME_MS_MAX = 85_000;

/** The run `npm run sim` makes of a seed by default (src/sim/cli.ts: node count, topology and
 * profile chosen from the seed; driver and everything else drawn from it). */
function defaultRun(seed: number, bugs: RaftBugs | undefined): SimOutcome {
  return trySimulation({
    seed,
    nodes: seed % 2 === 0 ? 3 : 5,
    profile: SWARM,
    durationMs: 3000,
    bugs,
    topology: seed % 4 === 3 ? 'oneVoter' : 'voters',
  });
}

const CHECKER_VERDICTS = new Set(['invariant', 'linearizability', 'liveness', 'core-assertion']);
const fileStarted = performance.now();

for (const name of BUG_NAMES) {
  test(`${name}: ${BUG_CATALOGUE[name].description}`, (t) => {
    const bugs: RaftBugs = { [name]: true };
    for (let seed = 1; seed <= SEEDS_PER_BUG_MAX; seed++) {
      const elapsed = performance.now() - fileStarted;
      assert.ok(elapsed < FILE_TIME_MS_MAX, `${name}: not found in seeds 1..${seed - 1} before the file's time budget ran out`);
      const r = defaultRun(seed, bugs);
      if (r.ok) continue;
      assert.ok(CHECKER_VERDICTS.has(r.failure.kind), `${name}, seed ${seed}: not a checker's verdict:\n${r.failure.message}`);
      // The bug made the difference only if the correct core passes the same seed. Runs are
      // deterministic, so a seed the correct core fails is a finding of its own (a core or
      // harness bug), never noise: it fails this file rather than being skipped.
      const correct = defaultRun(seed, undefined);
      assert.ok(correct.ok, `${name}: seed ${seed} fails on the correct core too:\n${correct.ok ? '' : correct.failure.message}`);
      t.diagnostic(`found at seed ${seed} (${r.failure.kind})`);
      return;
    }
    assert.fail(`${name}: not found in seeds 1..${SEEDS_PER_BUG_MAX}`);
  });
}
