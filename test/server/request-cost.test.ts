// The limits that bound what one request costs a node (issue #11, "No request can freeze
// the cluster"): JSON values per body, keys per document, documents a write's filter may
// examine when applied, and the body limit. Each is tested at the bound and one past it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  APPLY_RULES_VERSION,
  MAX_TX_OPS,
  NewerApplyRulesError,
  REQUEST_VALUES_MAX,
  WRITE_DOCS_CHANGED_MAX,
  WRITE_SCAN_DOCS_MAX,
} from '../../src/store/commands.ts';
import { DOCUMENT_KEYS_MAX, validateDocument } from '../../src/store/validate.ts';
import { ValidationError } from '../../src/store/errors.ts';
import { filterWeight, writeExaminedMax } from '../../src/store/query-exec.ts';
import { parseJsonBody } from '../../src/server/http-input.ts';
import { DEFAULT_BODY_LIMIT } from '../../src/server/create-server.ts';
import { TestStore } from '../store/helpers.ts';
import type { JsonObject } from '../../src/store/types.ts';
import { startTestServer, type TestServer } from './helpers.ts';

/** `[0,0,...]`: an array of n - 1 numbers, n JSON values in all. */
function arrayOfValues(n: number): string {
  return `[${new Array<string>(n - 1).fill('0').join(',')}]`;
}

/** A document with `keys` keys at its top level (plus _id). */
function documentWithKeys(keys: number): Record<string, unknown> {
  const doc: Record<string, unknown> = { _id: 'k' };
  for (let i = 0; i < keys; i++) doc[`k${i}`] = 0;
  return doc;
}

describe('REQUEST_VALUES_MAX: JSON values in one body', () => {
  test('a body of exactly REQUEST_VALUES_MAX values parses; one more is 413 naming the limit', () => {
    assert.equal((parseJsonBody(arrayOfValues(REQUEST_VALUES_MAX)) as unknown[]).length, REQUEST_VALUES_MAX - 1);
    assert.throws(
      () => parseJsonBody(arrayOfValues(REQUEST_VALUES_MAX + 1)),
      (e: unknown) => e instanceof Error && (e as { code?: string }).code === 'PAYLOAD_TOO_LARGE' && /REQUEST_VALUES_MAX/.test(e.message),
    );
  });

  test('commas, brackets and braces inside strings are not values', () => {
    const body = JSON.stringify({ s: ',[{'.repeat(REQUEST_VALUES_MAX) });
    assert.equal((parseJsonBody(body) as { s: string }).s.length, 3 * REQUEST_VALUES_MAX);
  });

  test('forbidden keys are refused escaped or not, anywhere, and only as keys', () => {
    for (const body of ['{"__proto__":1}', '{"a":{"constructor":1}}', '[{"prototype" :1}]', '{"\\u005f_proto__":1}', '{"construct\\u006fr":{}}']) {
      assert.throws(
        () => parseJsonBody(body),
        (e: unknown) => e instanceof ValidationError && /is not allowed/.test(e.message),
        body,
      );
    }
    assert.deepEqual(parseJsonBody('{"a":"__proto__","b":["constructor"],"c":"x\\"prototype"}'), {
      a: '__proto__',
      b: ['constructor'],
      c: 'x"prototype',
    });
  });

  test('malformed text is still a 400 BAD_REQUEST from JSON.parse', () => {
    for (const body of ['{"a":', '{"a":"\\q"}', '{"a" 1}', '"unterminated']) {
      assert.throws(
        () => parseJsonBody(body),
        (e: unknown) => (e as { code?: string }).code === 'BAD_REQUEST',
        body,
      );
    }
  });
});

describe('DOCUMENT_KEYS_MAX: keys and array items in one document', () => {
  test('at the bound a document is valid; one more key, nested key or array item is refused naming it', () => {
    validateDocument(documentWithKeys(DOCUMENT_KEYS_MAX - 1)); // plus _id
    const refused = (doc: unknown): void =>
      assert.throws(
        () => validateDocument(doc),
        (e: unknown) => e instanceof ValidationError && /DOCUMENT_KEYS_MAX/.test(e.message),
      );
    refused(documentWithKeys(DOCUMENT_KEYS_MAX));
    refused({ _id: 'n', a: { ...documentWithKeys(DOCUMENT_KEYS_MAX - 2), _id: undefined } });
    refused({ _id: 'a', a: new Array<number>(DOCUMENT_KEYS_MAX).fill(0) });
  });

  test('the store refuses an update that would grow a document past it (every replica alike)', () => {
    const t = new TestStore();
    t.ok({ type: 'insert', collection: 'c', docs: [documentWithKeys(DOCUMENT_KEYS_MAX - 1) as JsonObject] });
    t.fail(
      { type: 'update', collection: 'c', filter: { _id: 'k' }, update: { $set: { extra: 1 } }, multi: false, upsert: false },
      'VALIDATION',
      /DOCUMENT_KEYS_MAX/,
    );
  });
});

describe('WRITE_SCAN_DOCS_MAX: documents a write examines when applied', () => {
  test('the weight of a filter grows with its conditions', () => {
    assert.equal(filterWeight({ g: 1 }), 1);
    assert.equal(writeExaminedMax({ g: 1 }), WRITE_SCAN_DOCS_MAX);
    assert.ok(writeExaminedMax({ $or: [{ a: 1 }, { b: 2 }, { c: 3 }] }) < WRITE_SCAN_DOCS_MAX / 3);
  });

  test('an unindexed update over more documents than the bound fails whole; an indexed one does not', () => {
    const t = new TestStore();
    const docs = Array.from({ length: 1000 }, (_, i) => ({ _id: `d${String(i).padStart(4, '0')}`, g: i % 10 }));
    t.ok({ type: 'insert', collection: 'c', docs });
    // 3 conditions in a filter of weight > 100: fewer than 1,000 documents may be examined.
    const heavy = { $or: Array.from({ length: 200 }, (_, i) => ({ g: -1 - i })) };
    assert.ok(writeExaminedMax(heavy) < 1000);
    t.fail(
      { type: 'update', collection: 'c', filter: heavy, update: { $set: { x: 1 } }, multi: true, upsert: false },
      'VALIDATION',
      /WRITE_SCAN_DOCS_MAX/,
    );
    t.fail({ type: 'remove', collection: 'c', filter: heavy, multi: true }, 'VALIDATION', /WRITE_SCAN_DOCS_MAX/);
    t.fail({ type: 'tx', ops: [], if: [{ collection: 'c', filter: heavy, count: 0 }] }, 'VALIDATION', /WRITE_SCAN_DOCS_MAX/);
    assert.equal(t.store.find('c', { x: 1 }).length, 0, 'nothing was changed');
    // A small filter examines all 1,000 documents within its bound.
    assert.equal(t.ok({ type: 'update', collection: 'c', filter: { g: 3 }, update: { $set: { x: 1 } }, multi: true, upsert: false }).modified, 100);
    // Through an index, the same heavy filter examines only what the index yields.
    t.ok({ type: 'createIndex', collection: 'c', fields: [['g', 1]], unique: false });
    const indexed = { g: 3, $or: heavy.$or };
    assert.equal(t.ok({ type: 'update', collection: 'c', filter: indexed, update: { $set: { y: 1 } }, multi: true, upsert: false }).matched, 0);
    // Reads are not bounded this way.
    assert.equal(t.store.count('c', { $nor: [heavy] }), 1000);
  });
});

describe('a transaction shares one WRITE_SCAN_DOCS_MAX; WRITE_DOCS_CHANGED_MAX: documents one write changes by filter', () => {
  test("a transaction's filters and count preconditions draw on one budget: ops that each fit may not add up past it", () => {
    const t = new TestStore();
    const docs = Array.from({ length: 1000 }, (_, i) => ({ _id: `d${String(i).padStart(4, '0')}`, g: i % 10 }));
    t.ok({ type: 'insert', collection: 'c', docs });
    // Each op examines the 1,000 documents (weight 1): WRITE_SCAN_DOCS_MAX / 1,000 of them fit.
    const fit = WRITE_SCAN_DOCS_MAX / 1000;
    assert.ok(fit < MAX_TX_OPS, 'a transaction could hold more such ops than the budget allows');
    const op = { type: 'update', collection: 'c', filter: { g: -1 }, update: { $set: { x: 1 } }, multi: true, upsert: false } as const;
    assert.equal(t.ok({ rules: APPLY_RULES_VERSION, type: 'tx', if: [], ops: Array.from({ length: fit }, () => op) }).length, fit);
    t.fail(
      { rules: APPLY_RULES_VERSION, type: 'tx', if: [], ops: Array.from({ length: fit + 1 }, () => op) },
      'VALIDATION',
      /a transaction's filters together/,
    );
    // Count preconditions draw on it too.
    const count = { collection: 'c', filter: { g: 1 }, count: 100 };
    t.ok({ rules: APPLY_RULES_VERSION, type: 'tx', ops: [], if: Array.from({ length: fit }, () => count) });
    t.fail(
      { rules: APPLY_RULES_VERSION, type: 'tx', ops: [], if: Array.from({ length: fit + 1 }, () => count) },
      'VALIDATION',
      /WRITE_SCAN_DOCS_MAX/,
    );
  });

  test('an update or remove matching more than WRITE_DOCS_CHANGED_MAX documents fails whole; at the bound it is applied', () => {
    const t = new TestStore();
    const n = WRITE_DOCS_CHANGED_MAX + 1;
    for (let from = 0; from < n; from += 500) {
      const docs = Array.from({ length: Math.min(500, n - from) }, (_, k) => ({ _id: `d${String(from + k).padStart(5, '0')}`, i: from + k }));
      t.ok({ type: 'insert', collection: 'c', docs });
    }
    const all = {
      rules: APPLY_RULES_VERSION,
      type: 'update',
      collection: 'c',
      filter: {},
      update: { $set: { x: 1 } },
      multi: true,
      upsert: false,
    } as const;
    t.fail(all, 'VALIDATION', new RegExp(`at most ${WRITE_DOCS_CHANGED_MAX} documents \\(WRITE_DOCS_CHANGED_MAX\\).*matched ${n}`));
    t.fail({ rules: APPLY_RULES_VERSION, type: 'remove', collection: 'c', filter: {}, multi: true }, 'VALIDATION', /WRITE_DOCS_CHANGED_MAX/);
    assert.equal(t.store.count('c', { x: 1 }), 0, 'nothing was changed');
    assert.equal(t.store.count('c', {}), n, 'nothing was removed');
    // A transaction's ops count together: two halves of the bound plus one more document.
    const half = WRITE_DOCS_CHANGED_MAX / 2;
    const upTo = (lo: number, hi: number): JsonObject => ({ i: { $gte: lo, $lt: hi } });
    t.fail(
      {
        rules: APPLY_RULES_VERSION,
        type: 'tx',
        if: [],
        ops: [
          { type: 'update', collection: 'c', filter: upTo(0, half), update: { $set: { x: 1 } }, multi: true, upsert: false },
          { type: 'remove', collection: 'c', filter: upTo(half, n), multi: true },
        ],
      },
      'VALIDATION',
      /a transaction's ops together/,
    );
    assert.equal(t.store.count('c', { x: 1 }), 0);
    // At the bound: applied.
    assert.equal(t.ok({ ...all, filter: upTo(0, WRITE_DOCS_CHANGED_MAX) })?.modified, WRITE_DOCS_CHANGED_MAX);
    assert.equal(
      t.ok({ rules: APPLY_RULES_VERSION, type: 'remove', collection: 'c', filter: upTo(0, WRITE_DOCS_CHANGED_MAX), multi: true }).removed,
      WRITE_DOCS_CHANGED_MAX,
    );
    assert.equal(t.store.count('c', {}), 1);
  });

  test('an entry written before these rules (no `rules` in its stamp) is applied as it was: a log replays the same on every replica', () => {
    const t = new TestStore();
    const n = WRITE_DOCS_CHANGED_MAX + 1;
    for (let from = 0; from < n; from += 500) {
      const docs = Array.from({ length: Math.min(500, n - from) }, (_, k) => ({ _id: `d${String(from + k).padStart(5, '0')}`, i: from + k }));
      t.ok({ type: 'insert', collection: 'c', docs });
    }
    const all = { type: 'update', collection: 'c', filter: {}, update: { $set: { x: 1 } }, multi: true, upsert: false } as const;
    assert.equal(t.ok({ ...all, timeMs: 1, nodeId: 1 })?.modified, n, 'rule 1: no WRITE_DOCS_CHANGED_MAX');
    const op = { type: 'update', collection: 'c', filter: { i: -1 }, update: { $set: { y: 1 } }, multi: true, upsert: false } as const;
    const fit = Math.floor(WRITE_SCAN_DOCS_MAX / n);
    assert.equal(t.ok({ type: 'tx', if: [], ops: Array.from({ length: fit + 1 }, () => op) }).length, fit + 1, 'rule 1: each filter its own budget');
    t.fail({ rules: APPLY_RULES_VERSION, type: 'tx', if: [], ops: Array.from({ length: fit + 1 }, () => op) }, 'VALIDATION', /WRITE_SCAN_DOCS_MAX/);
    // A stamp naming rules this binary does not have is not refused (replicas that know them
    // apply it): apply throws, and the node stops (RaftNode), with nothing applied or consumed.
    const applied = t.store.lastApplied;
    assert.throws(
      () => t.store.apply({ ...all, rules: APPLY_RULES_VERSION + 1 }, applied + 1),
      (e: unknown) => e instanceof NewerApplyRulesError && /rules: must be an integer from 1 to/.test(e.message),
    );
    assert.equal(t.store.lastApplied, applied);
    assert.equal(t.store.count('c', { x: 1 }), n, 'the entry before it stands, nothing of it applied');
  });

  test('a first filter heavier than the budget may look at one document, and leaves no more than WRITE_SCAN_DOCS_MAX to the ops after it', () => {
    const t = new TestStore();
    const n = WRITE_SCAN_DOCS_MAX + 1;
    for (let from = 0; from < n; from += 10_000) {
      const docs = Array.from({ length: Math.min(10_000, n - from) }, (_, k) => ({ _id: `d${String(from + k).padStart(6, '0')}`, i: from + k }));
      t.ok({ type: 'insert', collection: 'big', docs });
    }
    // A count precondition heavier than the budget, on an empty collection: it examines nothing.
    // (Equality with an object of many keys: each key weighs, and no list limit applies.)
    const literal = Object.fromEntries(Array.from({ length: 9_990 }, (_, k) => [`k${k}`, 1]));
    const heavy = Object.fromEntries(Array.from({ length: 11 }, (_, f) => [`f${f}`, literal]));
    assert.ok(filterWeight(heavy) > WRITE_SCAN_DOCS_MAX, `weight ${filterWeight(heavy)}`);
    const light = { type: 'remove', collection: 'big', filter: { i: -1 }, multi: true } as const;
    // The op after it may examine WRITE_SCAN_DOCS_MAX documents, not the heavy filter's weight:
    // WRITE_SCAN_DOCS_MAX + 1 unindexed documents are too many.
    t.fail(
      { rules: APPLY_RULES_VERSION, type: 'tx', if: [{ collection: 'empty', filter: heavy, count: 0 }], ops: [light] },
      'VALIDATION',
      /WRITE_SCAN_DOCS_MAX/,
    );
    t.fail({ rules: APPLY_RULES_VERSION, type: 'tx', if: [], ops: [light] }, 'VALIDATION', /WRITE_SCAN_DOCS_MAX/);
    // Rule 1's words for the same refusal are those of the binaries that wrote such entries.
    const old = t.fail({ type: 'tx', if: [], ops: [light] }, 'VALIDATION', /WRITE_SCAN_DOCS_MAX/);
    assert.doesNotMatch(old.message, /earlier ops/);
  });
});

describe('over HTTP', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  async function post(path: string, payload: string): Promise<{ status: number; code?: string; message?: string }> {
    const res = await server.app.inject({ method: 'POST', url: path, payload, headers: { 'content-type': 'application/json' } });
    const body = JSON.parse(res.body) as { error?: { code: string; message: string } };
    return { status: res.statusCode, ...(body.error !== undefined ? { code: body.error.code, message: body.error.message } : {}) };
  }

  test('the body limit holds one largest document (1 MiB) and its envelope, and no more than 1 MiB + 64 KiB', () => {
    assert.equal(DEFAULT_BODY_LIMIT, 1024 * 1024 + 64 * 1024);
  });

  test('too many values: 413 PAYLOAD_TOO_LARGE naming REQUEST_VALUES_MAX, before the documents are looked at', async () => {
    const docs = Array.from({ length: REQUEST_VALUES_MAX / 2 }, () => '{}').join(',');
    const reply = await post('/api/c', `[${docs}]`);
    assert.equal(reply.status, 413);
    assert.equal(reply.code, 'PAYLOAD_TOO_LARGE');
    assert.match(reply.message!, /REQUEST_VALUES_MAX/);
  });

  test('too many keys in a document: 400 VALIDATION naming DOCUMENT_KEYS_MAX (a body cannot carry that many: an update grows one)', async () => {
    const doc = documentWithKeys(DOCUMENT_KEYS_MAX - 3);
    delete doc['_id'];
    const created = await server.app.inject({ method: 'PUT', url: '/api/c/big', payload: doc });
    assert.equal(created.statusCode, 201, created.body);
    const grown = await server.app.inject({ method: 'PATCH', url: '/api/c/big', payload: { $set: { a: 1, b: 2, c: 3 } } });
    assert.equal(grown.statusCode, 400, grown.body);
    assert.match(grown.body, /DOCUMENT_KEYS_MAX/);
  });
});
