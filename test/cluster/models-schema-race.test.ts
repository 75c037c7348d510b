// A schema change while writes run, on a 3-node cluster of real processes (issue #14): writers
// send documents valid only under the old schema, only under the new one, or only under the
// old one by omission, to every node, while the schema changes. Every write is either accepted
// under the schema in force at its log index (its `_rev`: before the change's index, the old
// schema, defaults included; after, the new one) or refused with VALIDATION_FAILED under a
// schema that was in force during the request; an accepted write is never lost, a refused one
// never stored, and every node stores the same documents (defaults and coercion decided at
// apply).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { acquireClusterLock, eventually, http, TestCluster, type HttpResult } from './harness.ts';

const COLLECTION = 'race';
/** How long the writers run before the schema change, and after it (ms). */
const WRITES_BEFORE_MS = 1_200;
const WRITES_AFTER_MS = 1_200;
const WRITERS = 3;

function schema(kind: string, tag: string): object {
  return {
    type: 'object',
    properties: {
      _id: { type: 'string' },
      n: { type: 'integer' },
      w: { type: 'integer' },
      kind: { enum: [kind] },
      tag: { type: 'string', default: tag },
    },
    required: kind === 'new' ? ['n', 'w', 'kind'] : ['n', 'w'],
    additionalProperties: false,
  };
}
const OLD = schema('old', 'v1');
const NEW = schema('new', 'v2');

/** What a write sends: `kind` 'old' and none are valid only under OLD, 'new' only under NEW. */
type Kind = 'old' | 'new' | 'none';

interface Attempt {
  readonly id: string;
  readonly n: number;
  readonly w: number;
  readonly kind: Kind;
  readonly startedAt: number;
  endedAt: number;
  /** 201 accepted, 400 refused, 0 unknown (no definite answer before the writer stopped). */
  outcome: 201 | 400 | 0;
  message?: string;
}

interface Stored {
  _id: string;
  _rev: number;
  n: number;
  w: number;
  kind?: string;
  tag: string;
}

describe('a schema change while writes run (3 real nodes)', () => {
  let cluster: TestCluster;
  let release: (() => void) | undefined;
  before(async () => {
    release = await acquireClusterLock();
    cluster = await TestCluster.start({ size: 3 });
  });
  after(async () => {
    await cluster?.close();
    release?.();
  });

  test('every write is accepted under the schema at its log index or refused under one in force; none lost', async () => {
    await cluster.waitForLeader();
    const set = await eventually('the old schema', async () => {
      const r = await http(cluster.node((await cluster.waitForLeader()).nodeId).url, 'PUT', `/api/${COLLECTION}/_schema`, { schema: OLD });
      return r.status === 200 ? r : undefined;
    });
    assert.equal(set.status, 200);

    const attempts: Attempt[] = [];
    let stop = false;
    /** A write with its Idempotency-Key, sent again (any node) until a definite answer. */
    async function writeOnce(a: Attempt, node: number): Promise<void> {
      const body: Record<string, unknown> = { _id: a.id, n: a.n % 2 === 0 ? String(a.n) : a.n, w: a.w };
      if (a.kind !== 'none') body['kind'] = a.kind;
      for (let attempt = 0; attempt < 40; attempt++) {
        const url = cluster.nodes[(node + attempt) % cluster.nodes.length]!.url;
        const r: HttpResult = await http(url, 'POST', `/api/${COLLECTION}`, body, {
          headers: { 'idempotency-key': `race-${a.id}` },
          timeoutMs: 3_000,
        });
        if (r.status === 201 || r.status === 400) {
          a.outcome = r.status;
          a.message = JSON.stringify(r.body);
          break;
        }
        if (stop && attempt > 20) break;
      }
      a.endedAt = Date.now();
    }
    async function writer(w: number): Promise<void> {
      const kinds: Kind[] = ['old', 'new', 'none'];
      for (let n = 0; !stop; n++) {
        const a: Attempt = { id: `w${w}-${n}`, n, w, kind: kinds[(n + w) % 3]!, startedAt: Date.now(), endedAt: 0, outcome: 0 };
        attempts.push(a);
        await writeOnce(a, n + w);
      }
    }
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
    await new Promise((r) => setTimeout(r, WRITES_BEFORE_MS));
    // The change, forced (documents of the old schema stay), while the writers run.
    const changeStartedAt = Date.now();
    const change = await eventually('the new schema', async () => {
      const leader = await cluster.waitForLeader();
      const r = await http(cluster.node(leader.nodeId).url, 'PUT', `/api/${COLLECTION}/_schema?force=true`, { schema: NEW });
      return r.status === 200 ? r : undefined;
    });
    const changeAckedAt = Date.now();
    const version = (change.body as { version: number }).version;
    assert.ok(Number.isSafeInteger(version) && version > 0, JSON.stringify(change.body));
    await new Promise((r) => setTimeout(r, WRITES_AFTER_MS));
    stop = true;
    await Promise.all(writers);

    // Every node: the same documents, once all have applied the last write.
    const leader = await cluster.waitForLeader();
    const all = await http(leader.url, 'GET', `/api/${COLLECTION}?consistency=linearizable&limit=100000`);
    assert.equal(all.status, 200, JSON.stringify(all.body));
    const stored = all.body as Stored[];
    for (const node of cluster.nodes) {
      await eventually(
        `node ${node.id} holds the same documents`,
        async () => {
          const r = await http(node.url, 'GET', `/api/${COLLECTION}?consistency=local&limit=100000`);
          return r.status === 200 && JSON.stringify(r.body) === JSON.stringify(stored) ? true : undefined;
        },
        15_000,
      );
    }

    const byId = new Map(stored.map((d) => [d._id, d]));
    const counts = { accepted: 0, refused: 0, unknown: 0, beforeChange: 0, afterChange: 0, refusedOld: 0, refusedNew: 0 };
    for (const a of attempts) {
      const doc = byId.get(a.id);
      const what = `${a.id} (${a.kind}, ${a.outcome}, ${a.message ?? ''}, stored ${JSON.stringify(doc)})`;
      if (a.outcome === 201) {
        counts.accepted++;
        assert.ok(doc !== undefined, `accepted and lost: ${what}`);
      } else if (a.outcome === 400) {
        counts.refused++;
        assert.equal(doc, undefined, `refused and stored: ${what}`);
        assert.match(a.message ?? '', /VALIDATION_FAILED/, what);
        if (a.kind === 'new') {
          // Refused under the old schema: it was in force when the request started.
          counts.refusedNew++;
          assert.ok(a.startedAt < changeAckedAt, `refused under the old schema after the change was acknowledged: ${what}`);
        } else {
          counts.refusedOld++;
          assert.ok(a.endedAt > changeStartedAt, `refused under the new schema before the change was asked for: ${what}`);
        }
      } else {
        counts.unknown++;
      }
      if (doc === undefined) continue;
      // Stored: valid under the schema in force at its log index, with that schema's default.
      assert.equal(doc.n, a.n, `coerced to an integer: ${what}`);
      assert.equal(doc.w, a.w, what);
      assert.notEqual(doc._rev, version, what);
      if (doc._rev < version) {
        counts.beforeChange++;
        assert.notEqual(a.kind, 'new', `stored under the old schema with kind "new": ${what}`);
        assert.equal(doc.tag, 'v1', what);
      } else {
        counts.afterChange++;
        assert.equal(a.kind, 'new', `stored under the new schema without kind "new": ${what}`);
        assert.equal(doc.tag, 'v2', what);
        assert.ok(a.endedAt > changeStartedAt, what);
      }
      assert.deepEqual(
        Object.keys(doc).sort(),
        a.kind === 'none' ? ['_id', '_rev', 'n', 'tag', 'w'] : ['_id', '_rev', 'kind', 'n', 'tag', 'w'],
        what,
      );
    }
    assert.equal(byId.size, stored.length);
    assert.ok(
      stored.every((d) => attempts.some((a) => a.id === d._id)),
      'nothing stored that nobody wrote',
    );
    // The test saw both sides of the change (else it proves nothing).
    assert.ok(counts.beforeChange > 0 && counts.afterChange > 0 && counts.refusedOld > 0 && counts.refusedNew > 0, JSON.stringify(counts));
    const racing = attempts.filter((a) => a.startedAt < changeAckedAt && a.endedAt > changeStartedAt).length;
    console.log(
      `# schema race: ${JSON.stringify(counts)}, ${racing} in flight during the change (${changeAckedAt - changeStartedAt} ms), change at index ${version}`,
    );
  });
});
