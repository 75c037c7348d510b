import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trySimulation } from '../../src/sim/run.ts';

// The pipelined driver mode drives the core exactly as node/raft-node.ts does: the leader's
// appends and heartbeats leave before its own write, messages, ticks and proposals keep
// stepping the core while a write is pending, and a crash keeps only a prefix of that write.
// (The randomized 3- and 5-node tests run half their seeds in this mode too.)
const PROFILES = ['mixed', 'churn', 'partitions', 'figure8', 'membership'];

test('pipelined driver: random seeds pass, and the run really pipelines', () => {
  const failures: string[] = [];
  const pipeline = { earlySends: 0, stepsWhileWriting: 0, tornWrites: 0 };
  let committed = 0;
  const SEEDS = 40;
  for (let seed = 300001; seed < 300001 + SEEDS; seed++) {
    const profile = PROFILES[seed % PROFILES.length]!;
    const r = trySimulation({ seed, nodes: seed % 2 === 0 ? 3 : 5, profile, durationMs: 2000, driver: 'pipelined' });
    if (!r.ok) failures.push(`[${profile}] ${r.failure.message}`);
    else {
      assert.equal(r.stats.driver, 'pipelined');
      committed += r.stats.committed;
      pipeline.earlySends += r.stats.pipeline.earlySends;
      pipeline.stepsWhileWriting += r.stats.pipeline.stepsWhileWriting;
      pipeline.tornWrites += r.stats.pipeline.tornWrites;
    }
  }
  assert.equal(failures.length, 0, `${failures.length} of ${SEEDS} seeds failed:\n${failures.slice(0, 2).join('\n\n')}`);
  assert.ok(committed > SEEDS * 20, `committed ${committed}`);
  assert.ok(pipeline.earlySends > SEEDS * 50, `early sends ${pipeline.earlySends}`);
  assert.ok(pipeline.stepsWhileWriting > SEEDS * 50, `steps while writing ${pipeline.stepsWhileWriting}`);
  assert.ok(pipeline.tornWrites > 5, `torn writes ${pipeline.tornWrites}`);
});

test('one voter plus learners: membership changes from and back to a single voter', () => {
  const failures: string[] = [];
  let grew = 0;
  let shrankToOne = 0;
  const SEEDS = 30;
  for (let seed = 400001; seed < 400001 + SEEDS; seed++) {
    const profile = PROFILES[seed % PROFILES.length]!;
    const driver = seed % 3 === 0 ? 'sync' : 'pipelined';
    const r = trySimulation({ seed, nodes: seed % 2 === 0 ? 3 : 4, profile, durationMs: 2000, topology: 'oneVoter', driver });
    if (!r.ok) failures.push(`[${profile}] ${r.failure.message}`);
    else {
      assert.equal(r.stats.topology, 'oneVoter');
      if (r.stats.voters.max > 1) grew++;
      if (r.stats.voters.max > 1 && r.stats.voters.min === 1) shrankToOne++;
    }
  }
  assert.equal(failures.length, 0, `${failures.length} of ${SEEDS} seeds failed:\n${failures.slice(0, 2).join('\n\n')}`);
  assert.ok(grew > SEEDS / 2, `only ${grew} runs grew past one voter`);
  assert.ok(shrankToOne > 0, 'no run went back to one voter');
});

test('the driver mode is chosen from the seed when not given: both modes run', () => {
  const drivers = new Set<string>();
  for (let seed = 1; seed <= 8 && drivers.size < 2; seed++) {
    const r = trySimulation({ seed, nodes: 3, durationMs: 300 });
    assert.ok(r.ok, r.ok ? '' : r.failure.message);
    drivers.add(r.stats.driver);
  }
  assert.deepEqual([...drivers].sort(), ['pipelined', 'sync']);
});
