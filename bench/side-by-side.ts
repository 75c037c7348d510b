// The embedded side-by-side: ours, lmdb-js and better-sqlite3 on the same workload in the same
// run, in alternating rounds, with the ratios ours / peer of the medians. A peer that cannot be
// loaded is skipped with the reason in the results (it is a dev/optional dependency).
import { mkdir, rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { measureDiskSync, type DiskSync } from './fixtures/disk-sync.ts';
import { lmdbSubject, loadLmdb } from './peers/lmdb.ts';
import { ours } from './peers/ours.ts';
import { loadSqlite, sqliteSubject } from './peers/sqlite.ts';
import { categoryOf, MATCHES_PER_CATEGORY, readDoc, type InsertDoc, type Reader, type Subject, type SubjectName } from './peers/subject.ts';
import { alternate, pairedRatios, round3, summarize, type Summary } from './rounds.ts';
import { percentile, progress } from './util.ts';

/** The untimed run of each store before the rounds of each measure. */
const WARM_UP_SECONDS = 0.5;

export interface PeerMeasure {
  readonly unit: string;
  /** Only the subjects that ran. */
  readonly subjects: Partial<Record<SubjectName, Summary>>;
  /**
   * ours / peer, the median over the rounds of each round's ratio (higher is better for
   * ours); absent for a peer that did not run. vsBestPeer: against the better peer of each round.
   */
  readonly ratios: { readonly vsLmdb?: number | null; readonly vsSqlite?: number | null; readonly vsBestPeer?: number | null };
  /** Each round's ratios, in run order. */
  readonly ratioRounds: { readonly vsLmdb?: readonly number[]; readonly vsSqlite?: readonly number[]; readonly vsBestPeer?: readonly number[] };
}

export interface InsertMeasure extends PeerMeasure {
  readonly writers: number;
  /** Each subject's median over the rounds of its per-round latency percentiles. */
  readonly latencyMs: Partial<Record<SubjectName, { readonly p50: number; readonly p99: number }>>;
}

export interface SideBySideResults {
  readonly rounds: number;
  readonly secondsPerRound: number;
  readonly setups: Partial<Record<SubjectName, string>>;
  /** Why a peer did not run. */
  readonly skipped: Partial<Record<SubjectName, string>>;
  readonly durableInserts1Writer: InsertMeasure;
  readonly durableInserts64Writers: InsertMeasure;
  /** Inserts per transaction of the hand-written SQLite group commit with 64 writers. */
  readonly sqliteInsertsPerCommit64?: number;
  /** The disk's latency for one durable write, and the durable inserts per second it allows
   * 64 waiting writers at most, whatever the store (fixtures/disk-sync.ts). */
  readonly diskSync: DiskSync;
  readonly load1AtStart: number;
  readonly load1AtEnd: number;
}

export interface ReadsSideBySide {
  readonly documents: number;
  readonly getsById: PeerMeasure;
  /** The same 1,000 categories asked in turn: ours answers from its filter cache (1,024
   * compiled filters), as an application repeating its queries gets. */
  readonly indexedEqualityQuery: PeerMeasure;
  /** UNCACHED_CATEGORIES_MAX categories asked in turn, each again only after 10,000 others:
   * none is in our filter cache (every query compiles its filter), as ids or e-mails asked once. */
  readonly indexedEqualityQueryUncached: PeerMeasure;
}

/** Distinct categories of the uncached equality query (fewer when there are fewer): far more
 * than the filter cache holds (FilterCache, 1,024), so each is compiled afresh when asked. */
export const UNCACHED_CATEGORIES_MAX = 10_000;

export interface Peers {
  readonly subjects: readonly Subject[];
  readonly skipped: Partial<Record<SubjectName, string>>;
}

/** Ours first, then the peers that load. */
export async function loadPeers(): Promise<Peers> {
  const subjects: Subject[] = [ours];
  const skipped: Partial<Record<SubjectName, string>> = {};
  const lmdb = await loadLmdb();
  if (typeof lmdb === 'string') skipped.lmdb = lmdb;
  else subjects.push(lmdbSubject(lmdb));
  const sqlite = await loadSqlite();
  if (typeof sqlite === 'string') skipped.sqlite = sqlite;
  else subjects.push(sqliteSubject(sqlite));
  for (const reason of Object.values(skipped)) process.stderr.write(`skipping a peer: ${reason}\n`);
  return { subjects, skipped };
}

export async function insertsSideBySide(
  peers: Peers,
  base: string,
  options: { readonly rounds: number; readonly seconds: number },
): Promise<SideBySideResults> {
  const load1AtStart = round3(loadavg()[0]!);
  await mkdir(base, { recursive: true });
  const diskSync = await measureDiskSync(base);
  progress(
    `the disk: one durable write ${diskSync.syncWriteP50Us} µs (${diskSync.poolWriteP50Us} µs through the thread pool): 64 writers can do at most ${diskSync.ceiling64WritersPerSecond}/s`,
  );
  const byName = new Map(peers.subjects.map((s) => [s.name, s]));
  const names = peers.subjects.map((s) => s.name);
  let sqliteBatch: number | undefined;
  const measure = async (writers: number): Promise<InsertMeasure> => {
    // One untimed run of each store first: the first timed round would otherwise also pay for
    // compiling the hot paths (ours runs first in each round, so it would pay most).
    for (const name of names) {
      const dir = join(base, `warm-up-${name}-${writers}`);
      await mkdir(dir, { recursive: true });
      await durableInserts(byName.get(name)!, dir, writers, Math.min(WARM_UP_SECONDS, options.seconds));
      await rm(dir, { recursive: true, force: true });
    }
    const latencies = new Map<SubjectName, { p50: number[]; p99: number[] }>(names.map((n) => [n, { p50: [], p99: [] }]));
    const values = await alternate(names, options.rounds, async (name, r) => {
      const dir = join(base, `inserts-${name}-${writers}-${r}`);
      await mkdir(dir, { recursive: true });
      try {
        const run = await durableInserts(byName.get(name)!, dir, writers, options.seconds);
        latencies.get(name)!.p50.push(run.p50Ms);
        latencies.get(name)!.p99.push(run.p99Ms);
        if (name === 'sqlite' && writers === 64) sqliteBatch = run.insertsPerCommit;
        progress(`inserts, ${writers} writer(s), round ${r + 1}/${options.rounds}, ${name}: ${run.insertsPerSecond}/s`);
        return run.insertsPerSecond;
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
    const latencyMs = Object.fromEntries(
      [...latencies].map(([n, l]) => [n, { p50: summarize(l.p50).median, p99: summarize(l.p99).median }]),
    ) as InsertMeasure['latencyMs'];
    return { writers, unit: 'inserts/s', ...measureOf(values), latencyMs };
  };
  const durableInserts1Writer = await measure(1);
  const durableInserts64Writers = await measure(64);
  return {
    rounds: options.rounds,
    secondsPerRound: options.seconds,
    setups: Object.fromEntries(peers.subjects.map((s) => [s.name, s.setup])),
    skipped: peers.skipped,
    durableInserts1Writer,
    durableInserts64Writers,
    ...(sqliteBatch !== undefined ? { sqliteInsertsPerCommit64: sqliteBatch } : {}),
    diskSync,
    load1AtStart,
    load1AtEnd: round3(loadavg()[0]!),
  };
}

/** Loads the peers' readers (ours is given, already loaded) and runs gets and queries in alternating rounds. */
export async function readsSideBySide(
  peers: Peers,
  ourReader: Reader,
  base: string,
  options: { readonly documents: number; readonly rounds: number; readonly seconds: number },
): Promise<ReadsSideBySide> {
  const readers = new Map<SubjectName, Reader>([['ours', ourReader]]);
  try {
    for (const subject of peers.subjects) {
      if (subject.name === 'ours') continue;
      progress(`loading ${options.documents} documents into ${subject.name}`);
      readers.set(subject.name, await subject.loadReader(join(base, `reads-${subject.name}`), options.documents));
    }
    checkSameAnswers(readers, options.documents);
    const names = [...readers.keys()];
    const ids = Array.from({ length: 10_000 }, (_, i) => readDoc((i * 7919) % options.documents, options.documents)._id);
    const categories = Array.from({ length: 1000 }, (_, i) => categoryOf(i * 31, options.documents));
    const categoryCount = Math.max(1, Math.floor(options.documents / MATCHES_PER_CATEGORY));
    // Distinct categories in a scattered order: i * 7919 mod n gives n distinct values when the
    // prime 7919 does not divide n (it divides none of the bench's sizes, powers of ten).
    const uncached = Array.from({ length: Math.min(UNCACHED_CATEGORIES_MAX, categoryCount) }, (_, i) => `c${(i * 7919) % categoryCount}`);
    const getBatch = (name: SubjectName) => (): void => {
      const reader = readers.get(name)!;
      for (const id of ids) {
        const doc = reader.get(id);
        if (doc === null || doc === undefined) throw new Error(`${name}: a get found nothing`);
      }
    };
    const queryBatch =
      (name: SubjectName, asked: readonly string[] = categories) =>
      (): void => {
        const reader = readers.get(name)!;
        for (const c of asked) if (reader.findByCategory(c).length === 0) throw new Error(`${name}: a query found nothing`);
      };
    // Untimed first, as for the inserts: the first round would also pay for compiling.
    for (const name of names) timeFor(Math.min(WARM_UP_SECONDS, options.seconds), 1, getBatch(name));
    const gets = await alternate(names, options.rounds, async (name, r) => {
      const rate = timeFor(options.seconds, ids.length, getBatch(name));
      progress(`gets by id, round ${r + 1}/${options.rounds}, ${name}: ${Math.round(rate)}/s`);
      return rate;
    });
    for (const name of names) timeFor(Math.min(WARM_UP_SECONDS, options.seconds), 1, queryBatch(name));
    const queries = await alternate(names, options.rounds, async (name, r) => {
      const rate = timeFor(options.seconds, categories.length, queryBatch(name));
      progress(`indexed equality query, round ${r + 1}/${options.rounds}, ${name}: ${Math.round(rate)}/s`);
      return rate;
    });
    for (const name of names) timeFor(Math.min(WARM_UP_SECONDS, options.seconds), 1, queryBatch(name, uncached));
    const uncachedQueries = await alternate(names, options.rounds, async (name, r) => {
      const rate = timeFor(options.seconds, uncached.length, queryBatch(name, uncached));
      progress(`indexed equality query, ${uncached.length} values, round ${r + 1}/${options.rounds}, ${name}: ${Math.round(rate)}/s`);
      return rate;
    });
    return {
      documents: options.documents,
      getsById: { unit: 'gets/s', ...measureOf(gets) },
      indexedEqualityQuery: { unit: 'queries/s', ...measureOf(queries) },
      indexedEqualityQueryUncached: { unit: 'queries/s', ...measureOf(uncachedQueries) },
    };
  } finally {
    for (const [name, reader] of readers) if (name !== 'ours') await reader.close();
  }
}

/** Every store must answer the same: the same documents found by the same query. */
function checkSameAnswers(readers: ReadonlyMap<SubjectName, Reader>, documents: number): void {
  for (let i = 0; i < 20; i++) {
    const doc = readDoc((i * 104_729) % documents, documents);
    const answers = [...readers].map(([name, reader]) => {
      const found = reader.findByCategory(doc.category) as { _id: string }[];
      const got = reader.get(doc._id) as { category?: string } | null | undefined;
      if (got?.category !== doc.category) throw new Error(`${name}: get(${doc._id}) returned ${JSON.stringify(got)}`);
      return `${name}: ${found
        .map((d) => d._id)
        .sort()
        .join(',')}`;
    });
    const distinct = new Set(answers.map((a) => a.slice(a.indexOf(':'))));
    if (distinct.size !== 1) throw new Error(`the stores disagree on category ${doc.category}:\n${answers.join('\n')}`);
  }
}

/** Runs `batch` (of `perBatch` operations) until `seconds` have passed; operations per second. */
function timeFor(seconds: number, perBatch: number, batch: () => void): number {
  batch(); // warm up
  let done = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  while (performance.now() < deadline) {
    batch();
    done += perBatch;
  }
  return done / ((performance.now() - started) / 1000);
}

function measureOf(values: Partial<Record<SubjectName, number[]>>): Pick<PeerMeasure, 'subjects' | 'ratios' | 'ratioRounds'> {
  const subjects: Partial<Record<SubjectName, Summary>> = {};
  for (const [name, v] of Object.entries(values) as [SubjectName, number[]][]) subjects[name] = summarize(v.map(Math.round));
  const ours = values.ours!;
  const peers = [values.lmdb, values.sqlite].filter((v): v is number[] => v !== undefined);
  const paired = {
    ...(values.lmdb ? { vsLmdb: pairedRatios(ours, values.lmdb) } : {}),
    ...(values.sqlite ? { vsSqlite: pairedRatios(ours, values.sqlite) } : {}),
    ...(peers.length > 0 ? { vsBestPeer: pairedRatios(ours, ...peers) } : {}),
  };
  const entries = Object.entries(paired) as [keyof PeerMeasure['ratios'], ReturnType<typeof pairedRatios>][];
  return {
    subjects,
    ratios: Object.fromEntries(entries.map(([k, p]) => [k, p?.median ?? null])),
    ratioRounds: Object.fromEntries(entries.map(([k, p]) => [k, p?.rounds ?? []])),
  };
}

export interface InsertRun {
  readonly insertsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly insertsPerCommit?: number;
}

/** `writers` concurrent writers insert small documents for `seconds`, each waiting for its
 * insert to be durable before the next. */
export async function durableInserts(subject: Pick<Subject, 'openWriter'>, dir: string, writers: number, seconds: number): Promise<InsertRun> {
  const writer = await subject.openWriter(dir);
  const latencies: number[] = [];
  let done = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      while (performance.now() < deadline) {
        const doc: InsertDoc = { writer: w, n: done, name: 'benchmark document', tags: ['a', 'b'], price: done % 1000 };
        const t0 = performance.now();
        await writer.insert(doc);
        latencies.push(performance.now() - t0);
        done++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const stats = writer.stats?.();
  await writer.close();
  latencies.sort((a, b) => a - b);
  return {
    insertsPerSecond: Math.round(done / elapsed),
    p50Ms: round3(percentile(latencies, 0.5)),
    p99Ms: round3(percentile(latencies, 0.99)),
    ...(stats !== undefined ? { insertsPerCommit: round3(stats.items / Math.max(1, stats.commits)) } : {}),
  };
}
