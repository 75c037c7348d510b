// `npm run bench -- security [--quick]`: what the security features cost (issue #11). In one
// run, fresh 3-node clusters of four variants take turns, round after round (A B C D A B C D
// ...), so that a change in the shared box's load falls on every variant alike:
//   A plain: open peer links, plain HTTP, no authentication;
//   B secret: peers prove a cluster secret and tag every frame;
//   C secret + TLS: HTTPS for clients, mutual TLS between peers (certificates made once per
//     run with the openssl binary, as `cluster --tls` makes them);
//   D secret + TLS + authentication: a root password; the client logs in once and sends a
//     Bearer token with every request.
// Each: 100-byte puts at 1 and 64 clients, then linearizable reads at 64 clients spread over
// the nodes; medians over the rounds, and each variant as a ratio to A. Then, in this
// process, the CPU of one token check and of one scrypt password check (why HTTP Basic is
// cached).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pool } from 'undici';
import { ensureLocalTls } from '../src/cli/local-ca.ts';
import { Authenticator } from '../src/server/auth/authenticator.ts';
import { PasswordHasher } from '../src/server/auth/password.ts';
import { verifyToken } from '../src/server/auth/tokens.ts';
import { AuthState } from '../src/store/auth-state.ts';
import { expectStatus, poolFor } from './fixtures/http.ts';
import { round, runLoad, type LoadResult } from './fixtures/load.ts';
import { OurCluster, type ClusterTimings, type OurClusterTls } from './fixtures/our-cluster.ts';
import { OurTarget, READ_KEYS } from './fixtures/workloads.ts';
import { medianOf, percentile, progress } from './util.ts';

export interface SecurityBenchOptions {
  readonly quick: boolean;
}

const TIMINGS: ClusterTimings = { electionTimeoutMs: 150, heartbeatIntervalMs: 50 };
const CLIENTS_MAX = 64;
const LEADER_TIMEOUT_MS = 20_000;
/** The login is retried until the node has applied the auth bootstrap, at most this long. */
const LOGIN_TIMEOUT_MS = 10_000;
/** Above this 1-minute load average the 2-core box is shared and figures are not comparable. */
const LOAD1_BUSY = 2;

interface Variant {
  readonly name: 'plain' | 'secret' | 'secretTls' | 'secretTlsAuth';
  readonly label: string;
  readonly secret: boolean;
  readonly tls: boolean;
  readonly auth: boolean;
}

const VARIANTS: readonly Variant[] = [
  { name: 'plain', label: 'A: plain', secret: false, tls: false, auth: false },
  { name: 'secret', label: 'B: cluster secret', secret: true, tls: false, auth: false },
  { name: 'secretTls', label: 'C: secret + TLS (HTTPS, mutual TLS between peers)', secret: true, tls: true, auth: false },
  { name: 'secretTlsAuth', label: 'D: secret + TLS + authentication (Bearer token)', secret: true, tls: true, auth: true },
];

const MEASURES = ['writes1', 'writes64', 'reads64'] as const;
type Measure = (typeof MEASURES)[number];
type RoundResult = Readonly<Record<Measure, LoadResult>> & { readonly round: number; readonly load1AtRoundStart: number };
interface Figures {
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export async function benchSecurity(options: SecurityBenchOptions): Promise<Record<string, unknown>> {
  const rounds = options.quick ? 3 : 5;
  const seconds = options.quick ? 1.5 : 4;
  const warmUpSeconds = options.quick ? 0.5 : 1;
  const load1AtStart = round(loadavg()[0]!);
  if (load1AtStart > LOAD1_BUSY) progress(`note: 1-minute load average ${load1AtStart} at start: the box is busy, figures are not a quiet box's`);
  const dir = await mkdtemp(join(tmpdir(), 'cs-bench-security-'));
  const byVariant = new Map<Variant['name'], RoundResult[]>(VARIANTS.map((v) => [v.name, []]));
  let certificatesMs: number;
  let authCpu: Record<string, unknown>;
  try {
    const certificatesStarted = performance.now();
    const made = await ensureLocalTls(dir, [1, 2, 3], []);
    certificatesMs = Math.round(performance.now() - certificatesStarted);
    const tls: OurClusterTls = { caCert: made.caCert, nodes: made.nodes };
    // Random per run: the clusters are throwaway, on loopback.
    const rootPassword = randomBytes(18).toString('base64url');
    for (let r = 1; r <= rounds; r++) {
      for (const variant of VARIANTS) {
        progress(`round ${r} of ${rounds}: ${variant.label}`);
        const result = await measureVariant(variant, { tls, rootPassword, seconds, warmUpSeconds });
        byVariant.get(variant.name)!.push({ ...result, round: r });
      }
    }
    // In this process, after the clusters are gone: nothing else of ours competes for the CPU.
    authCpu = await measureAuthCpu(options.quick);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  const plain = medians(byVariant.get('plain')!);
  const variants: Record<string, unknown> = {};
  for (const variant of VARIANTS) {
    const results = byVariant.get(variant.name)!;
    const median = medians(results);
    const byRound = (m: Measure): number[] =>
      results.map((res, i) => {
        const base = byVariant.get('plain')![i]![m].opsPerSecond;
        return base > 0 ? round(res[m].opsPerSecond / base) : 0;
      });
    variants[variant.name] = {
      label: variant.label,
      median,
      // Ratios of the medians: below 1 is a cost for ops/s, above 1 for latency.
      ratioToPlain: Object.fromEntries(MEASURES.map((m) => [m, ratios(median[m], plain[m])])),
      // The same, round by round (each against the plain cluster of its own round): the spread,
      // and its median (a burst of other work on the box falls on one round, not one variant).
      opsPerSecondRatioByRound: Object.fromEntries(MEASURES.map((m) => [m, byRound(m)])),
      opsPerSecondRatioMedianOfRounds: Object.fromEntries(MEASURES.map((m) => [m, round(medianOf(byRound(m)))])),
      rounds: results.map((res) => ({
        round: res.round,
        load1AtRoundStart: res.load1AtRoundStart,
        ...Object.fromEntries(MEASURES.map((m) => [m, brief(res[m])])),
      })),
    };
  }
  return {
    config: {
      nodes: 3,
      sync: 'batch (fsync on a majority before ack)',
      ...TIMINGS,
      rounds,
      order: 'A B C D, repeated; a fresh cluster per variant and round',
      secondsPerRun: seconds,
      warmUpSecondsPerRun: warmUpSeconds,
      documentBytes: 100,
      readClients: CLIENTS_MAX,
      reads: 'linearizable, spread over the 3 nodes',
      certificates: `EC P-256, made once with openssl in ${certificatesMs} ms`,
    },
    load1AtStart,
    variants,
    authCpu,
    load1AtEnd: round(loadavg()[0]!),
  };
}

interface VariantSetup {
  readonly tls: OurClusterTls;
  readonly rootPassword: string;
  readonly seconds: number;
  readonly warmUpSeconds: number;
}

async function measureVariant(variant: Variant, setup: VariantSetup): Promise<Omit<RoundResult, 'round'>> {
  const load1AtRoundStart = round(loadavg()[0]!);
  const cluster = await OurCluster.start({
    size: 3,
    ...TIMINGS,
    clusterSecret: variant.secret,
    ...(variant.tls ? { tls: setup.tls } : {}),
    ...(variant.auth ? { rootPassword: setup.rootPassword } : {}),
  });
  const pools = cluster.ids.map((id) => poolFor(cluster.urlOf(id), CLIENTS_MAX, cluster.ca));
  try {
    const findLeader = async (): Promise<number> => cluster.ids.indexOf(await cluster.waitForLeader(LEADER_TIMEOUT_MS));
    const leader = await findLeader();
    // One login, then the token on every request, as a client library does.
    const headers = variant.auth ? { authorization: `Bearer ${await login(pools[leader]!, setup.rootPassword)}` } : undefined;
    // The variant is what it says: without the token a read is refused.
    if (variant.auth) await expectStatus(pools[leader]!, { method: 'GET', path: '/api/bench/doc-0' }, 401);
    const target = new OurTarget(pools, findLeader, headers);
    const write = (c: number, n: number): Promise<void> => target.write(c, n);
    const read = (c: number, n: number): Promise<void> => target.read(c, n, 'spread', 'linearizable');
    const name = variant.name;
    // Warm-ups open every connection (a TLS handshake each) and warm the JIT: the runs measure
    // the steady state of long-lived client connections.
    await target.refreshLeader();
    await runLoad(`${name} warm-up writes`, CLIENTS_MAX, setup.warmUpSeconds, (c, n) => target.write(c + 10_000, n));
    await target.refreshLeader();
    const writes1 = await runLoad(`${name} writes, 1 client`, 1, setup.seconds, write);
    await target.refreshLeader();
    const writes64 = await runLoad(`${name} writes, ${CLIENTS_MAX} clients`, CLIENTS_MAX, setup.seconds, write);
    await target.refreshLeader();
    await target.preload(READ_KEYS);
    await runLoad(`${name} warm-up reads`, CLIENTS_MAX, setup.warmUpSeconds, read);
    await target.refreshLeader();
    const reads64 = await runLoad(`${name} linearizable reads, ${CLIENTS_MAX} clients`, CLIENTS_MAX, setup.seconds, read);
    return { load1AtRoundStart, writes1, writes64, reads64 };
  } finally {
    await Promise.all(pools.map((p) => p.close()));
    await cluster.close();
  }
}

/** POST /auth/login as root; retried while the node has not applied the auth bootstrap yet (401). */
async function login(pool: Pool, password: string): Promise<string> {
  const deadline = performance.now() + LOGIN_TIMEOUT_MS;
  for (;;) {
    try {
      const text = await expectStatus(pool, { method: 'POST', path: '/auth/login', body: JSON.stringify({ user: 'root', password }) }, 200);
      return (JSON.parse(text) as { token: string }).token;
    } catch (error) {
      if (performance.now() > deadline) throw new Error(`no login within ${LOGIN_TIMEOUT_MS} ms`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function brief(r: LoadResult): Record<string, unknown> {
  return {
    opsPerSecond: r.opsPerSecond,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    load1: r.load1,
    ...(r.errors > 0 ? { errors: r.errors, firstError: r.firstError } : {}),
  };
}

function medians(results: readonly RoundResult[]): Record<Measure, Figures> {
  const of = (m: Measure): Figures => ({
    opsPerSecond: Math.round(medianOf(results.map((r) => r[m].opsPerSecond))),
    p50Ms: round(medianOf(results.map((r) => r[m].p50Ms))),
    p99Ms: round(medianOf(results.map((r) => r[m].p99Ms))),
  });
  return { writes1: of('writes1'), writes64: of('writes64'), reads64: of('reads64') };
}

function ratios(a: Figures, base: Figures): Record<keyof Figures, number | null> {
  const ratio = (x: number, y: number): number | null => (y > 0 ? round(x / y) : null);
  return { opsPerSecond: ratio(a.opsPerSecond, base.opsPerSecond), p50Ms: ratio(a.p50Ms, base.p50Ms), p99Ms: ratio(a.p99Ms, base.p99Ms) };
}

/**
 * CPU per request of the auth checks, in this process, on the same code the server runs:
 * a Bearer token (HMAC-SHA256, JSON claims, the user's lookup), an HTTP Basic password once
 * cached (a SHA-256 and a map lookup), and one scrypt check (what an uncached Basic request
 * or a login costs). Wall time per call and process CPU (all threads: scrypt runs on
 * libuv's pool) per call, medians over batches.
 */
async function measureAuthCpu(quick: boolean): Promise<Record<string, unknown>> {
  progress('auth CPU micro-measurements');
  const hasher = new PasswordHasher();
  const password = randomBytes(12).toString('base64url');
  const hash = await hasher.hash(password);
  const state = new AuthState();
  const tokenKey = randomBytes(32).toString('hex');
  state.apply({ op: 'bootstrap', rootPasswordHash: hash, tokenKey }, 1);
  // A realistic table to look the user up in, not a map of one.
  for (let i = 0; i < USERS_IN_TABLE; i++) state.apply({ op: 'putUser', name: `user${i}`, passwordHash: hash, roles: [] }, i + 2);
  const authenticator = new Authenticator(() => state, 60 * 60 * 1000);
  const { token } = authenticator.issueToken(state.user('root')!);
  const bearer = `Bearer ${token}`;
  const basic = `Basic ${Buffer.from(`root:${password}`).toString('base64')}`;
  await authenticator.authenticate(basic); // the scrypt once; later calls hit the cache

  const batches = quick ? 5 : 9;
  const calls = quick ? 20_000 : 50_000;
  const tokenCheck = await perCall(batches, calls, () => authenticator.authenticate(bearer));
  const macOnly = await perCall(batches, calls, () => {
    if (verifyToken(tokenKey, token) === null) throw new Error('token did not verify');
  });
  const basicCached = await perCall(batches, calls, () => authenticator.authenticate(basic));
  const scryptChecks = quick ? 5 : 15;
  const scrypt = await perCall(scryptChecks, 1, async () => {
    if (!(await hasher.verify(password, hash))) throw new Error('password did not verify');
  });
  return {
    method: `in this process: ${batches} batches of ${calls} calls (token, cached Basic), ${scryptChecks} scrypt checks one at a time; medians`,
    usersInTable: USERS_IN_TABLE + 1,
    bearerTokenCheck: { ...tokenCheck, what: 'Authenticator.authenticate("Bearer …"): HMAC-SHA256, JSON claims, expiry, user lookup' },
    tokenMacAndClaimsOnly: { ...macOnly, what: 'verifyToken: HMAC-SHA256 and JSON claims, no lookup' },
    basicCached: { ...basicCached, what: 'Authenticator.authenticate("Basic …") after a success: SHA-256 of the password, cache lookup' },
    scryptPasswordCheck: {
      ...scrypt,
      what: 'PasswordHasher.verify: scrypt N=16384 r=8 p=1 on the thread pool (a login, or an uncached Basic request)',
    },
    scryptOverBearerCpu: tokenCheck.cpuUsPerCall > 0 ? Math.round(scrypt.cpuUsPerCall / tokenCheck.cpuUsPerCall) : null,
  };
}

const USERS_IN_TABLE = 1000;

/** Median wall and CPU microseconds per call of `work`, over `batches` batches of `calls` sequential calls. */
async function perCall(batches: number, calls: number, work: () => unknown): Promise<{ wallUsPerCall: number; cpuUsPerCall: number }> {
  await runCalls(Math.min(calls, 1000), work); // warm-up: the JIT
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let b = 0; b < batches; b++) {
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await runCalls(calls, work);
    wall.push(((performance.now() - started) * 1000) / calls);
    const used = process.cpuUsage(cpuBefore);
    cpu.push((used.user + used.system) / calls);
  }
  wall.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const precise = (x: number): number => (x >= 100 ? Math.round(x) : Math.round(x * 100) / 100);
  return { wallUsPerCall: precise(percentile(wall, 0.5)), cpuUsPerCall: precise(percentile(cpu, 0.5)) };
}

async function runCalls(calls: number, work: () => unknown): Promise<void> {
  for (let i = 0; i < calls; i++) {
    const result = work();
    // Only a promise is awaited: an await per synchronous call would be timed as its cost.
    if (result instanceof Promise) await result;
  }
}
