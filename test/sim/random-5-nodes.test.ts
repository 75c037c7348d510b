import { test } from 'node:test';
import { assertRandomSeedsPass } from './random-seeds.ts';

// A file of its own, so that the 3- and 5-node runs go in parallel under the test runner.
test('5-node cluster: random seeds of mixed faults all pass', () => {
  assertRandomSeedsPass(5, 150, 100001);
});
