import assert from 'node:assert/strict';
import { trySimulation } from '../../src/sim/run.ts';

// Randomized safety and liveness: every seed runs the real Raft core through random faults
// (crashes at any point of the ready cycle, partitions including asymmetric and 2/3 splits,
// drop, duplicate, delay, reorder, membership changes; and swarm draws with state-triggered
// faults, see docs/simulation.md), then heals and must make progress;
// every step is checked against Raft's invariants, the history for linearizability.
const PROFILES = ['mixed', 'churn', 'partitions', 'figure8', 'membership', 'swarm'];

/** Runs `seeds` consecutive seeds on a cluster of `nodes` and asserts that all pass and did real work. */
export function assertRandomSeedsPass(nodes: number, seeds: number, firstSeed: number): void {
  const failures: string[] = [];
  let committed = 0;
  let readsOk = 0;
  let crashes = 0;
  for (let seed = firstSeed; seed < firstSeed + seeds; seed++) {
    const profile = PROFILES[seed % PROFILES.length]!;
    const r = trySimulation({ seed, nodes, profile, durationMs: 2000 });
    if (!r.ok) failures.push(`[${profile}] ${r.failure.message}`);
    else {
      committed += r.stats.committed;
      readsOk += r.stats.clients.readsOk;
      crashes += r.stats.crashes;
    }
  }
  assert.equal(failures.length, 0, `${failures.length} of ${seeds} seeds failed:\n${failures.slice(0, 2).join('\n\n')}`);
  // The runs did real work: entries committed, reads served, nodes crashed.
  assert.ok(committed > seeds * 20, `committed ${committed}`);
  assert.ok(readsOk > seeds * 10, `reads ${readsOk}`);
  assert.ok(crashes > seeds, `crashes ${crashes}`);
}
