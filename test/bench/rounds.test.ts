// Alternating rounds and their summary (bench/rounds.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { alternate, pairedRatios, ratio, summarize } from '../../bench/rounds.ts';

describe('rounds', () => {
  test('alternate runs the subjects in turn, round after round', async () => {
    const order: string[] = [];
    const values = await alternate(['ours', 'lmdb', 'sqlite'] as const, 2, async (s, r) => {
      order.push(`${s}${r}`);
      return r;
    });
    assert.deepEqual(order, ['ours0', 'lmdb0', 'sqlite0', 'ours1', 'lmdb1', 'sqlite1']);
    assert.deepEqual(values.lmdb, [0, 1]);
  });

  test('summarize: the median (middle pair averaged), the range and the spread over the median', () => {
    assert.deepEqual(summarize([30, 10, 20]), { median: 20, min: 10, max: 30, spread: 1, rounds: [30, 10, 20] });
    assert.equal(summarize([4, 1, 3, 2]).median, 2.5);
    assert.throws(() => summarize([]), /no rounds/);
  });

  test('pairedRatios: the median of ours / the best peer, round by round', () => {
    // Round 2 is slow for everyone (a busy box): the paired ratio does not move.
    const ours = [100, 50, 100];
    assert.deepEqual(pairedRatios(ours, [50, 25, 50]), { median: 2, rounds: [2, 2, 2] });
    assert.deepEqual(pairedRatios(ours, [50, 100, 25], [200, 10, 20]), { median: 0.5, rounds: [0.5, 0.5, 4] });
    assert.equal(pairedRatios(ours, [0, 0, 0]), null);
  });

  test('ratio is ours over the peer, and null against a peer that measured 0', () => {
    assert.equal(ratio(3, 2), 1.5);
    assert.equal(ratio(3, 0), null);
  });
});
