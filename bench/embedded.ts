// Embedded benchmarks: durable inserts with 1 and 64 writers, gets by _id,
// indexed queries on 1,000,000 documents, snapshot, and recovery of a long log.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { openFileLog } from '../src/log/file-log.ts';
import { encodeCommand } from '../src/node/command-codec.ts';
import type { Entry } from '../src/raft/types.ts';
import { open } from '../src/index.ts';
import { percentile, progress } from './util.ts';

const execFileAsync = promisify(execFile);

export interface EmbeddedBenchOptions {
  /** Documents for the read benchmarks and entries for the recovery benchmark. */
  readonly documents: number;
  readonly insertSeconds: number;
}

export async function benchEmbedded(options: EmbeddedBenchOptions): Promise<Record<string, unknown>> {
  const base = await mkdtemp(join(tmpdir(), 'cs-bench-'));
  try {
    return {
      durableInserts1Writer: await durableInserts(join(base, 'w1'), 1, options.insertSeconds),
      durableInserts64Writers: await durableInserts(join(base, 'w64'), 64, options.insertSeconds),
      reads: await reads(options.documents),
      recovery: await recovery(join(base, 'recovery'), options.documents),
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
  let t0 = performance.now();
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

async function recovery(dir: string, entries: number): Promise<Record<string, number>> {
  // The log is written directly, one insert command per entry: through the database,
  // concurrent inserts would share entries (coalesced), and the measure is the replay
  // of 1,000,000 entries. Term 1 with node 1 as its voter, as a database would write it.
  const log = await openFileLog({ dir, sync: 'none' });
  await log.setHardState({ term: 1, vote: 1, commit: 0 });
  const batch = 10_000;
  for (let first = 1; first <= entries; first += batch) {
    const chunk: Entry[] = [];
    for (let index = first; index < Math.min(entries + 1, first + batch); index++) {
      const n = index - 1;
      const doc = { _id: `r${String(n).padStart(8, '0')}`, n, name: 'recovery document', price: n % 1000 };
      chunk.push({ index, term: 1, type: 'normal', data: encodeCommand({ type: 'insert', collection: 'bench', docs: [doc] }) });
    }
    await log.append(chunk);
    if ((first - 1) % 100_000 === 0) progress(`writing log: ${first - 1}/${entries}`);
  }
  await log.close();
  progress('reopening in a fresh process');
  const { seconds, count, appliedIndex } = await reopenInChild(dir);
  if (count !== entries) throw new Error(`recovered ${count} of ${entries} documents`);
  return { entries, replayedThroughIndex: appliedIndex, reopenSeconds: round(seconds) };
}

/** Times open() of `dir` in a new Node process (see reopen-child.ts). */
async function reopenInChild(dir: string): Promise<{ seconds: number; count: number; appliedIndex: number }> {
  const child = fileURLToPath(new URL('./fixtures/reopen-child.ts', import.meta.url));
  const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', child, dir], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout) as { seconds: number; count: number; appliedIndex: number };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
