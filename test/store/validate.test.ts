import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../../src/store/errors.ts';
import { DEFAULT_LIMITS } from '../../src/store/types.ts';
import { APPLY_RULES_VERSION } from '../../src/store/commands.ts';
import {
  copyDocument,
  copyNewDocument,
  validateCommand,
  validateDocument,
  validateFilter,
  validateFindOptions,
  validateUpdate,
  withRevision,
} from '../../src/store/validate.ts';

function rejects(fn: () => void, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ValidationError, `expected ValidationError, got ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  });
}

function nest(depth: number): Record<string, unknown> {
  let v: Record<string, unknown> = { leaf: 1 };
  for (let i = 1; i < depth; i++) v = { n: v };
  return v;
}

describe('validateDocument', () => {
  test('accepts plain JSON documents and strips a user _rev', () => {
    validateDocument({ _id: 'a', n: 1, s: 'x', b: true, z: null, arr: [1, { x: [] }], o: {} });
    const stored = copyDocument({ _id: 'a', _rev: 999, x: 1 }, DEFAULT_LIMITS, 7);
    assert.equal(stored._rev, 7);
    assert.ok(Object.isFrozen(stored));
    assert.deepEqual(Object.keys(stored), ['_id', '_rev', 'x']);
  });

  test('copies: later changes to the input do not reach the stored document', () => {
    const input = { _id: 'a', nested: { v: 1 } };
    const stored = copyDocument(input, DEFAULT_LIMITS, 1);
    input.nested.v = 2;
    assert.deepEqual(stored['nested'], { v: 1 });
    assert.ok(Object.isFrozen(stored['nested']));
  });

  test('_id must be a non-empty string of at most 512 bytes', () => {
    rejects(() => validateDocument({ x: 1 }), /^_id: must be a string/);
    rejects(() => validateDocument({ _id: 5 }), /^_id: must be a string/);
    rejects(() => validateDocument({ _id: '' }), /^_id: must not be empty/);
    rejects(() => validateDocument({ _id: 'é'.repeat(257) }), /^_id: longer than 512 bytes/);
    validateDocument({ _id: 'a'.repeat(512) });
  });

  test('refuses __proto__, constructor, prototype and $ keys at every level, naming the path', () => {
    rejects(() => validateDocument(JSON.parse('{"_id":"a","__proto__":{"x":1}}')), /^__proto__: key "__proto__" is not allowed/);
    rejects(() => validateDocument(JSON.parse('{"_id":"a","a":{"b":{"__proto__":1}}}')), /^a\.b\.__proto__: /);
    rejects(() => validateDocument({ _id: 'a', a: [{ ok: 1 }, { constructor: 1 }] }), /^a\.1\.constructor: /);
    rejects(() => validateDocument({ _id: 'a', deep: { prototype: 1 } }), /^deep\.prototype: /);
    rejects(() => validateDocument({ _id: 'a', x: { $gt: 1 } }), /^x\.\$gt: key "\$gt" may not start with "\$"/);
    rejects(() => validateDocument({ _id: 'a', list: [[{ $where: 1 }]] }), /^list\.0\.0\.\$where: /);
    rejects(() => validateDocument({ _id: 'a', ['a\0b']: 1 }), /NUL/);
  });

  test('only JSON values', () => {
    rejects(() => validateDocument({ _id: 'a', u: undefined }), /^u: undefined is not a JSON value/);
    rejects(() => validateDocument({ _id: 'a', f: () => 1 }), /^f: function is not a JSON value/);
    rejects(() => validateDocument({ _id: 'a', n: { x: NaN } }), /^n\.x: number NaN/);
    rejects(() => validateDocument({ _id: 'a', n: [Infinity] }), /^n\.0: number Infinity/);
    rejects(() => validateDocument({ _id: 'a', d: new Date(0) }), /^d: Date is not a JSON value/);
    rejects(() => validateDocument({ _id: 'a', m: new Map() }), /^m: Map is not a JSON value/);
    rejects(() => validateDocument({ _id: 'a', b: 10n }), /^b: bigint/);
    // eslint-disable-next-line no-sparse-arrays
    rejects(() => validateDocument({ _id: 'a', s: [1, , 3] }), /^s\.1: sparse/);
    rejects(() => validateDocument([1, 2]), /plain object/);
  });

  test('size and depth limits', () => {
    const limits = { maxDocumentBytes: 1000, maxDepth: 5 };
    validateDocument({ _id: 'a', s: 'x'.repeat(900) }, limits);
    rejects(() => validateDocument({ _id: 'a', s: 'x'.repeat(1000) }, limits), /document is \d+ bytes, more than the limit of 1000/);
    // Multi-byte characters count as their UTF-8 length.
    rejects(() => validateDocument({ _id: 'a', s: '€'.repeat(400) }, limits), /more than the limit/);
    // The document itself is level 1, so spreading nest(k) gives k levels.
    validateDocument({ _id: 'a', ...nest(5) }, limits);
    rejects(() => validateDocument({ _id: 'a', ...nest(6) }, limits), /^n\.n\.n\.n\.n: nesting deeper than 5 levels/);
    rejects(() => validateDocument({ _id: 'a', a: [[[[[1]]]]] }, limits), /^a\.0\.0\.0\.0: nesting deeper/);
    rejects(() => validateDocument({ _id: 'a', big: 'y'.repeat(DEFAULT_LIMITS.maxDocumentBytes) }), /more than the limit/);
  });

  test('normalises -0 to 0', () => {
    const stored = copyDocument({ _id: 'a', z: -0 }, DEFAULT_LIMITS, 1);
    assert.ok(Object.is(stored['z'], 0));
  });
});

describe('validateFilter', () => {
  test('accepts the supported operators', () => {
    validateFilter({
      a: 1,
      'b.c': { $gt: 1, $lte: 5 },
      d: { $in: [1, 'x'] },
      e: { $exists: false },
      f: { $regex: '^a', $options: 'i' },
      g: { $not: { $gt: 5 } },
      h: { $elemMatch: { x: 1 } },
      $or: [{ a: 2 }, { $and: [{ b: 1 }] }],
      $nor: [{ z: { $size: 2 } }],
    });
  });

  test('unknown or unsafe operators name the operator and path', () => {
    rejects(() => validateFilter({ a: { $foo: 1 } }), /^filter\.a\.\$foo: unknown or unsupported query operator \$foo/);
    rejects(() => validateFilter({ $where: 'true' }), /\$where/);
    rejects(() => validateFilter({ $expr: { $eq: [1, 1] } }), /\$expr/);
    rejects(() => validateFilter({ a: { $gt: 1, b: 2 } }), /mix/);
    rejects(() => validateFilter({ a: { $regex: '(' } }), /invalid regular expression/);
    rejects(() => validateFilter({ a: { $regex: 'a', $options: 'g' } }), /\$options/);
    rejects(() => validateFilter({ 'a.__proto__.b': 1 }), /__proto__/);
    rejects(() => validateFilter({ a: { $eq: { $inc: 1 } } }), /\$inc/);
    rejects(() => validateFilter({ a: /x/ as unknown as number }), /RegExp is not a JSON value/);
    rejects(() => validateFilter({ $or: [] }), /non-empty array/);
  });
});

describe('validateUpdate', () => {
  test('accepts every supported operator', () => {
    validateUpdate({
      $set: { 'a.b': { c: [1] } },
      $unset: { x: '' },
      $inc: { n: 1 },
      $mul: { m: 2 },
      $min: { lo: 0 },
      $max: { hi: 9 },
      $push: { list: { $each: [1, 2], $slice: -5, $sort: 1 } },
      $pull: { tags: { $in: ['a'] } },
      $addToSet: { set: { $each: ['x'] } },
      $rename: { old: 'new' },
    });
  });

  test('refuses bad updates, naming the field', () => {
    rejects(() => validateUpdate({ a: 1 }), /not an update operator/);
    rejects(() => validateUpdate({ $currentDate: { a: true } }), /unsupported update operator \$currentDate/);
    rejects(() => validateUpdate({ $set: { a: { $gt: 1 } } }), /^update\.\$set\.a\.\$gt: key "\$gt"/);
    rejects(() => validateUpdate({ $set: { a: [{ __proto__x: 1, constructor: 2 }] } }), /^update\.\$set\.a\.0\.constructor/);
    rejects(() => validateUpdate({ $set: { 'a.__proto__': 1 } }), /__proto__/);
    rejects(() => validateUpdate({ $set: { 'a.$.b': 1 } }), /may not start with "\$"/);
    rejects(() => validateUpdate({ $inc: { n: 'x' } }), /^update\.\$inc\.n: \$inc takes a finite number/);
    rejects(() => validateUpdate({ $set: { _rev: 5 } }), /_rev is maintained by the store/);
    rejects(() => validateUpdate({ $push: { l: { $each: [1], $bad: 1 } } }), /unknown \$push modifier \$bad/);
    rejects(() => validateUpdate({}), /no operators/);
  });
});

describe('validateFindOptions and validateCommand', () => {
  test('find options', () => {
    validateFindOptions({ sort: { a: 1, 'b.c': -1 }, skip: 0, limit: 10, projection: { a: 1, _id: 0 } });
    rejects(() => validateFindOptions({ sort: { a: 2 } }), /^options\.sort\.a: sort direction/);
    rejects(() => validateFindOptions({ limit: -1 }), /limit must be a non-negative integer/);
    rejects(() => validateFindOptions({ projection: { a: 1, b: 0 } }), /mix/);
    rejects(() => validateFindOptions({ nope: 1 }), /unknown find option/);
  });

  test('command shapes', () => {
    validateCommand({ type: 'noop' });
    validateCommand({ type: 'insert', collection: 'c', docs: [{ _id: 'a' }] });
    validateCommand({ type: 'tx', ops: [{ type: 'remove', collection: 'c', filter: {}, multi: true }], if: [{ collection: 'c', id: 'a', rev: 0 }] });
    rejects(() => validateCommand({ type: 'explode' }), /^command\.type: unknown command type "explode"/);
    rejects(() => validateCommand({ type: 'insert', collection: '_x', docs: [{ _id: 'a' }] }), /invalid collection name/);
    rejects(() => validateCommand({ type: 'insert', collection: 'c', docs: [{ _id: 'a', b: { $x: 1 } }] }), /^command\.docs\.0: b\.\$x/);
    rejects(() => validateCommand({ type: 'insert', collection: 'c', docs: [{ _id: 'a' }], extra: 1 }), /^command\.extra: unknown command field/);
    rejects(
      () => validateCommand({ type: 'tx', ops: [{ type: 'createIndex', collection: 'c', fields: [['a', 1]], unique: false }], if: [] }),
      /^command\.ops\.0\.type: a transaction op must be/,
    );
    rejects(
      () => validateCommand({ type: 'update', collection: 'c', filter: {}, update: { $set: { a: 1 } }, multi: true, upsert: false, ifRev: 3 }),
      /single-document/,
    );
    rejects(() => validateCommand({ type: 'createIndex', collection: 'c', fields: [['a', 2]], unique: false }), /direction/);
  });

  test("the entry's envelope (time, leader, apply rules) on every kind of command, and only at the top", () => {
    const stamp = { timeMs: 1_700_000_000_000, nodeId: 2, rules: APPLY_RULES_VERSION };
    validateCommand({ type: 'insert', collection: 'c', docs: [{ _id: 'a' }], ...stamp });
    validateCommand({ type: 'noop', ...stamp });
    // An auth command's own validator knows no envelope: one stamped by a leader is valid (the
    // bootstrap once failed here, and a node started with a root password never turned auth on).
    validateCommand({ type: 'auth', op: 'deleteUser', by: 'root', name: 'ann', ...stamp });
    validateCommand({ type: 'insert', collection: 'c', docs: [{ _id: 'a' }], rules: 1 });
    rejects(() => validateCommand({ type: 'noop', rules: APPLY_RULES_VERSION + 1 }), /^command\.rules: must be an integer from 1 to/);
    rejects(() => validateCommand({ type: 'noop', rules: 0 }), /^command\.rules: must be an integer from 1 to/);
    rejects(
      () => validateCommand({ type: 'tx', ops: [{ type: 'insert', collection: 'c', docs: [{ _id: 'a' }], rules: 2 }], if: [] }),
      /^command\.ops\.0\.rules: only the entry itself names its apply rules/,
    );
  });

  // Every kind of command the server proposes for a request, stamped as a leader stamps it,
  // with the user it was proposed for; a field of the envelope this validator forgot would
  // refuse every authenticated write at apply (as the auth bootstrap once was).
  const USERED: readonly Record<string, unknown>[] = [
    { type: 'insert', collection: 'c', docs: [{ _id: 'a' }] },
    { type: 'update', collection: 'c', filter: { _id: 'a' }, update: { $set: { n: 1 } }, multi: false, upsert: false },
    { type: 'replace', collection: 'c', id: 'a', doc: { n: 1 }, upsert: true },
    { type: 'remove', collection: 'c', filter: {}, multi: true },
    { type: 'tx', ops: [{ type: 'remove', collection: 'c', filter: {}, multi: true }], if: [] },
    { type: 'createIndex', collection: 'c', fields: [['a', 1]], unique: false },
    { type: 'dropIndex', collection: 'c', name: 'a_1' },
    { type: 'dropCollection', collection: 'c' },
    { type: 'setSchema', collection: 'c', schema: { type: 'object' }, options: { trackHistory: true }, force: false },
    { type: 'dropSchema', collection: 'c' },
  ];

  test('the user a write was proposed for, with the envelope, on every kind of command the server proposes for a request', () => {
    const stamp = { timeMs: 1_700_000_000_000, nodeId: 2, rules: APPLY_RULES_VERSION };
    const tag = { key: 'k', digest: 'd', user: 'alice' };
    for (const command of USERED) {
      validateCommand({ ...command, ...stamp, user: 'alice' });
      validateCommand({ ...command, user: 'alice' }, { documents: false });
      // Every one is keyed too (PUT and DELETE _schema take an Idempotency-Key since rules 3).
      validateCommand({ ...command, ...stamp, user: 'alice', idempotency: tag });
      rejects(() => validateCommand({ ...command, user: '' }), /^command\.user: must be a string of 1 to 256 characters/);
      rejects(() => validateCommand({ ...command, user: 'x'.repeat(257) }), /^command\.user: must be a string of 1 to 256 characters/);
      rejects(() => validateCommand({ ...command, user: 7 }), /^command\.user: must be a string/);
      rejects(() => validateCommand({ ...command, user: { name: 'alice' } }), /^command\.user: must be a string/);
    }
    // Each insert of a batch names its own (the node puts inserts of different requests in one entry).
    const batch = {
      type: 'batch',
      ops: [
        { type: 'insert', collection: 'c', docs: [{ _id: 'a' }], user: 'alice' },
        { type: 'insert', collection: 'c', docs: [{ _id: 'b' }], user: 'bob', idempotency: { ...tag, user: 'bob' } },
        { type: 'insert', collection: 'c', docs: [{ _id: 'c' }] },
      ],
    };
    validateCommand({ ...batch, ...stamp });
    rejects(
      () => validateCommand({ type: 'batch', ops: [{ type: 'insert', collection: 'c', docs: [{ _id: 'a' }], user: '' }] }),
      /^command\.ops\.0\.user: must be a string/,
    );
    rejects(() => validateCommand({ ...batch, user: 'alice' }), /^command\.user: a command of type batch names no user/);
    // Never in a transaction's op: the entry names the user of the whole transaction.
    rejects(
      () =>
        validateCommand({ type: 'tx', ops: [{ type: 'remove', collection: 'c', filter: {}, multi: true, user: 'mallory' }], if: [], user: 'alice' }),
      /^command\.ops\.0\.user: an op of a transaction names no user of its own/,
    );
    // An auth command names its user in `by` (AuthState checks that one); a noop is the leader's.
    validateCommand({ type: 'auth', op: 'deleteUser', by: 'root', name: 'ann', ...stamp });
    rejects(
      () => validateCommand({ type: 'auth', op: 'deleteUser', by: 'root', name: 'ann', user: 'root', ...stamp }),
      /^command\.user: a command of type auth names no user/,
    );
    rejects(() => validateCommand({ type: 'noop', user: 'alice' }), /^command\.user: a command of type noop names no user/);
  });
});

describe('strings that are not valid Unicode', () => {
  // A lone surrogate would become U+FFFD in the log's UTF-8: the node that proposed the
  // write and every replica decoding it would hold different documents.
  test('a lone surrogate in a value, a key or an _id is refused, naming where', () => {
    rejects(() => validateDocument({ _id: 'a', s: 'x\ud800y' }), /^s: string is not valid Unicode/);
    rejects(() => validateDocument({ _id: 'a', deep: { list: ['ok', '\udc00'] } }), /^deep\.list\.1: string is not valid Unicode/);
    rejects(() => validateDocument({ _id: 'a', ['k\ud800']: 1 }), /not valid Unicode/);
    rejects(() => validateDocument({ _id: '\ud800' }), /^_id: string is not valid Unicode/);
    rejects(() => copyNewDocument({ _id: 'a', s: '\udfff' }, DEFAULT_LIMITS), /not valid Unicode/);
    rejects(() => validateCommand({ type: 'insert', collection: 'c', docs: [{ _id: 'a', s: '\ud83d' }] }), /not valid Unicode/);
  });

  test('surrogate pairs (emoji and the like) are fine', () => {
    validateDocument({ _id: '\ud83d\ude00', s: 'smile \ud83d\ude00', ['k\ud83d\ude00']: 1 });
  });
});

describe('copyNewDocument and withRevision', () => {
  test('a frozen deep copy that the caller cannot change afterwards', () => {
    const doc = { _id: 'a', _rev: 99, nested: { list: [1, { x: 2 }] } };
    const copy = copyNewDocument(doc, DEFAULT_LIMITS);
    doc.nested.list.push(3);
    (doc.nested.list[1] as { x: number }).x = 5;
    assert.deepEqual(copy, { _id: 'a', nested: { list: [1, { x: 2 }] } });
    assert.ok(Object.isFrozen(copy) && Object.isFrozen(copy['nested']) && Object.isFrozen((copy['nested'] as { list: unknown[] }).list));
  });

  test('an id given separately is used, and a user _rev is dropped', () => {
    assert.deepEqual(copyNewDocument({ n: 1, _rev: 3 }, DEFAULT_LIMITS, 'given'), { _id: 'given', n: 1 });
  });

  test('withRevision of a copy equals copyDocument of the original, key order included', () => {
    const doc = { z: 1, _id: 'a', b: [true, null], 2: 'two', a: { c: 'd' } };
    const stored = withRevision(copyNewDocument(doc, DEFAULT_LIMITS), 17);
    const direct = copyDocument(doc, DEFAULT_LIMITS, 17);
    assert.deepEqual(stored, direct);
    assert.deepEqual(Object.keys(stored), Object.keys(direct));
    assert.ok(Object.isFrozen(stored));
  });

  test('the size limit does not depend on the log index the document gets', () => {
    const limits = { ...DEFAULT_LIMITS, maxDocumentBytes: 200 };
    // Grow a document to exactly the limit ({_id, ...fields} without _rev).
    let filler = '';
    while (JSON.stringify({ _id: 'a', s: filler + 'x' }).length <= 200) filler += 'x';
    const atLimit = { _id: 'a', s: filler };
    assert.equal(JSON.stringify(atLimit).length, 200);
    copyNewDocument(atLimit, limits);
    for (const rev of [1, 123_456_789_012]) copyDocument(atLimit, limits, rev);
    const over = { _id: 'a', s: filler + 'x' };
    rejects(() => copyNewDocument(over, limits), /201 bytes, more than the limit of 200/);
    for (const rev of [1, 123_456_789_012]) rejects(() => copyDocument(over, limits, rev), /201 bytes/);
  });
});

describe('copying documents', () => {
  test('a getter that copies another document meanwhile does not disturb the outer copy', () => {
    const limits = { ...DEFAULT_LIMITS, maxDocumentBytes: 300 };
    const inner = { _id: 'inner', s: 'x'.repeat(10) };
    const outer: Record<string, unknown> = { _id: 'outer', big: 'y'.repeat(400) };
    Object.defineProperty(outer, 'sneaky', { enumerable: true, get: () => copyNewDocument(inner, limits) });
    // The outer document is over the limit: the inner copy must not reset what was measured.
    rejects(() => copyNewDocument(outer, limits), /more than the limit of 300/);
    const fine: Record<string, unknown> = { _id: 'ok', n: 1 };
    Object.defineProperty(fine, 'inner', { enumerable: true, get: () => copyNewDocument(inner, limits) });
    assert.deepEqual(copyNewDocument(fine, limits), { _id: 'ok', n: 1, inner: { _id: 'inner', s: 'x'.repeat(10) } });
  });
});
