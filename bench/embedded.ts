// Embedded benchmarks: durable inserts with 1 and 64 writers, gets by _id,
// indexed queries on 1,000,000 documents, snapshot, and recovery of a long log.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// The package as applications import it: the compiled build in dist/ (npm run bench builds it).
import { open } from 'collection-store';
import type { ReopenResult } from './fixtures/reopen-child.ts';
import { runFixture } from './fixtures/run-fixture.ts';
import { percentile, progress } from './util.ts';

export interface EmbeddedBenchOptions {
  /** Documents for the read benchmarks and entries for the recovery benchmark. */
  readonly documents: number;
  readonly insertSeconds: number;
}

export async function benchEmbedded(options: EmbeddedBenchOptions): Promise<Record<string, unknown>> {
  const base = await mkdtemp(join(tmpdir(), 'cs-bench-'));
  try {
    // Recovery first, while this process is small and quiet: after the read benchmarks, the
    // collection of their garbage would compete with the timed reopens for the 2 CPUs.
    const recovered = await recovery(join(base, 'recovery'), options.documents);
    return {
      durableInserts1Writer: await durableInserts(join(base, 'w1'), 1, options.insertSeconds),
      durableInserts64Writers: await durableInserts(join(base, 'w64'), 64, options.insertSeconds),
      reads: await reads(options.documents),
      recovery: recovered,
    };
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

async function durableInserts(dir: string, writers: number, seconds: number): Promise<Record<string, number>> {
  const db = await open({ dir, sync: 'batch', snapshotThreshold: 0 });
  const col = db.collection('bench');
  const latencies: number[] = [];
  let done = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  const tick = setInterval(() => progress(`inserts (${writers} writers): ${done}`), 500);
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        await col.insert({ writer: w, n: done, name: 'benchmark document', tags: ['a', 'b'], price: done % 1000 });
        latencies.push(performance.now() - t0);
        done++;
      }
    }),
  );
  clearInterval(tick);
  const elapsed = (performance.now() - started) / 1000;
  await db.close();
  latencies.sort((a, b) => a - b);
  return {
    writers,
    inserts: done,
    seconds: round(elapsed),
    insertsPerSecond: Math.round(done / elapsed),
    p50Ms: round(percentile(latencies, 0.5)),
    p99Ms: round(percentile(latencies, 0.99)),
  };
}

async function reads(documents: number): Promise<Record<string, unknown>> {
  const db = await open({ memory: true, snapshotThreshold: 0 });
  const col = db.collection('bench');
  await col.createIndex('category');
  await col.createIndex('price');
  const batch = 1000;
  for (let i = 0; i < documents; i += batch) {
    const docs = [];
    for (let j = i; j < Math.min(documents, i + batch); j++) {
      docs.push({ _id: `doc${j}`, category: `c${j % 100_000}`, price: j % 10_000, name: `item ${j}` });
    }
    await col.insertMany(docs);
    if (i % 100_000 === 0) progress(`loading: ${i}/${documents}`);
  }
  // gets by _id
  const ids = Array.from({ length: 100_000 }, (_, i) => `doc${(i * 7919) % documents}`);
  let found = 0;
  const getRounds = 20;
  const t0 = performance.now();
  for (let r = 0; r < getRounds; r++) for (const id of ids) if (col.get(id) !== null) found++;
  const getSeconds = (performance.now() - t0) / 1000;
  if (found !== ids.length * getRounds) throw new Error('gets missed documents');

  const equality = timeQueries(2000, (i) => col.find({ category: `c${(i * 31) % 100_000}` }));
  // Sorted by the indexed field: the index yields the order and the scan stops at the limit.
  // (Without a sort, results come in _id order, so every match must be fetched first.)
  const rangeQuery = (i: number) => ({ price: { $gte: i % 9000, $lt: (i % 9000) + 10 } });
  const range = timeQueries(2000, (i) => col.find(rangeQuery(i), { sort: { price: 1 }, limit: 100 }));
  const rangePlan = col.explain(rangeQuery(1), { sort: { price: 1 }, limit: 100 });
  const snapshotStart = performance.now();
  const snap = db.store.encodeSnapshot();
  const snapshotSeconds = (performance.now() - snapshotStart) / 1000;
  await db.close();
  return {
    documents,
    getsPerSecond: Math.round((ids.length * getRounds) / getSeconds),
    indexedEqualityQuery: equality,
    indexedRangeQueryLimit100: range,
    explainEquality: col.explain({ category: 'c1' }).plan,
    explainRange: { plan: rangePlan.plan, sort: rangePlan.sort, keysExamined: rangePlan.keysExamined },
    snapshotBytes: snap.byteLength,
    snapshotEncodeSeconds: round(snapshotSeconds),
  };
}

function timeQueries(count: number, run: (i: number) => unknown[]): Record<string, number> {
  for (let i = 0; i < 200; i++) run(i); // warm up
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const docs = run(i);
    samples.push((performance.now() - t0) * 1000);
    if (docs.length === 0) throw new Error('query found nothing');
  }
  samples.sort((a, b) => a - b);
  return { p50Us: round(percentile(samples, 0.5)), p99Us: round(percentile(samples, 0.99)) };
}

export interface RecoveryResult {
  readonly entries: number;
  /** The applied index right after the first reopen. */
  readonly replayedThroughIndex: number;
  /** The median of `reopenRuns`. */
  readonly reopenSeconds: number;
  /** Seconds of each reopen, in run order. */
  readonly reopenRuns: number[];
}

/** Reopens timed, each in a fresh process: one sample would be at the mercy of the VM's noise. */
const REOPEN_RUNS = 3;

async function recovery(dir: string, entries: number): Promise<RecoveryResult> {
  const written = await runFixture<{ entries: number; lastIndex: number }>('write-log-child.ts', [dir, String(entries)]);
  if (written.lastIndex !== entries) throw new Error(`wrote ${written.lastIndex} of ${entries} entries`);
  const runs: ReopenResult[] = [];
  for (let run = 1; run <= REOPEN_RUNS; run++) {
    progress(`reopening in a fresh process: run ${run}/${REOPEN_RUNS}`);
    const result = await runFixture<ReopenResult>('reopen-child.ts', [dir]);
    // Each reopen appends the new leader's no-op, which adds no document.
    if (result.count !== entries) throw new Error(`run ${run}: recovered ${result.count} of ${entries} documents`);
    if (result.snapshotIndex !== 0) throw new Error(`run ${run}: opened from a snapshot at ${result.snapshotIndex}, not by replaying the log`);
    progress(`reopening in a fresh process: run ${run}/${REOPEN_RUNS}: ${round(result.seconds)} s`);
    runs.push(result);
  }
  const seconds = runs.map((r) => r.seconds);
  return {
    entries,
    replayedThroughIndex: runs[0]!.appliedIndex,
    reopenSeconds: round(
      percentile(
        [...seconds].sort((a, b) => a - b),
        0.5,
      ),
    ),
    reopenRuns: seconds.map(round),
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
