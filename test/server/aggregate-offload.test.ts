// The aggregation worker (src/server/aggregate-offload.ts): a blocking stage over the most
// documents an aggregation may take does not hold the event loop; the time bound stops a
// blocking stage and the next job gets a new worker; the output bound and the queue bound
// answer their errors; an aggregation over HTTP runs there and answers the same as inline.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LoopStalls } from '../../src/node/loop-stalls.ts';
import { AGGREGATE_JOBS_WAITING_MAX, AggregateOffload } from '../../src/server/aggregate-offload.ts';
import { RequestSlicer } from '../../src/server/loop-turns.ts';
import { AGGREGATE_DOCS_MAX, DEFAULT_AGGREGATE_BOUNDS, planPipeline, runPipeline } from '../../src/store/aggregate.ts';
import { StoreError } from '../../src/store/errors.ts';
import type { Document } from '../../src/store/types.ts';
import { errorOf, send, startTestServer } from './helpers.ts';

/** AGGREGATE_DOCS_MAX documents, three tags each: `$unwind` then `$group` into distinct
 * groups held the event loop 1.8 s in one piece before the worker (docs/security.md). */
function manyDocuments(): Document[] {
  return Array.from({ length: AGGREGATE_DOCS_MAX }, (_, i) => ({ _id: `d${i}`, i, tags: [`t${i}`, `u${i % 1000}`, 'v'] }) as unknown as Document);
}
const HEAVY = planPipeline([{ $unwind: '$tags' }, { $group: { _id: '$tags', n: { $sum: 1 } } }, { $sort: { n: -1, _id: 1 } }, { $limit: 3 }]);
const EXPECTED_HEAVY = [
  { _id: 'v', n: AGGREGATE_DOCS_MAX },
  { _id: 'u0', n: AGGREGATE_DOCS_MAX / 1000 },
  { _id: 'u1', n: AGGREGATE_DOCS_MAX / 1000 },
];

describe('the aggregation worker', () => {
  test('a blocking pipeline over AGGREGATE_DOCS_MAX documents leaves the event loop turning', { timeout: 120_000 }, async () => {
    const docs = manyDocuments();
    const offload = new AggregateOffload();
    const stalls = new LoopStalls();
    try {
      // The first job loads the worker (seconds from the TypeScript sources): not measured.
      assert.equal(await offload.run([], HEAVY.rest, DEFAULT_AGGREGATE_BOUNDS, new RequestSlicer()), '[]');
      stalls.start();
      const startedMs = performance.now();
      const json = await offload.run(docs, HEAVY.rest, { ...DEFAULT_AGGREGATE_BOUNDS, timeMsMax: 60_000 }, new RequestSlicer());
      const elapsedMs = performance.now() - startedMs;
      stalls.stop();
      assert.deepEqual(JSON.parse(json), EXPECTED_HEAVY);
      // Inline, the pipeline is one piece: one stall nearly as long as the job. On the worker
      // the loop keeps turning (the chunks' clones take turns with it), so its longest stall
      // is what a busy machine adds, a small part of the job. Not a bound in ms: this box is
      // shared, and the process's CPU time counts the worker's too.
      const status = stalls.status();
      assert.ok(
        status.wallMsMax < elapsedMs / 4,
        `the event loop was held for ${status.wallMsMax} ms of a ${Math.round(elapsedMs)} ms job: ${JSON.stringify(status.recent.filter((r) => r.wallMs >= 50))}`,
      );
    } finally {
      stalls.stop();
      await offload.close();
    }
  });

  test('the time bound stops a blocking stage; the next job runs on a new worker', { timeout: 120_000 }, async () => {
    const docs = manyDocuments();
    const offload = new AggregateOffload();
    try {
      await assert.rejects(
        offload.run(docs, HEAVY.rest, { ...DEFAULT_AGGREGATE_BOUNDS, timeMsMax: 20 }, new RequestSlicer()),
        (e: unknown) => e instanceof StoreError && e.code === 'VALIDATION' && /AGGREGATE_TIME_MS_MAX \(20 ms\)/.test(e.message),
      );
      const small = planPipeline([{ $group: { _id: null, n: { $sum: 1 } } }]);
      const json = await offload.run(docs.slice(0, 10), small.rest, DEFAULT_AGGREGATE_BOUNDS, new RequestSlicer());
      assert.deepEqual(JSON.parse(json), [{ _id: null, n: 10 }]);
    } finally {
      await offload.close();
    }
  });

  test('the output bound is the worker’s VALIDATION error; past AGGREGATE_JOBS_WAITING_MAX jobs, 429', { timeout: 120_000 }, async () => {
    const docs = manyDocuments().slice(0, 1000);
    const offload = new AggregateOffload();
    try {
      const all = planPipeline([{ $project: { i: 1 } }]);
      await assert.rejects(
        offload.run(docs, all.rest, { ...DEFAULT_AGGREGATE_BOUNDS, outputBytesMax: 100 }, new RequestSlicer()),
        (e: unknown) => e instanceof StoreError && e.code === 'VALIDATION' && /AGGREGATE_OUTPUT_BYTES_MAX \(100 bytes\)/.test(e.message),
      );
      const jobs = Array.from({ length: AGGREGATE_JOBS_WAITING_MAX }, () =>
        offload.run(docs, all.rest, DEFAULT_AGGREGATE_BOUNDS, new RequestSlicer()),
      );
      await assert.rejects(
        offload.run(docs, all.rest, DEFAULT_AGGREGATE_BOUNDS, new RequestSlicer()),
        (e: unknown) => e instanceof StoreError && e.code === 'TOO_MANY_REQUESTS' && /AGGREGATE_JOBS_WAITING_MAX/.test(e.message),
      );
      const answers = await Promise.all(jobs);
      for (const json of answers) assert.deepEqual(JSON.parse(json), runPipeline(docs, all.rest));
      assert.equal(offload.jobsWaiting, 0);
    } finally {
      await offload.close();
    }
  });

  test('over HTTP: the worker’s answer is the inline one, and its errors are 400s', { timeout: 120_000 }, async () => {
    const s = await startTestServer();
    try {
      const docs = Array.from({ length: 500 }, (_, i) => ({ _id: `o${i}`, shop: `s${i % 7}`, total: i }));
      assert.equal((await send(s.app, 'POST', '/api/orders', docs)).statusCode, 201);
      const pipeline = [{ $group: { _id: '$shop', sum: { $sum: '$total' } } }, { $sort: { sum: -1 } }];
      const res = await send(s.app, 'POST', '/api/orders/_aggregate', { pipeline });
      assert.equal(res.statusCode, 200, res.body);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      assert.deepEqual(res.json(), runPipeline(docs as unknown as Document[], planPipeline(pipeline).rest));
      const unwindString = await send(s.app, 'POST', '/api/orders/_aggregate', { pipeline: [{ $unwind: '$shop' }, { $count: 'n' }] });
      assert.equal(unwindString.statusCode, 200, unwindString.body);
      assert.deepEqual(unwindString.json(), [{ n: 500 }]);
      const bad = await send(s.app, 'POST', '/api/orders/_aggregate', { pipeline: [{ $group: { _id: '$shop', x: { $nope: 1 } } }] });
      assert.equal(bad.statusCode, 400, bad.body);
      assert.ok(errorOf(bad).message.length > 0);
    } finally {
      await s.close();
    }
  });
});
