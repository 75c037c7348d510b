import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COVERAGE_STATES, CoverageTotals } from '../../src/sim/coverage.ts';
import { Prng } from '../../src/sim/prng.ts';
import { Simulation, runSimulation } from '../../src/sim/run.ts';
import { CLOCK_DRIFT_MAX, drawSwarm } from '../../src/sim/swarm.ts';

test('the swarm draw is a function of the seed', () => {
  for (const seed of [1, 2, 77, 1234]) {
    const a = drawSwarm(new Prng(seed).derive('swarm'));
    const b = drawSwarm(new Prng(seed).derive('swarm'));
    assert.deepEqual(a, b);
  }
});

test('seeds draw different swarms: features on and off, themes, bounded clock drift', () => {
  const summaries = new Set<string>();
  const themes = new Set<string>();
  let crashesOff = 0;
  let nemesisOn = 0;
  for (let seed = 1; seed <= 200; seed++) {
    const d = drawSwarm(new Prng(seed).derive('swarm'));
    summaries.add(d.summary);
    themes.add(d.summary.split(':')[0]!);
    if (d.profile.crashEveryMs === null) crashesOff++;
    if (Object.values(d.profile.nemesis ?? {}).some((v) => v > 0)) nemesisOn++;
    assert.ok((d.profile.clockDrift ?? 0) <= CLOCK_DRIFT_MAX);
    // Never both pre-vote and check-quorum off (a removed server would disrupt forever), and
    // no lease reads without check-quorum (no lease exists then).
    assert.ok(d.timing.preVote !== false || d.timing.checkQuorum !== false);
    if (d.timing.checkQuorum === false) assert.equal(d.clients.leaseReadRatio, 0);
  }
  assert.ok(summaries.size > 190, `${summaries.size} distinct swarms of 200`);
  assert.ok(themes.size >= 8, `themes drawn: ${[...themes].join(', ')}`);
  assert.ok(crashesOff > 40 && crashesOff < 180, `crashes off in ${crashesOff} of 200`);
  assert.ok(nemesisOn > 100, `state-triggered faults on in ${nemesisOn} of 200`);
});

test('a swarm seed replays the same run, line for line', () => {
  const run = (): string[] => {
    const sim = new Simulation({ seed: 31, nodes: 5, profile: 'swarm', fullTrace: true, durationMs: 1500 });
    sim.setFaults(true);
    sim.runUntil(1500);
    sim.healAll();
    sim.awaitLiveness(3000);
    sim.finish();
    return sim.trace.all!;
  };
  const a = run();
  const b = run();
  assert.ok(a.length > 500);
  assert.deepEqual(a, b);
});

test('coverage is counted per run and in total', () => {
  const totals = new CoverageTotals();
  let faults = 0;
  for (let seed = 1; seed <= 12; seed++) {
    const s = runSimulation({ seed, nodes: seed % 2 === 0 ? 3 : 5, profile: 'swarm', durationMs: 2000 });
    totals.add(s.coverage);
    faults += s.faultsInjected;
    for (const state of COVERAGE_STATES) assert.ok(Number.isInteger(s.coverage[state]) && s.coverage[state] >= 0);
  }
  assert.ok(faults > 12, `faults injected: ${faults}`);
  // A dozen swarm seeds reach most interesting states: the report counts them.
  assert.ok(totals.covered >= 9, `covered ${totals.covered} of ${COVERAGE_STATES.length}:\n${totals.table()}`);
  assert.ok(totals.hits.leaderDeposed > 0 && totals.runs.leaderDeposed <= 12);
  assert.match(totals.table(), /leaderWithEarlierTermTail\s+\d+\s+\d+/);
});
