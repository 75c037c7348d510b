// `npm run bench -- abuse [--quick]`: can a client's request cost the leader its office?
// A real 3-node cluster (election timeout 150 ms, heartbeats every 50 ms) under a steady
// light write load gets, one kind at a time and then all at once, the heaviest requests
// the API allows: the largest body (many small keys; one long string), the most keys in a
// document, the widest `$or`, an unindexed scan over N documents (1,000,000; --quick:
// 100,000), a catastrophic regex, a large result, a multi-document update whose filter
// scans everything, the largest transaction, and a burst of them together.
//
// Per kind: leader changes (every node's term, polled every 20 ms), the longest gap between
// messages from the leader that a follower stepped (its /cluster/status `leaderContact`),
// the light load's errors and worst latency, and each heavy request's status and latency.
// Targets (issue #11): no leader change, and no gap over half the election timeout.
//
// What stalled a node: NODE_OPTIONS="--import=$PWD/bench/fixtures/gc-trace.mjs"
// CS_BENCH_GC_TRACE_DIR=<dir> logs every node's GC pauses and event-loop stalls with wall-clock
// times (match them with each kind's from/to and longGaps); CS_BENCH_CPU_PROFILE_DIR=<dir>
// writes a CPU profile of every node, whose clock the trace's `clock` line maps.
import { loadavg } from 'node:os';
import { request } from 'undici';
import * as commandLimits from '../src/store/commands.ts';
import { MAX_TX_OPS, MAX_BATCH_DOCS } from '../src/store/commands.ts';
import { DEFAULT_BODY_LIMIT } from '../src/server/create-server.ts';
import { FILTER_BRANCHES_MAX } from '../src/store/validate-filter.ts';
import * as documentLimits from '../src/store/validate-document.ts';
import type { LeaderGap } from '../src/node/leader-contact.ts';
import { round } from './fixtures/load.ts';
import { OurCluster, sleep, type ClusterTimings } from './fixtures/our-cluster.ts';
import { percentile, progress } from './util.ts';

const TIMINGS: ClusterTimings = { electionTimeoutMs: 150, heartbeatIntervalMs: 50 };
const GAP_TARGET_MS = TIMINGS.electionTimeoutMs / 2;
const POLL_MS = 20;
/** Gaps listed one by one in the results. */
const LONG_GAP_MS = 60;
/** A gap ends when the stall ends: one that ends this long after its kind still counts for it. */
const GAP_GRACE_MS = 300;
const HEAVY_TIMEOUT_MS = 120_000;
const LOAD_BATCH_DOCS = 1000;
const SMALL_DOCS = 10_000;

/** The API's limits, read from the code (a limit not defined by this version: none). */
const LIMITS = {
  bodyBytes: DEFAULT_BODY_LIMIT,
  documentBytes: 1024 * 1024,
  txOps: MAX_TX_OPS,
  insertDocs: MAX_BATCH_DOCS,
  orBranches: FILTER_BRANCHES_MAX,
  requestValues: limitOf(commandLimits, 'REQUEST_VALUES_MAX'),
  documentKeys: limitOf(documentLimits, 'DOCUMENT_KEYS_MAX'),
};

function limitOf(module: object, name: string): number {
  const value = (module as Record<string, unknown>)[name];
  return typeof value === 'number' ? value : Infinity;
}

interface Heavy {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: string;
}

interface HeavyResult {
  readonly status: number;
  readonly ms: number;
  readonly bodyBytes: number;
  readonly error?: string;
}

interface KindResult {
  readonly kind: string;
  /** Date.now() when its requests were sent and when its window closed (gaps ending up to
   * GAP_GRACE_MS later count for it). */
  readonly from: number;
  readonly to: number;
  readonly requests: readonly HeavyResult[];
  readonly leaderChanges: number;
  readonly leaders: readonly number[];
  readonly gapMsMax: number;
  readonly gapsOverTarget: number;
  /** The gaps of 60 ms or more (which follower, when it ended), to match against the nodes'
   * GC and stall trace (bench/fixtures/gc-trace.mjs). */
  readonly longGaps: ReadonlyArray<{ readonly follower: number; readonly endedAt: number; readonly gapMs: number }>;
  readonly lightWrites: { readonly ops: number; readonly errors: number; readonly maxMs: number; readonly p99Ms: number };
  readonly ok: boolean;
}

export interface AbuseBenchOptions {
  readonly quick: boolean;
  /** Only these kinds (default: all). */
  readonly only?: readonly string[];
}

export async function benchAbuse(options: AbuseBenchOptions): Promise<Record<string, unknown>> {
  const scanDocs = options.quick ? 100_000 : 1_000_000;
  const load1AtStart = round(loadavg()[0]!);
  progress('starting a 3-node collection-store cluster');
  // CS_BENCH_CPU_PROFILE_DIR: a V8 CPU profile of every node (to see what a long stall ran).
  const cpuProfileDir = process.env['CS_BENCH_CPU_PROFILE_DIR'];
  const cluster = await OurCluster.start({
    size: 3,
    ...TIMINGS,
    snapshotThreshold: 1_000_000,
    ...(cpuProfileDir !== undefined && cpuProfileDir !== '' ? { cpuProfileDir } : {}),
  });
  const monitor = new Monitor(cluster);
  const results: KindResult[] = [];
  try {
    await cluster.waitForLeader(10_000);
    monitor.start();
    const url = (): string => cluster.urlOf(monitor.leader || cluster.ids[0]!);
    progress(`loading ${scanDocs} documents in batches of ${LOAD_BATCH_DOCS}`);
    await load(url, 'scan', scanDocs);
    await load(url, 'small', SMALL_DOCS);
    const kinds = heavyKinds(scanDocs);
    const light = new LightLoad(url);
    light.start();
    await sleep(500);
    for (const [kind, requests] of kinds) {
      if (options.only !== undefined && !options.only.some((prefix) => kind.startsWith(prefix))) continue;
      results.push(await runKind(kind, requests, monitor, light, url));
      await sleep(300);
    }
    await light.stop();
  } finally {
    monitor.stop();
    await cluster.close();
  }
  return {
    config: { nodes: 3, ...TIMINGS, gapTargetMs: GAP_TARGET_MS, scanDocs, limits: LIMITS },
    load1AtStart,
    kinds: results,
    allOk: results.every((r) => r.ok),
    load1AtEnd: round(loadavg()[0]!),
  };
}

/** The heavy requests of each kind, built once (the largest ones take a while to build). */
function heavyKinds(scanDocs: number): Array<[string, Heavy[]]> {
  const insertManyKeys: Heavy = { method: 'POST', path: '/api/abuse', body: manyKeysDocument(LIMITS.bodyBytes, LIMITS.requestValues) };
  const insertLongString: Heavy = { method: 'POST', path: '/api/abuse', body: longStringBody(LIMITS.bodyBytes) };
  const mostKeys: Heavy = {
    method: 'POST',
    path: '/api/abuse',
    body: manyKeysDocument(LIMITS.documentBytes - 64, Math.min(LIMITS.documentKeys, LIMITS.requestValues)),
  };
  const widestOr: Heavy = {
    method: 'POST',
    path: '/api/small/_query',
    body: JSON.stringify({ filter: { $or: Array.from({ length: LIMITS.orBranches }, (_, i) => ({ g: -1 - i })) } }),
  };
  const scan: Heavy = { method: 'POST', path: '/api/scan/_query', body: JSON.stringify({ filter: { g: -1 } }) };
  const scanCount: Heavy = { method: 'POST', path: '/api/scan/_count', body: JSON.stringify({ filter: { g: -1 } }) };
  const regex: Heavy = { method: 'POST', path: '/api/scan/_query', body: JSON.stringify({ filter: { s: { $regex: '(a+)+$' } }, limit: 10 }) };
  const largeResult: Heavy = { method: 'GET', path: `/api/scan?limit=${Math.min(100_000, scanDocs)}` };
  const updateScan: Heavy = {
    method: 'POST',
    path: '/api/scan/_update',
    body: JSON.stringify({ filter: { g: -1 }, update: { $set: { touched: true } }, multi: true }),
  };
  const tx: Heavy = { method: 'POST', path: '/api/_tx', body: largestTransaction() };
  return [
    ['largestBody: many small keys', [insertManyKeys]],
    ['largestBody: one long string', [insertLongString]],
    ['mostKeysInADocument', [mostKeys]],
    [`widestOr: ${LIMITS.orBranches} branches over ${SMALL_DOCS} documents`, [widestOr]],
    [`unindexedScan: ${scanDocs} documents (find)`, [scan]],
    [`unindexedScan: ${scanDocs} documents (count)`, [scanCount]],
    [`catastrophicRegex: (a+)+$ over ${scanDocs} documents`, [regex]],
    ['largeResult: 100,000 documents', [largeResult]],
    [`multiUpdate: unindexed filter over ${scanDocs} documents`, [updateScan]],
    ['largestTransaction', [tx]],
    [
      'burst: all of the above, 4 largest bodies and transactions at once',
      [insertManyKeys, insertManyKeys, tx, tx, insertLongString, scan, regex, widestOr, mostKeys, largeResult],
    ],
  ];
}

async function runKind(kind: string, heavy: readonly Heavy[], monitor: Monitor, light: LightLoad, url: () => string): Promise<KindResult> {
  progress(`${kind}: ${heavy.length} request(s)`);
  const from = Date.now();
  const termsBefore = monitor.termChanges;
  const leadersBefore = monitor.leaders.length;
  light.resetWindow();
  const requests = await Promise.all(heavy.map((h) => send(url(), h)));
  await sleep(GAP_GRACE_MS);
  await monitor.settled();
  const to = Date.now();
  const gaps = monitor.gapsBetween(from, to);
  const gapMsMax = Math.max(0, ...gaps.map((g) => g.gapMs));
  const window = light.window();
  const leaderChanges = monitor.termChanges - termsBefore;
  const result: KindResult = {
    kind,
    from,
    to,
    requests,
    leaderChanges,
    leaders: monitor.leaders.slice(leadersBefore),
    gapMsMax,
    gapsOverTarget: gaps.filter((g) => g.gapMs >= GAP_TARGET_MS).length,
    longGaps: gaps.filter((g) => g.gapMs >= LONG_GAP_MS),
    lightWrites: window,
    ok: leaderChanges === 0 && gapMsMax < GAP_TARGET_MS,
  };
  progress(
    `${kind}: ${requests.map((r) => `${r.status} in ${r.ms} ms`).join(', ')}; leader changes ${leaderChanges}, longest gap ${gapMsMax} ms, light writes max ${window.maxMs} ms`,
  );
  return result;
}

async function send(base: string, heavy: Heavy): Promise<HeavyResult> {
  const started = performance.now();
  try {
    const res = await request(base + heavy.path, {
      method: heavy.method,
      ...(heavy.body !== undefined ? { body: heavy.body, headers: { 'content-type': 'application/json' } } : {}),
      headersTimeout: HEAVY_TIMEOUT_MS,
      bodyTimeout: HEAVY_TIMEOUT_MS,
    });
    const text = await res.body.text();
    const ms = round(performance.now() - started);
    const error = res.statusCode >= 400 ? text.slice(0, 200) : undefined;
    return { status: res.statusCode, ms, bodyBytes: text.length, ...(error !== undefined ? { error } : {}) };
  } catch (error) {
    return { status: 0, ms: round(performance.now() - started), bodyBytes: 0, error: error instanceof Error ? error.message : String(error) };
  }
}

// -- the heavy bodies ---------------------------------------------------------------------------

/** One document `{"k0":0,"k1":1,...}` of about `bytes` of JSON, with at most `keys` keys. */
function manyKeysDocument(bytes: number, keys: number): string {
  const parts: string[] = [];
  let size = 2;
  for (let i = 0; i < keys - 1; i++) {
    const part = `"k${i}":${i % 10}`;
    if (size + part.length + 1 > bytes - 16) break;
    parts.push(part);
    size += part.length + 1;
  }
  return `{${parts.join(',')}}`;
}

function longStringBody(bytes: number): string {
  return JSON.stringify({ s: 'x'.repeat(bytes - 64) });
}

/** MAX_TX_OPS inserts, each document as large as the body limit (and the value limit) lets it be. */
function largestTransaction(): string {
  const ops = LIMITS.txOps;
  const perOpBytes = Math.floor(LIMITS.bodyBytes / ops) - 64;
  // Each op costs a few values of its own ({op, collection, doc}); the rest go to the document's keys.
  const perOpValues = Math.floor(LIMITS.requestValues / ops) - 8;
  const parts: string[] = [];
  for (let i = 0; i < ops; i++) parts.push(`{"op":"insert","collection":"abusetx","doc":${manyKeysDocument(perOpBytes, perOpValues)}}`);
  return `{"ops":[${parts.join(',')}]}`;
}

async function load(url: () => string, collection: string, docs: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < docs) {
        const start = next;
        next += LOAD_BATCH_DOCS;
        const batch = [];
        for (let i = start; i < Math.min(docs, start + LOAD_BATCH_DOCS); i++) {
          batch.push({ i, g: i % 100, s: i % 1000 === 0 ? 'a'.repeat(28) + '!' : `text ${i}` });
        }
        for (let attempt = 0; ; attempt++) {
          const res = await request(`${url()}/api/${collection}`, {
            method: 'POST',
            body: JSON.stringify(batch),
            headers: { 'content-type': 'application/json' },
            headersTimeout: 30_000,
          });
          const text = await res.body.text();
          if (res.statusCode === 201) break;
          if (attempt >= 5) throw new Error(`loading ${collection}: ${res.statusCode} ${text.slice(0, 200)}`);
          await sleep(200);
        }
        if (start % 50_000 === 0) progress(`loading ${collection}: ${start} of ${docs}`);
      }
    }),
  );
}

// -- the light load and the monitor ---------------------------------------------------------------

/** One writer inserting a small document every 10 ms, at the leader. */
class LightLoad {
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private latencies: number[] = [];
  private errors = 0;

  constructor(private readonly url: () => string) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      for (let n = 0; this.running; n++) {
        const t0 = performance.now();
        try {
          const res = await request(`${this.url()}/api/light`, {
            method: 'POST',
            body: JSON.stringify({ n }),
            headers: { 'content-type': 'application/json' },
            headersTimeout: 10_000,
            bodyTimeout: 10_000,
          });
          await res.body.dump();
          if (res.statusCode !== 201) this.errors++;
          else this.latencies.push(performance.now() - t0);
        } catch {
          this.errors++;
        }
        await sleep(10);
      }
    })();
  }

  resetWindow(): void {
    this.latencies = [];
    this.errors = 0;
  }

  window(): KindResult['lightWrites'] {
    const sorted = this.latencies.slice().sort((a, b) => a - b);
    return { ops: sorted.length, errors: this.errors, maxMs: round(sorted.at(-1) ?? 0), p99Ms: round(percentile(sorted, 0.99)) };
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

interface PolledStatus {
  readonly nodeId: number;
  readonly role: string;
  readonly term: number;
  readonly leader: { readonly id: number } | null;
  readonly leaderContact?: { readonly recentGaps: readonly LeaderGap[] };
}

/** Polls every node's /cluster/status every 20 ms: terms, the leader, and the gaps followers saw. */
class Monitor {
  termChanges = 0;
  leader = 0;
  readonly leaders: number[] = [];
  private highestTerm = 0;
  private readonly gaps = new Map<string, LeaderGap & { readonly follower: number }>();
  private timer: NodeJS.Timeout | null = null;
  private inFlight = new Set<number>();
  private polls = 0;

  constructor(private readonly cluster: OurCluster) {}

  start(): void {
    this.timer = setInterval(() => {
      for (const id of this.cluster.ids) if (!this.inFlight.has(id)) void this.poll(id);
    }, POLL_MS);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
  }

  /** Waits until every node answered a poll that started after now. */
  async settled(): Promise<void> {
    const target = this.polls + this.cluster.ids.length * 2;
    const deadline = Date.now() + 30_000;
    while (this.polls < target && Date.now() < deadline) await sleep(POLL_MS);
  }

  gapsBetween(from: number, to: number): Array<LeaderGap & { readonly follower: number }> {
    return [...this.gaps.values()].filter((g) => g.endedAt >= from && g.endedAt <= to + GAP_GRACE_MS);
  }

  private async poll(id: number): Promise<void> {
    this.inFlight.add(id);
    try {
      const res = await request(`${this.cluster.urlOf(id)}/cluster/status`, { headersTimeout: 60_000, bodyTimeout: 60_000 });
      if (res.statusCode !== 200) {
        await res.body.dump();
        return;
      }
      const status = (await res.body.json()) as PolledStatus;
      this.polls++;
      if (status.term > this.highestTerm) {
        if (this.highestTerm !== 0) this.termChanges += status.term - this.highestTerm;
        this.highestTerm = status.term;
      }
      if (status.role === 'leader' && status.leader?.id !== undefined && status.nodeId !== this.leader) {
        this.leader = status.nodeId;
        this.leaders.push(status.nodeId);
      }
      for (const gap of status.leaderContact?.recentGaps ?? []) this.gaps.set(`${id}:${gap.endedAt}:${gap.gapMs}`, { ...gap, follower: id });
    } catch {
      // a node that does not answer in time is measured by the others' terms and gaps
    } finally {
      this.inFlight.delete(id);
    }
  }
}
