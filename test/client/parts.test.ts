// The client's small pure parts: ids, node choice, URL parsing, equality (backoff: test/backoff.test.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isSameDocument, jsonEqual } from '../../src/client/deep-equal.ts';
import { createIdGenerator } from '../../src/client/ids.ts';
import { NodeSelector, normalizeUrl } from '../../src/client/node-selector.ts';

describe('createIdGenerator', () => {
  test('ids are unique and strictly increasing, even when the clock steps back', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 ** 45 }), { minLength: 1, maxLength: 200, size: 'max' }), (times) => {
        let i = 0;
        const next = createIdGenerator(() => times[i++ % times.length]!);
        const ids = times.map(() => next());
        return ids.every((id, k) => k === 0 || id > ids[k - 1]!);
      }),
      { numRuns: 100 },
    );
  });

  test('two generators do not collide', () => {
    const a = createIdGenerator(() => 5);
    const b = createIdGenerator(() => 5);
    const ids = new Set<string>();
    for (let k = 0; k < 1000; k++) ids.add(a()).add(b());
    assert.equal(ids.size, 2000);
  });
});

describe('NodeSelector', () => {
  test('sticks to the node that worked, moves on after a failure, wraps around', () => {
    const s = new NodeSelector(['http://a:1', 'http://b:1', 'http://c:1']);
    assert.equal(s.pick(), 'http://a:1');
    s.failed('http://a:1');
    assert.equal(s.pick(), 'http://b:1');
    s.failed('http://a:1'); // stale report: another request already moved on
    assert.equal(s.pick(), 'http://b:1');
    s.failed('http://b:1');
    s.failed('http://c:1');
    assert.equal(s.pick(), 'http://a:1');
    s.succeeded('http://c:1');
    assert.equal(s.pick(), 'http://c:1');
  });

  test('leader hints select a known node or learn a new one', () => {
    const s = new NodeSelector(['http://a:1', 'http://b:1']);
    assert.equal(s.leaderHint('http://b:1/'), true);
    assert.equal(s.pick(), 'http://b:1');
    assert.equal(s.leaderHint('http://b:1'), false);
    assert.equal(s.leaderHint('c:7'), true);
    assert.deepEqual(s.list(), ['http://a:1', 'http://b:1', 'http://c:7']);
    assert.equal(s.leaderHint('not a url at all ://'), false);
    assert.equal(s.pick(), 'http://c:7');
  });
});

describe('normalizeUrl', () => {
  test('accepts origins with or without scheme and trailing slash', () => {
    assert.equal(normalizeUrl('http://127.0.0.1:8080/', true), 'http://127.0.0.1:8080');
    assert.equal(normalizeUrl('127.0.0.1:8080', true), 'http://127.0.0.1:8080');
    assert.equal(normalizeUrl('https://db.example:443', true), 'https://db.example');
  });
  test('refuses other schemes and paths', () => {
    assert.throws(() => normalizeUrl('ftp://h:1', true), TypeError);
    assert.throws(() => normalizeUrl('http://h:1/api', true), TypeError);
    assert.equal(normalizeUrl('http://h:1/api', false), null);
  });
});

describe('jsonEqual / isSameDocument', () => {
  test('ignores key order and undefined members, not values', () => {
    assert.ok(jsonEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 }));
    assert.ok(jsonEqual({ a: 1, u: undefined }, { a: 1 }));
    assert.ok(!jsonEqual({ a: 1 }, { a: '1' }));
    assert.ok(!jsonEqual([1, 2], [2, 1]));
    assert.ok(!jsonEqual({ a: [] }, { a: {} }));
  });
  test('a document is ours whatever its _rev; dates compare as their JSON', () => {
    const when = new Date(0);
    assert.ok(isSameDocument({ _id: 'x', at: when }, { _id: 'x', _rev: 9, at: when.toJSON() }));
    assert.ok(!isSameDocument({ _id: 'x', v: 1 }, { _id: 'x', _rev: 9, v: 2 }));
    assert.ok(!isSameDocument({ _id: 'x' }, { _id: 'x', _rev: 9, extra: true }));
  });
  test('property: equal to its JSON round trip with shuffled keys', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const copy = JSON.parse(JSON.stringify(value)) as unknown;
        return jsonEqual(value, copy) && jsonEqual(copy, value);
      }),
      { numRuns: 200 },
    );
  });
});
