import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreError } from '../../src/store/errors.ts';
import { parseConsistency, parseFields, parseIfMatch, parseJsonParam, parseNonNegativeInt, queryParams } from '../../src/server/http-input.ts';

const code = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof StoreError, String(e));
    return e.code;
  }
  return 'none';
};

describe('http input parsing', () => {
  test('If-Match accepts "17", 17 and W/"17"; refuses anything else', () => {
    assert.equal(parseIfMatch(undefined), undefined);
    assert.equal(parseIfMatch('"17"'), 17);
    assert.equal(parseIfMatch('17'), 17);
    assert.equal(parseIfMatch('W/"17"'), 17);
    assert.equal(parseIfMatch(' "0" '), 0);
    for (const bad of ['', '*', '"17', '17"', 'W/17x', '-1', '1e3', '"1", "2"', '99999999999999999', 'w/"1"']) {
      assert.equal(
        code(() => parseIfMatch(bad)),
        'BAD_REQUEST',
        bad,
      );
    }
    assert.equal(
      code(() => parseIfMatch(['1', '2'])),
      'BAD_REQUEST',
    );
  });

  test('query-string JSON refuses prototype keys at any depth', () => {
    assert.deepEqual(parseJsonParam('{"a":{"b":[1]}}', 'filter'), { a: { b: [1] } });
    for (const bad of ['{"__proto__":{}}', '{"a":[{"constructor":1}]}', '{"a":{"prototype":1}}']) {
      assert.equal(
        code(() => parseJsonParam(bad, 'filter')),
        'VALIDATION',
        bad,
      );
    }
    assert.equal(
      code(() => parseJsonParam('{', 'filter')),
      'BAD_REQUEST',
    );
    assert.equal(
      code(() => parseJsonParam(`"${'x'.repeat(70_000)}"`, 'filter')),
      'BAD_REQUEST',
    );
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  test('integers, consistency, fields and the allowed parameter list', () => {
    assert.equal(parseNonNegativeInt('0', 'limit'), 0);
    assert.equal(parseNonNegativeInt('100', 'limit', 100), 100);
    for (const bad of ['-1', '1.0', '', ' 1', '0x10', '101'])
      assert.equal(
        code(() => parseNonNegativeInt(bad, 'limit', 100)),
        'BAD_REQUEST',
        bad,
      );
    assert.equal(parseConsistency(undefined), 'linearizable');
    assert.equal(parseConsistency('lease'), 'lease');
    assert.equal(
      code(() => parseConsistency('LOCAL')),
      'BAD_REQUEST',
    );
    assert.deepEqual(parseFields('a, b.c'), { a: 1, 'b.c': 1 });
    assert.deepEqual(queryParams({ limit: '1' }, ['limit', 'skip']), { limit: '1' });
    assert.equal(
      code(() => queryParams({ limt: '1' }, ['limit'])),
      'BAD_REQUEST',
    );
    assert.equal(
      code(() => queryParams({ limit: ['1', '2'] }, ['limit'])),
      'BAD_REQUEST',
    );
  });
});
