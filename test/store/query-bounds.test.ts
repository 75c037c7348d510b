// No filter can stall a node: $regex runs on RE2 (linear time), JavaScript in queries is
// refused, and the shape of a filter is bounded (branches, list values, nesting).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TestStore } from './helpers.ts';
import { open } from '../../src/index.ts';
import { ValidationError } from '../../src/store/errors.ts';
import {
  FILTER_BRANCHES_MAX,
  FILTER_DEPTH_LEVELS_MAX,
  FILTER_LIST_VALUES_MAX,
  FILTER_REGEXES_MAX,
  validateFilter,
} from '../../src/store/validate-filter.ts';
import { REGEX_PATTERN_CHARS_MAX } from '../../src/store/query-regex.ts';
import { validateUpdate } from '../../src/store/validate-update.ts';
import type { JsonObject } from '../../src/store/types.ts';

function refused(filter: unknown, message: RegExp): void {
  assert.throws(
    () => validateFilter(filter),
    (e: unknown) => e instanceof ValidationError && message.test(e.message),
    JSON.stringify(filter).slice(0, 200),
  );
}

describe('$regex on RE2', () => {
  test('the catastrophic pattern (a+)+$ against 10,000 long strings answers in well under a second', () => {
    const t = new TestStore();
    const docs = Array.from({ length: 10_000 }, (_, i) => ({ _id: `d${i}`, s: 'a'.repeat(27) + 'b' }));
    t.insert('c', ...docs);
    t.insert('c', { _id: 'hit', s: 'aaaa' });
    const started = performance.now();
    assert.deepEqual(t.ids('c', { s: { $regex: '(a+)+$' } }), ['hit']);
    assert.equal(t.store.count('c', { s: { $regex: '^(a|aa)+$', $options: 'i' } }), 1);
    const ms = performance.now() - started;
    // A backtracking engine takes seconds for one of these strings; RE2 takes microseconds.
    assert.ok(ms < 1000, `took ${ms} ms`);
  });

  test('unanchored search, $options i/m/s/u, $not, $elemMatch and arrays as before', () => {
    const t = new TestStore();
    t.insert(
      'c',
      { _id: 'a', s: 'Hello\nworld', tags: ['red', 'green'] },
      { _id: 'b', s: 'say hello', tags: [['blue']] },
      { _id: 'c', s: 42, tags: [] },
      { _id: 'd', items: [{ name: 'apple' }, { name: 'pear' }] },
    );
    assert.deepEqual(t.ids('c', { s: { $regex: 'ello' } }), ['a', 'b']);
    assert.deepEqual(t.ids('c', { s: { $regex: '^hello', $options: 'i' } }), ['a']);
    assert.deepEqual(t.ids('c', { s: { $regex: '^world', $options: 'm' } }), ['a']);
    assert.deepEqual(t.ids('c', { s: { $regex: '^world' } }), []);
    assert.deepEqual(t.ids('c', { s: { $regex: 'o.w', $options: 's' } }), ['a']);
    assert.deepEqual(t.ids('c', { s: { $regex: 'o.w', $options: 'u' } }), []);
    assert.deepEqual(t.ids('c', { s: { $not: { $regex: 'hello' } } }), ['a', 'c', 'd']);
    assert.deepEqual(t.ids('c', { tags: { $regex: '^gr' } }), ['a']);
    assert.deepEqual(t.ids('c', { tags: { $regex: 'lu' } }), ['b']);
    assert.deepEqual(t.ids('c', { items: { $elemMatch: { name: { $regex: 'pp' } } } }), ['d']);
    assert.deepEqual(t.ids('c', { $or: [{ s: { $regex: 'say' } }, { 'items.name': { $regex: 'ear$' } }] }), ['b', 'd']);
  });

  test('results equal JS RegExp on simple patterns (property)', () => {
    const atom = fc.constantFrom('a', 'b', 'c', '.', '[ab]', '[^a]', '\\d', 'x');
    const quant = fc.constantFrom('', '*', '+', '?', '{1,2}');
    const piece = fc.tuple(atom, quant).map(([a, q]) => a + q);
    const seq = fc.array(piece, { minLength: 1, maxLength: 4 }).map((p) => p.join(''));
    const pattern = fc
      .tuple(fc.constantFrom('', '^'), fc.array(seq, { minLength: 1, maxLength: 3 }), fc.constantFrom('', '$'))
      .map(([start, alts, end]) => `${start}(?:${alts.join('|')})${end}`);
    const text = fc.string({ unit: fc.constantFrom('a', 'b', 'c', '1', 'x', 'A', '\n'), maxLength: 12 });
    fc.assert(
      fc.property(pattern, fc.constantFrom('', 'i', 'm', 's', 'ims'), fc.array(text, { minLength: 1, maxLength: 8 }), (p, options, texts) => {
        const t = new TestStore();
        t.insert('c', ...texts.map((s, i): JsonObject => ({ _id: String(i).padStart(2, '0'), s })));
        const re = new RegExp(p, options);
        const expected = texts.flatMap((s, i) => (re.test(s) ? [String(i).padStart(2, '0')] : []));
        assert.deepEqual(t.ids('c', { s: { $regex: p, $options: options } }), expected, `${p} /${options}`);
      }),
      { numRuns: 300 },
    );
  });

  test('patterns RE2 cannot run, unknown flags and overlong patterns are refused naming the problem', () => {
    refused({ a: { $regex: '(a)\\1' } }, /^filter\.a\.\$regex: invalid regular expression for RE2 \(no backreferences or lookaround\)/);
    refused({ a: { $regex: 'x(?=y)' } }, /^filter\.a\.\$regex: invalid regular expression for RE2/);
    refused({ a: { $regex: '(?<!y)x' } }, /^filter\.a\.\$regex: invalid regular expression for RE2/);
    refused({ a: { $regex: '(' } }, /invalid regular expression/);
    refused({ a: { $regex: 'a', $options: 'x' } }, /^filter\.a\.\$options: flag "x" is not supported/);
    refused({ a: { $regex: 'a', $options: 'ig' } }, /^filter\.a\.\$options: flag "g" is not supported/);
    refused({ a: { $regex: 'a', $options: 1 } }, /^filter\.a\.\$options: /);
    refused({ a: { $regex: 'a'.repeat(REGEX_PATTERN_CHARS_MAX + 1) } }, /longer than 1024 characters \(REGEX_PATTERN_CHARS_MAX\)/);
    validateFilter({ a: { $regex: 'a'.repeat(REGEX_PATTERN_CHARS_MAX) } });
    refused({ $or: [{ a: { $not: { $regex: '\\1' } } }] }, /^filter\.\$or\.0\.a\.\$not\.\$regex: invalid regular expression/);
    refused({ a: /x/ }, /RegExp is not a JSON value/);
    refused({ a: { $in: [/x/] } }, /RegExp is not a JSON value/);
  });
});

describe('$regex in $pull conditions (updates) on RE2', () => {
  test(`the filter bounds hold for the whole update: ${FILTER_REGEXES_MAX} $regex over many $pull fields pass, one more is refused`, () => {
    const pulls = (n: number): JsonObject => Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, { $regex: `^x${i}` }]));
    validateUpdate({ $pull: pulls(FILTER_REGEXES_MAX) });
    assert.throws(() => validateUpdate({ $pull: pulls(FILTER_REGEXES_MAX + 1) }), /FILTER_REGEXES_MAX/);
  });

  const doc = { _id: 'x', tags: ['a'.repeat(27) + 'b', 'Zz', 'keep'] };

  test('the store applies $pull with RE2: a catastrophic pattern is fast, RE2 syntax works', () => {
    const t = new TestStore();
    t.insert('c', doc);
    const started = performance.now();
    t.ok({ type: 'update', collection: 'c', filter: { _id: 'x' }, update: { $pull: { tags: { $regex: '(a+)+$' } } }, multi: false, upsert: false });
    assert.ok(performance.now() - started < 1000);
    // (?i) is RE2 syntax (JS RegExp refuses it).
    t.ok({ type: 'update', collection: 'c', filter: { _id: 'x' }, update: { $pull: { tags: { $regex: '(?i)^zz$' } } }, multi: false, upsert: false });
    assert.deepEqual(t.store.get('c', 'x')?.['tags'], [doc.tags[0], 'keep']);
    t.ok({
      type: 'update',
      collection: 'c',
      filter: { _id: 'x' },
      update: { $pull: { tags: { $regex: 'B$', $options: 'i' } } },
      multi: false,
      upsert: false,
    });
    assert.deepEqual(t.store.get('c', 'x')?.['tags'], ['keep']);
  });

  test('a transaction sees its own $pull as the store will apply it', async () => {
    const db = await open({ memory: true });
    try {
      await db.collection('c').insert(doc);
      const seen = await db.transaction((tx) => {
        const after = tx.collection('c').updateById('x', { $pull: { tags: { $regex: '(?i)^zz$|(a+)+$' } } });
        return after['tags'];
      });
      assert.deepEqual(seen, [doc.tags[0], 'keep']);
      assert.deepEqual((await db.collection('c').get('x'))?.['tags'], [doc.tags[0], 'keep']);
    } finally {
      await db.close();
    }
  });
});

describe('JavaScript in queries', () => {
  test('$where, $function, $accumulator and $expr are refused wherever they appear', () => {
    const js = 'function () { return true; }';
    const filters: unknown[] = [
      { $where: js },
      { $where: 'this.a == 1' },
      { $expr: { $function: { body: js, args: [], lang: 'js' } } },
      { $expr: { $eq: ['$a', 1] } },
      { a: { $where: js } },
      { a: { $function: { body: js, args: [], lang: 'js' } } },
      { a: { $accumulator: { init: js } } },
      { $function: { body: js, args: [], lang: 'js' } },
      { $accumulator: { init: js, accumulate: js, accumulateArgs: [], merge: js, lang: 'js' } },
      { $or: [{ $where: js }] },
      { a: { $elemMatch: { $where: js } } },
      { a: { $not: { $where: js } } },
    ];
    for (const filter of filters) refused(filter, /(\$where|\$function|\$accumulator|\$expr) is not supported: queries never run JavaScript/);
    const t = new TestStore();
    t.insert('c', { _id: 'x', a: 1 });
    for (const filter of filters) assert.throws(() => t.store.find('c', filter as JsonObject), ValidationError);
  });
});

describe('bounds on the shape of a filter', () => {
  const branches = (n: number): JsonObject[] => Array.from({ length: n }, (_, i) => ({ a: i }));

  test(`at most ${FILTER_BRANCHES_MAX} branches of $or/$and/$nor in all`, () => {
    validateFilter({ $or: branches(FILTER_BRANCHES_MAX) });
    refused({ $or: branches(FILTER_BRANCHES_MAX + 1) }, /^filter\.\$or: filter has more than 1024 branches .*\(FILTER_BRANCHES_MAX\)/);
    // Counted across operators and levels.
    const half = FILTER_BRANCHES_MAX / 2;
    validateFilter({ $or: branches(half - 1), $and: [{ $nor: branches(half) }] });
    refused({ $or: branches(half), $and: [{ $nor: branches(half) }] }, /FILTER_BRANCHES_MAX/);
    const t = new TestStore();
    t.insert('c', { _id: 'x', a: 5 });
    assert.deepEqual(t.ids('c', { $or: branches(FILTER_BRANCHES_MAX) }), ['x']);
    assert.throws(() => t.ids('c', { $or: branches(FILTER_BRANCHES_MAX + 1) }), ValidationError);
  });

  test(`at most ${FILTER_LIST_VALUES_MAX} values in $in/$nin/$all lists in all`, () => {
    const values = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
    validateFilter({ a: { $in: values(FILTER_LIST_VALUES_MAX) } });
    validateFilter({ a: { $nin: values(FILTER_LIST_VALUES_MAX) } });
    refused(
      { a: { $in: values(FILTER_LIST_VALUES_MAX + 1) } },
      new RegExp(`^filter\\.a\\.\\$in: filter has more than ${FILTER_LIST_VALUES_MAX} values .*\\(FILTER_LIST_VALUES_MAX\\)`),
    );
    refused({ a: { $nin: values(FILTER_LIST_VALUES_MAX + 1) } }, /^filter\.a\.\$nin: .*FILTER_LIST_VALUES_MAX/);
    validateFilter({ a: { $in: values(FILTER_LIST_VALUES_MAX - 1) }, $or: [{ b: { $all: [1] } }] });
    refused({ a: { $in: values(FILTER_LIST_VALUES_MAX) }, $or: [{ b: { $all: [1] } }] }, /FILTER_LIST_VALUES_MAX/);
  });

  test(`at most ${FILTER_REGEXES_MAX} $regex operators, and the costliest of them stay fast`, () => {
    // Patterns of large programs (RE2's largest repeat, Unicode classes), all different.
    const regexes = (n: number): JsonObject[] => Array.from({ length: n }, (_, i) => ({ s: { $regex: `(?i)[\\pL\\pN]{${1000 - i}}` } }));
    validateFilter({ $or: regexes(FILTER_REGEXES_MAX) });
    refused(
      { $or: regexes(FILTER_REGEXES_MAX + 1) },
      /^filter\.\$or\.16\.s\.\$regex: filter has more than 16 \$regex operators \(FILTER_REGEXES_MAX\)/,
    );
    refused({ a: { $regex: 'a' }, b: { $not: { $regex: 'b' } }, $or: regexes(FILTER_REGEXES_MAX - 1) }, /FILTER_REGEXES_MAX/);
    const t = new TestStore();
    t.insert('c', ...Array.from({ length: 1000 }, (_, i) => ({ _id: `d${i}`, s: `é${i}-`.repeat(40) })));
    const started = performance.now();
    const filter = { $or: Array.from({ length: FILTER_REGEXES_MAX }, (_, i) => ({ s: { $regex: `${i}(?i)[\\pL\\pN]{${1000 - i}}` } })) };
    assert.deepEqual(t.ids('c', filter), []);
    const ms = performance.now() - started;
    assert.ok(ms < 1000, `took ${ms} ms`);
  });

  test(`at most ${FILTER_DEPTH_LEVELS_MAX} levels of nesting`, () => {
    // Each $and adds one level; the field condition at the bottom is one more.
    const nested = (levels: number): JsonObject => {
      let f: JsonObject = { a: 1 };
      for (let i = 2; i < levels; i++) f = { $and: [f] };
      return f;
    };
    validateFilter(nested(FILTER_DEPTH_LEVELS_MAX));
    refused(nested(FILTER_DEPTH_LEVELS_MAX + 1), /nested deeper than 64 levels \(FILTER_DEPTH_LEVELS_MAX\)/);
    const t = new TestStore();
    t.insert('c', { _id: 'x', a: 1 });
    assert.deepEqual(t.ids('c', nested(FILTER_DEPTH_LEVELS_MAX)), ['x']);
  });
});
