// Embedded benchmarks: durable inserts with 1 and 64 writers, gets by _id and indexed
// equality queries, each side by side with lmdb-js and better-sqlite3 in alternating rounds;
// our range query and snapshot on 1,000,000 documents, recovery of a long log, and the memory
// a 1 KB document holds.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReopenResult } from './fixtures/reopen-child.ts';
import type { RestoreResult } from './fixtures/restore-child.ts';
import { embeddedGuard } from './embedded-guard.ts';
import { memoryPerDocument } from './memory.ts';
// The package as applications import it (the compiled build in dist/: npm run bench builds it).
import { loadOurReads } from './peers/ours.ts';
import { categoryOf } from './peers/subject.ts';
import { insertsSideBySide, loadPeers, readsSideBySide, type InsertMeasure, type Peers, type ReadsSideBySide } from './side-by-side.ts';
import { runFixture } from './fixtures/run-fixture.ts';
import { percentile, progress } from './util.ts';

export interface EmbeddedBenchOptions {
  /** Documents for the read benchmarks and entries for the recovery benchmark. */
  readonly documents: number;
  /** Seconds of each timed round (inserts, gets, queries) of each store. */
  readonly secondsPerRound: number;
  /** Alternating rounds of each side-by-side measure (ours, lmdb, sqlite, ours, ...). */
  readonly rounds: number;
  /** Documents of about 1 KB for the memory measure. */
  readonly memoryDocuments: number;
}

export async function benchEmbedded(options: EmbeddedBenchOptions): Promise<Record<string, unknown>> {
  const base = await mkdtemp(join(tmpdir(), 'cs-bench-'));
  try {
    // Recovery first, while this process is small and quiet: after the read benchmarks, the
    // collection of their garbage would compete with the timed reopens for the 2 CPUs.
    const recovered = await recovery(join(base, 'recovery'), options.documents);
    const installed = await snapshotInstall(join(base, 'snapshot'), options.documents);
    const memory = await memoryPerDocument(base, options.memoryDocuments);
    const peers = await loadPeers();
    const inserts = await insertsSideBySide(peers, base, { rounds: options.rounds, seconds: options.secondsPerRound });
    const readResults = await reads(peers, base, options);
    const results = {
      // Ours alone, as before (the medians of the alternating rounds), for the report and history.
      durableInserts1Writer: ourInserts(inserts.durableInserts1Writer),
      durableInserts64Writers: ourInserts(inserts.durableInserts64Writers),
      reads: readResults.ours,
      recovery: recovered,
      snapshotInstall: installed,
      memoryPerDocument: memory,
      sideBySide: { ...inserts, reads: readResults.sideBySide },
    };
    return { ...results, guard: embeddedGuard(results.sideBySide, results) };
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

interface OurReadResults {
  readonly documents: number;
  readonly getsPerSecond: number;
  readonly indexedEqualityQuery: QueryLatency;
  readonly indexedRangeQueryLimit100: QueryLatency;
  readonly explainEquality: unknown;
  readonly explainRange: unknown;
  readonly snapshotBytes: number;
  readonly snapshotEncodeSeconds: number;
}

interface QueryLatency {
  readonly p50Us: number;
  readonly p99Us: number;
}

function ourInserts(measure: InsertMeasure): Record<string, number> {
  const summary = measure.subjects.ours!;
  return {
    writers: measure.writers,
    insertsPerSecond: summary.median,
    p50Ms: measure.latencyMs.ours!.p50,
    p99Ms: measure.latencyMs.ours!.p99,
  };
}

async function reads(peers: Peers, base: string, options: EmbeddedBenchOptions): Promise<{ ours: OurReadResults; sideBySide: ReadsSideBySide }> {
  const documents = options.documents;
  const { db, col, reader } = await loadOurReads(documents, (i) => progress(`loading: ${i}/${documents}`));
  try {
    const sideBySide = await readsSideBySide(peers, reader, base, { documents, rounds: options.rounds, seconds: options.secondsPerRound });
    // Our own latencies, as before: gets by _id and per-query percentiles.
    const ids = Array.from({ length: 100_000 }, (_, i) => `doc${(i * 7919) % documents}`);
    let found = 0;
    const getRounds = 20;
    const t0 = performance.now();
    for (let r = 0; r < getRounds; r++) for (const id of ids) if (col.get(id) !== null) found++;
    const getSeconds = (performance.now() - t0) / 1000;
    if (found !== ids.length * getRounds) throw new Error('gets missed documents');

    const equality = timeQueries(2000, (i) => col.find({ category: categoryOf(i * 31, documents) }));
    // Sorted by the indexed field: the index yields the order and the scan stops at the limit.
    // (Without a sort, results come in _id order, so every match must be fetched first.)
    const rangeQuery = (i: number) => ({ price: { $gte: i % 9000, $lt: (i % 9000) + 10 } });
    const range = timeQueries(2000, (i) => col.find(rangeQuery(i), { sort: { price: 1 }, limit: 100 }));
    const rangePlan = col.explain(rangeQuery(1), { sort: { price: 1 }, limit: 100 });
    const snapshotStart = performance.now();
    const snap = db.store.encodeSnapshot();
    const snapshotSeconds = (performance.now() - snapshotStart) / 1000;
    return {
      sideBySide,
      ours: {
        documents,
        getsPerSecond: Math.round((ids.length * getRounds) / getSeconds),
        indexedEqualityQuery: equality,
        indexedRangeQueryLimit100: range,
        explainEquality: col.explain({ category: categoryOf(1, documents) }).plan,
        explainRange: { plan: rangePlan.plan, sort: rangePlan.sort, keysExamined: rangePlan.keysExamined },
        snapshotBytes: snap.byteLength,
        snapshotEncodeSeconds: round(snapshotSeconds),
      },
    };
  } finally {
    await db.close();
  }
}

function timeQueries(count: number, run: (i: number) => unknown[]): QueryLatency {
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

export interface SnapshotInstallResult {
  readonly documents: number;
  readonly snapshotBytes: number;
  /** The median of `restoreRuns`: Store.restoreSnapshot alone, the bytes in memory. */
  readonly restoreSeconds: number;
  readonly restoreRuns: number[];
  /** The median of `reopenRuns`: open() of the directory, the file read and checked too. */
  readonly reopenSeconds: number;
  readonly reopenRuns: number[];
  /** The median over the runs of the JS heap a restored store holds per document, both
   * indexes included (bytes). */
  readonly heapBytesPerDocument: number;
}

/**
 * A database of `documents` read documents with two secondary indexes, all in one snapshot,
 * restored in fresh processes: the snapshot's bytes decoded and the documents and both indexes
 * rebuilt, as a follower does with an InstallSnapshot once it has the bytes (restore-child.ts),
 * and the whole directory opened as an application does (reopen-child.ts), alternately.
 */
async function snapshotInstall(dir: string, documents: number): Promise<SnapshotInstallResult> {
  const written = await runFixture<{ documents: number; snapshotIndex: number; snapshotBytes: number }>('write-snapshot-child.ts', [
    dir,
    String(documents),
  ]);
  const restores: number[] = [];
  const reopens: number[] = [];
  const heaps: number[] = [];
  for (let run = 1; run <= REOPEN_RUNS; run++) {
    progress(`restoring a snapshot in a fresh process: run ${run}/${REOPEN_RUNS}`);
    const restored = await runFixture<RestoreResult>('restore-child.ts', [dir]);
    if (restored.count !== documents || restored.indexes !== 2)
      throw new Error(`run ${run}: restored ${restored.count} of ${documents} documents, ${restored.indexes} indexes`);
    const reopened = await runFixture<ReopenResult>('reopen-child.ts', [dir]);
    if (reopened.count !== documents) throw new Error(`run ${run}: reopened ${reopened.count} of ${documents} documents`);
    if (reopened.snapshotIndex !== written.snapshotIndex) {
      throw new Error(`run ${run}: opened from the snapshot at ${reopened.snapshotIndex}, not ${written.snapshotIndex}`);
    }
    progress(
      `restoring a snapshot in a fresh process: run ${run}/${REOPEN_RUNS}: restore ${round(restored.seconds)} s, reopen ${round(reopened.seconds)} s`,
    );
    restores.push(restored.seconds);
    reopens.push(reopened.seconds);
    heaps.push(restored.heapBytesPerDocument);
  }
  const median = (xs: number[]): number =>
    round(
      percentile(
        [...xs].sort((a, b) => a - b),
        0.5,
      ),
    );
  return {
    documents,
    snapshotBytes: written.snapshotBytes,
    restoreSeconds: median(restores),
    restoreRuns: restores.map(round),
    reopenSeconds: median(reopens),
    reopenRuns: reopens.map(round),
    heapBytesPerDocument: Math.round(median(heaps)),
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
