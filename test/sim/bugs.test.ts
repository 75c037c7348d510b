import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulationFailure } from '../../src/sim/run.ts';
import { figure8Scenario } from '../../src/sim/scenarios.ts';

// The Figure 8 bug under the hand-made Figure 8 script (src/sim/scenarios.ts): a scripted
// complement to test/sim/bug-catalogue.test.ts, where every deliberate bug (RaftBugs) must be
// found by the default random search, and the same seed must pass on the correct core.

test('commitPreviousTermEntries (Figure 8) is caught by the invariants', () => {
  const caught: SimulationFailure[] = [];
  for (let seed = 1; seed <= 30 && caught.length === 0; seed++) {
    try {
      figure8Scenario({ seed, bugs: { commitPreviousTermEntries: true } });
    } catch (e) {
      if (!(e instanceof SimulationFailure)) throw e;
      caught.push(e);
      // The correct core survives the very same script.
      figure8Scenario({ seed });
    }
  }
  assert.equal(caught.length, 1, 'no seed in 1..30 caught the Figure 8 bug');
  assert.match(caught[0]!.detail, /leader completeness|state machine safety|commit safety|log matching/);
});

test('the Figure 8 script passes on the correct core for every seed', () => {
  for (let seed = 1; seed <= 15; seed++) figure8Scenario({ seed });
});
