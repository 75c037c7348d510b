import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compareValues, KeyBound, MAX_VALUE, MIN_VALUE, RANK_NUMBER, RANK_STRING } from '../../src/store/key-order.ts';

describe('key order (BSON type order)', () => {
  test('null < numbers < strings < objects < arrays < booleans', () => {
    const ordered = [null, -5, 0, 2.5, 1e9, '', 'a', 'b', 'ba', {}, { a: 1 }, [], [1], false, true];
    for (let i = 0; i < ordered.length; i++) {
      for (let j = 0; j < ordered.length; j++) {
        const c = compareValues(ordered[i], ordered[j]);
        assert.equal(Math.sign(c), Math.sign(i - j), `${JSON.stringify(ordered[i])} vs ${JSON.stringify(ordered[j])}`);
      }
    }
  });

  test('numbers compare numerically, missing equals null', () => {
    assert.ok(compareValues(9, 10) < 0);
    assert.ok(compareValues('9', '10') > 0);
    assert.equal(compareValues(undefined, null), 0);
  });

  test('objects compare pair by pair: value type, then key, then value', () => {
    assert.ok(compareValues({ a: 1 }, { a: 2 }) < 0);
    assert.ok(compareValues({ a: 1 }, { b: 1 }) < 0);
    assert.ok(compareValues({ b: 1 }, { a: 'x' }) < 0); // number value sorts before string value
    assert.ok(compareValues({ a: 1 }, { a: 1, b: 0 }) < 0);
    assert.ok(compareValues([1, 2], [1, 3]) < 0);
    assert.ok(compareValues([1, 2], [1]) > 0);
  });

  test('bounds sit around a whole type', () => {
    const afterNumbers = new KeyBound(RANK_NUMBER, 1);
    const beforeStrings = new KeyBound(RANK_STRING, -1);
    assert.ok(compareValues(1e300, afterNumbers) < 0);
    assert.ok(compareValues(afterNumbers, '') < 0);
    assert.ok(compareValues(beforeStrings, '') < 0);
    assert.ok(compareValues(beforeStrings, 5) > 0);
    assert.ok(compareValues(MIN_VALUE, null) < 0);
    assert.ok(compareValues(MAX_VALUE, true) > 0);
  });
});
