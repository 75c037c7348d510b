// History over HTTP (issue #14, docs/models.md): `GET /api/:collection/:id?asOf=<sequence or
// ISO time>` reads the document as it was then, with the answers of `GET .../_history?asOf`
// (the same code serves both); its errors; the read's consistency; and retention by age
// hiding a version from `_history` and from `asOf` alike.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type { ReadConsistency } from '../../src/node/backend.ts';
import { StoreError } from '../../src/store/errors.ts';
import { errorOf, send, startScriptedServer, type TestServer, type ScriptedBackend } from './helpers.ts';

interface Event {
  eventType: string;
  sequence: number;
  timestamp: number;
  data?: { _rev: number; n: number };
}

/** Both ways to ask, which must answer alike (the older route first). */
const FORMS = [(c: string, id: string) => `/api/${c}/${id}/_history`, (c: string, id: string) => `/api/${c}/${id}`];

describe('asOf over HTTP', () => {
  let s: TestServer & { scripted: ScriptedBackend };
  let h: Event[];
  const iso = (ms: number): string => new Date(ms).toISOString();

  before(async () => {
    s = await startScriptedServer();
    const model = { schema: { type: 'object' }, options: { trackHistory: true } };
    assert.equal((await send(s.app, 'PUT', '/api/p/_schema', model)).statusCode, 200);
    // Versions a few ms apart, so that each has its own log time.
    assert.equal((await send(s.app, 'PUT', '/api/p/a', { n: 1 })).statusCode, 201);
    for (const n of [2, 3]) {
      await sleep(5);
      assert.equal((await send(s.app, 'PATCH', '/api/p/a', { $set: { n } })).statusCode, 200);
      // Another document's write between the second and third versions.
      if (n === 2) assert.equal((await send(s.app, 'PUT', '/api/p/live', { n: 7 })).statusCode, 201);
    }
    await sleep(5);
    assert.equal((await send(s.app, 'DELETE', '/api/p/a')).statusCode, 204);
    assert.equal((await send(s.app, 'PUT', '/api/plain/x', { n: 1 })).statusCode, 201);
    const res = await send(s.app, 'GET', '/api/p/a/_history');
    assert.equal(res.statusCode, 200);
    h = res.json() as Event[];
    assert.deepEqual(
      h.map((e) => [e.eventType, e.data?.n]),
      [
        ['Created', 1],
        ['Updated', 2],
        ['Updated', 3],
        ['Deleted', undefined],
      ],
    );
    assert.ok(h[0]!.timestamp < h[1]!.timestamp && h[1]!.timestamp < h[2]!.timestamp, 'distinct log times');
  });
  after(() => s.close());

  test('GET /:id?asOf=<sequence> is the version in force at that log index, with its _rev as ETag', async () => {
    for (const [i, n] of [1, 2, 3].entries()) {
      const res = await send(s.app, 'GET', `/api/p/a?asOf=${h[i]!.sequence}`);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), h[i]!.data);
      assert.equal(res.json().n, n);
      assert.equal(res.headers['etag'], `"${h[i]!.data!._rev}"`);
    }
    // Between two versions (the index of another document's write): the earlier one.
    const live = (await send(s.app, 'GET', '/api/p/live')).json() as { _rev: number };
    assert.ok(h[1]!.sequence < live._rev && live._rev < h[2]!.sequence);
    assert.equal((await send(s.app, 'GET', `/api/p/a?asOf=${live._rev}`)).json().n, 2);
  });

  test('GET /:id?asOf=<ISO time> is the version in force at that log time (any zone offset)', async () => {
    for (const [i, n] of [1, 2, 3].entries()) {
      const res = await send(s.app, 'GET', `/api/p/a?asOf=${encodeURIComponent(iso(h[i]!.timestamp))}`);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().n, n);
    }
    // One ms before the second version: still the first.
    assert.equal((await send(s.app, 'GET', `/api/p/a?asOf=${iso(h[1]!.timestamp - 1)}`)).json().n, 1);
    // The same instant written with an offset.
    const d = new Date(h[1]!.timestamp + 2 * 3_600_000).toISOString().replace('Z', '+02:00');
    assert.equal((await send(s.app, 'GET', `/api/p/a?asOf=${encodeURIComponent(d)}`)).json().n, 2);
  });

  test('_history?asOf answers exactly as GET /:id?asOf', async () => {
    const asks = [
      String(h[1]!.sequence),
      iso(h[2]!.timestamp),
      String(h[0]!.sequence - 1),
      String(h[3]!.sequence),
      '99999999',
      'yesterday',
      '2026-01-01T00:00:00',
    ];
    for (const asOf of asks) {
      const [hist, doc] = await Promise.all(FORMS.map((f) => send(s.app, 'GET', `${f('p', 'a')}?asOf=${encodeURIComponent(asOf)}`)));
      assert.equal(doc!.statusCode, hist!.statusCode, asOf);
      assert.deepEqual(doc!.json(), hist!.json(), asOf);
      assert.equal(doc!.headers['etag'], hist!.headers['etag'], asOf);
    }
  });

  test('before the document existed, and after it was deleted: 404 NOT_FOUND saying which', async () => {
    for (const form of FORMS) {
      const before = await send(s.app, 'GET', `${form('p', 'a')}?asOf=${h[0]!.sequence - 1}`);
      assert.equal(before.statusCode, 404);
      assert.equal(errorOf(before).code, 'NOT_FOUND');
      assert.match(errorOf(before).message, /did not exist in "p" at asOf=\d+, or its version then is no longer kept/);
      const early = await send(s.app, 'GET', `${form('p', 'a')}?asOf=${iso(h[0]!.timestamp - 1)}`);
      assert.equal(early.statusCode, 404);
      for (const asOf of [String(h[3]!.sequence), iso(h[3]!.timestamp), '99999999', '2999-01-01T00:00:00Z']) {
        const gone = await send(s.app, 'GET', `${form('p', 'a')}?asOf=${encodeURIComponent(asOf)}`);
        assert.equal(gone.statusCode, 404, asOf);
        assert.equal(errorOf(gone).code, 'NOT_FOUND');
        assert.match(errorOf(gone).message, new RegExp(`was deleted from "p" at sequence ${h[3]!.sequence}`), asOf);
      }
      const never = await send(s.app, 'GET', `${form('p', 'nope')}?asOf=99999999`);
      assert.equal(never.statusCode, 404);
    }
  });

  test('a sequence or time past the last entry: the latest version (the document now)', async () => {
    for (const form of FORMS) {
      for (const asOf of ['999999999999999', '2999-01-01T00:00:00Z']) {
        const res = await send(s.app, 'GET', `${form('p', 'live')}?asOf=${encodeURIComponent(asOf)}`);
        assert.equal(res.statusCode, 200, asOf);
        assert.deepEqual(res.json(), (await send(s.app, 'GET', '/api/p/live')).json());
      }
    }
  });

  test('malformed asOf: 400 BAD_REQUEST naming asOf', async () => {
    const bad = ['', 'yesterday', '-1', '1.5', '0x10', '1e3', ' 5', '2026-13-01', '2026-01-01T00:00:00', '2026-01-01 00:00:00Z', 'Tue 1'];
    bad.push('1234567890123456'); // past the 15 digits of a sequence, and no time
    for (const form of FORMS) {
      for (const asOf of bad) {
        const res = await send(s.app, 'GET', `${form('p', 'a')}?asOf=${encodeURIComponent(asOf)}`);
        assert.equal(res.statusCode, 400, `asOf=${JSON.stringify(asOf)}: ${res.body}`);
        assert.equal(errorOf(res).code, 'BAD_REQUEST');
        assert.match(errorOf(res).message, /^asOf: /);
      }
      const twice = await send(s.app, 'GET', `${form('p', 'a')}?asOf=1&asOf=2`);
      assert.equal(twice.statusCode, 400);
    }
    // A date alone is midnight UTC of that day: well formed.
    assert.equal((await send(s.app, 'GET', '/api/p/live?asOf=2999-01-01')).statusCode, 200);
  });

  test('a collection without trackHistory: 400 BAD_REQUEST for asOf, on both routes', async () => {
    for (const form of FORMS) {
      for (const collection of ['plain', 'nothing']) {
        const res = await send(s.app, 'GET', `${form(collection, 'x')}?asOf=1`);
        assert.equal(res.statusCode, 400, `${collection}: ${res.body}`);
        assert.equal(errorOf(res).code, 'BAD_REQUEST');
        assert.match(errorOf(res).message, new RegExp(`asOf: collection "${collection}" does not track history`));
      }
    }
    // Without asOf, a plain read and the plain history listing are as before.
    assert.equal((await send(s.app, 'GET', '/api/plain/x')).statusCode, 200);
    assert.equal((await send(s.app, 'GET', '/api/plain/x/_history')).statusCode, 404);
  });

  test("asOf reads pass the read barrier of the request's consistency", async () => {
    const seen: ReadConsistency[] = [];
    const barrier = s.scripted.readBarrier.bind(s.scripted);
    s.scripted.readBarrier = async (c: ReadConsistency) => {
      seen.push(c);
      return barrier(c);
    };
    try {
      const seq = h[1]!.sequence;
      assert.equal((await send(s.app, 'GET', `/api/p/a?asOf=${seq}`)).statusCode, 200);
      assert.equal((await send(s.app, 'GET', `/api/p/a?asOf=${seq}&consistency=lease`)).statusCode, 200);
      assert.equal((await send(s.app, 'GET', `/api/p/a?consistency=local&asOf=${seq}`)).statusCode, 200);
      assert.deepEqual(seen, ['linearizable', 'lease', 'local']);
      assert.equal((await send(s.app, 'GET', `/api/p/a?asOf=${seq}&consistency=strong`)).statusCode, 400);
      s.scripted.barrierError = new StoreError('READ_TIMEOUT', 'no quorum confirmed the read in time');
      const res = await send(s.app, 'GET', `/api/p/a?asOf=${seq}`);
      assert.equal(res.statusCode, 503);
      assert.equal(errorOf(res).code, 'READ_TIMEOUT');
    } finally {
      s.scripted.barrierError = null;
      delete (s.scripted as Partial<ScriptedBackend>).readBarrier;
    }
  });
});

describe('retention by age over HTTP', () => {
  test('a version past maxAgeMs is gone from _history and from asOf alike', async () => {
    const s = await startScriptedServer();
    try {
      const AGE = 1_000;
      const model = { schema: { type: 'object' }, options: { trackHistory: true, history: { maxAgeMs: AGE } } };
      assert.equal((await send(s.app, 'PUT', '/api/r/_schema', model)).statusCode, 200);
      const v1 = (await send(s.app, 'PUT', '/api/r/a', { n: 1 })).json() as { _rev: number };
      await sleep(AGE * 0.6);
      const v2 = (await send(s.app, 'PATCH', '/api/r/a', { $set: { n: 2 } })).json() as { _rev: number };
      const both = (await send(s.app, 'GET', '/api/r/a/_history')).json() as Event[];
      await sleep(AGE * 0.6);
      // Another document's write moves the log clock on; a's records stay stored, but the first
      // is now older than maxAgeMs by it.
      assert.equal((await send(s.app, 'PUT', '/api/r/other', { n: 0 })).statusCode, 201);

      const listed = ((await send(s.app, 'GET', '/api/r/a/_history')).json() as Event[]).map((e) => e.sequence);
      assert.ok(!listed.includes(v1._rev), `the first version is past maxAgeMs: ${JSON.stringify(listed)}`);
      // Every version, by sequence and by time, is readable exactly when _history lists it.
      for (const e of both) {
        const version = e.sequence === v1._rev ? 1 : 2;
        assert.equal(e.sequence, version === 1 ? v1._rev : v2._rev);
        for (const asOf of [String(e.sequence), new Date(e.timestamp).toISOString()]) {
          for (const form of FORMS) {
            const res = await send(s.app, 'GET', `${form('r', 'a')}?asOf=${encodeURIComponent(asOf)}`);
            if (listed.includes(e.sequence)) {
              assert.equal(res.statusCode, 200, `${asOf}: ${res.body}`);
              assert.equal(res.json().n, version);
            } else {
              assert.equal(res.statusCode, 404, `version ${version} at ${asOf} is hidden from _history: ${res.body}`);
              assert.match(errorOf(res).message, /no longer kept/);
            }
          }
        }
      }
    } finally {
      await s.close();
    }
  });
});
