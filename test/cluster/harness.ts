// Real clusters for the multi-process tests: every node is its own process
// (fixtures/node-main.mjs calling startNode: the compiled build under `npm test`, the
// sources through tsx when a file is run by hand; ../product-process.ts) on a random free port of
// 127.0.0.1 with a temporary data directory. The harness starts, kills (-9), pauses
// (SIGSTOP), resumes and restarts nodes, waits for a leader through /cluster/status,
// and talks HTTP with fetch. close() kills every child; an exit hook does it too
// when a test file dies before its `after` runs.
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before } from 'node:test';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNode, type RunningNode, type StartNodeOptions } from '../../src/server/start-node.ts';
import { scriptCommand } from '../product-process.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const NODE_MAIN = join(HERE, 'fixtures', 'node-main.mjs');
/** Bound on the log text kept per node process (the tail is kept). */
const MAX_LOG_CHARS = 1 << 20;

export const ELECTION_TIMEOUT_MS = 150;
export const HEARTBEAT_MS = 50;

// -- children that must die with this process ---------------------------------------------

const liveChildren = new Set<ChildProcess>();
function killLiveChildren(): void {
  for (const child of liveChildren) {
    try {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}
process.on('exit', killLiveChildren);
// The test runner stops a file that outruns --test-timeout with SIGTERM, which skips
// 'exit' handlers: the nodes must not outlive the file.
process.once('SIGTERM', () => {
  killLiveChildren();
  process.exit(143);
});

// -- ports and a cross-file lock ------------------------------------------------------------

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The test runner runs two files at once; two real clusters at once on two cores make
 * election timeouts of 150 ms meaningless. Cluster test files take this lock (a
 * directory, created atomically) so that they run one after another. Under
 * scripts/run-tests.mjs it lives in that run's own directory (CS_TEST_RUN_DIR); a file
 * run on its own falls back to the shared temporary directory.
 */
export async function acquireClusterLock(timeoutMs = 8 * 60_000): Promise<() => void> {
  const runDir = process.env['CS_TEST_RUN_DIR'];
  const dir = join(runDir !== undefined && runDir !== '' ? runDir : tmpdir(), 'collection-store-cluster-tests.lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(join(dir, 'pid'), String(process.pid));
      return () => rmSync(dir, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let owner = 0;
      try {
        owner = Number(readFileSync(join(dir, 'pid'), 'utf8'));
      } catch {
        // being created or removed right now
      }
      if (owner > 0 && !isAlive(owner)) rmSync(dir, { recursive: true, force: true });
      // eslint-disable-next-line preserve-caught-error -- the lock is held, not an error of its own
      if (Date.now() > deadline) throw new Error(`the cluster test lock ${dir} is still held by pid ${owner} after ${timeoutMs} ms`);
      await sleep(100);
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// -- HTTP -------------------------------------------------------------------------------------

export interface HttpResult {
  /** 0 when no response arrived (refused, reset, timed out). */
  readonly status: number;
  readonly body: unknown;
  readonly error?: string;
}

export async function http(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  options: { timeoutMs?: number; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  try {
    const response = await fetch(url + path, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: parsed };
  } catch (error) {
    return { status: 0, body: null, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}

export function errorCode(result: HttpResult): string | undefined {
  const error = (result.body as { error?: { code?: unknown } } | null)?.error;
  return typeof error?.code === 'string' ? error.code : undefined;
}

// The shapes of /cluster/status, as the server builds them.
import type { MemberStatus, NodeStatus as ClusterStatus } from '../../src/node/backend.ts';
export type { MemberStatus, ClusterStatus };

// -- nodes and clusters -------------------------------------------------------------------------

export interface NodeOptions {
  readonly snapshotThreshold?: number;
  readonly requestTimeoutMs?: number;
  readonly join?: boolean;
  readonly logLevel?: StartNodeOptions['logLevel'];
}

export class TestNode {
  process: ChildProcess | null = null;
  /** Set instead of `process` for a node running inside the test process. */
  inProcess: RunningNode | null = null;
  paused = false;
  private logText = '';

  constructor(
    readonly id: number,
    readonly port: number,
    public dataDir: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.process !== null || this.inProcess !== null;
  }

  /** stdout and stderr of every incarnation of this node (pino JSON lines), tail-bounded. */
  get logs(): string {
    return this.logText;
  }

  appendLog(text: string): void {
    this.logText += text;
    if (this.logText.length > MAX_LOG_CHARS) this.logText = this.logText.slice(-MAX_LOG_CHARS / 2);
  }
}

export interface ClusterOptions extends NodeOptions {
  readonly size: number;
  /** --peers as bare addresses (ids learned from handshakes; the default) or `id=address`. */
  readonly peersWithIds?: boolean;
  /** Nodes to run inside the test process (startNode), e.g. to stall one's event loop. */
  readonly inProcess?: readonly number[];
  /** Turns authentication on: the nodes in `rootPasswordOn` (default all) get this root password;
   * the harness's own requests (status, ids) then authenticate as root with HTTP Basic. */
  readonly rootPassword?: string;
  readonly rootPasswordOn?: readonly number[];
}

/**
 * A cluster for the tests of the current file (or `describe`): started under the cluster lock
 * before them, closed after them. The returned function gives it to the tests.
 */
export function useCluster(options: ClusterOptions): () => TestCluster {
  let cluster: TestCluster | undefined;
  let release: (() => void) | undefined;
  before(async () => {
    release = await acquireClusterLock();
    cluster = await TestCluster.start(options);
  });
  after(async () => {
    await cluster?.close();
    release?.();
  });
  return () => {
    if (cluster === undefined) throw new Error('useCluster: the cluster starts in before()');
    return cluster;
  };
}

export class TestCluster {
  readonly nodes: TestNode[];
  private closed = false;

  private constructor(
    readonly root: string,
    nodes: TestNode[],
    private readonly options: ClusterOptions,
  ) {
    this.nodes = nodes;
  }

  /** Starts `size` nodes at once (a fresh cluster bootstraps when every peer answered). */
  static async start(options: ClusterOptions): Promise<TestCluster> {
    const root = mkdtempSync(join(tmpdir(), 'cs-cluster-'));
    const nodes: TestNode[] = [];
    const ports = new Set<number>();
    for (let id = 1; id <= options.size; id++) {
      let port = await freePort();
      while (ports.has(port)) port = await freePort();
      ports.add(port);
      nodes.push(new TestNode(id, port, join(root, `node${id}`)));
    }
    const cluster = new TestCluster(root, nodes, options);
    try {
      await Promise.all(nodes.map((n) => cluster.startNode(n.id)));
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  node(id: number): TestNode {
    const node = this.nodes.find((n) => n.id === id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  /** Nodes whose process runs and is not paused. */
  live(): TestNode[] {
    return this.nodes.filter((n) => n.running && !n.paused);
  }

  urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  /** Starts (or restarts) node `id` on its port and data directory; resolves once it serves. */
  async startNode(id: number, overrides: NodeOptions = {}, timeoutMs = 20_000): Promise<TestNode> {
    const node = this.node(id);
    if (node.running) throw new Error(`node ${id} is already running`);
    const settings = { ...this.options, ...overrides };
    const peers = this.nodes
      .filter((n) => n.id !== id)
      .map((n) => (this.options.peersWithIds === true ? { id: n.id, address: `127.0.0.1:${n.port}` } : { address: `127.0.0.1:${n.port}` }));
    const startOptions: StartNodeOptions = {
      nodeId: id,
      host: '127.0.0.1',
      port: node.port,
      peers,
      dataDir: node.dataDir,
      electionTimeoutMs: ELECTION_TIMEOUT_MS,
      heartbeatIntervalMs: HEARTBEAT_MS,
      snapshotThreshold: settings.snapshotThreshold ?? 10_000,
      requestTimeoutMs: settings.requestTimeoutMs ?? 3000,
      join: settings.join ?? false,
      logLevel: settings.logLevel ?? 'warn',
      ...(this.options.rootPassword !== undefined && (this.options.rootPasswordOn?.includes(id) ?? true)
        ? { auth: { rootPassword: this.options.rootPassword } }
        : {}),
    };
    if (this.options.inProcess?.includes(id) === true) {
      node.inProcess = await startNode(startOptions);
      return node;
    }
    // CS_TEST_NODE_ARGS adds Node flags to every node (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
    const nodeArgs = (process.env['CS_TEST_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '');
    const child = spawn(process.execPath, [...nodeArgs, ...scriptCommand(NODE_MAIN), JSON.stringify(startOptions)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    liveChildren.add(child);
    node.process = child;
    node.paused = false;
    node.appendLog(`--- start node ${id} pid ${child.pid}\n`);
    child.once('exit', (code, signal) => {
      liveChildren.delete(child);
      node.appendLog(`--- node ${id} pid ${child.pid} exited code=${code} signal=${signal}\n`);
      if (node.process === child) {
        node.process = null;
        node.paused = false;
      }
    });
    return new Promise<TestNode>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => fail(new Error(`node ${id} did not start within ${timeoutMs} ms:\n${node.logs.slice(-4000)}`)), timeoutMs);
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      };
      child.stdout!.setEncoding('utf8');
      child.stderr!.setEncoding('utf8');
      child.stdout!.on('data', (chunk: string) => {
        node.appendLog(chunk);
        if (!settled && chunk.includes('READY ')) {
          settled = true;
          clearTimeout(timer);
          resolve(node);
        }
      });
      child.stderr!.on('data', (chunk: string) => node.appendLog(chunk));
      child.once('exit', (code, signal) =>
        fail(new Error(`node ${id} exited (code ${code}, signal ${signal}) before serving:\n${node.logs.slice(-4000)}`)),
      );
    });
  }

  /** kill -9, and wait until the process is gone. */
  async kill(id: number): Promise<void> {
    await this.signalAndWait(id, 'SIGKILL');
  }

  /** SIGTERM: a clean shutdown (the node closes its log). */
  async stop(id: number): Promise<void> {
    await this.signalAndWait(id, 'SIGTERM');
  }

  pause(id: number): void {
    const node = this.node(id);
    if (node.process === null) throw new Error(`node ${id} is not running`);
    node.process.kill('SIGSTOP');
    node.paused = true;
  }

  resume(id: number): void {
    const node = this.node(id);
    if (node.process === null) throw new Error(`node ${id} is not running`);
    node.process.kill('SIGCONT');
    node.paused = false;
  }

  async restart(id: number, overrides: NodeOptions = {}): Promise<TestNode> {
    if (this.node(id).running) await this.kill(id);
    return this.startNode(id, overrides);
  }

  /** Root's HTTP Basic header when the cluster has authentication on. */
  rootHeaders(): Record<string, string> {
    const password = this.options.rootPassword;
    return password === undefined ? {} : { authorization: `Basic ${Buffer.from(`root:${password}`).toString('base64')}` };
  }

  async status(id: number, timeoutMs = 2000): Promise<ClusterStatus | null> {
    const result = await http(this.node(id).url, 'GET', '/cluster/status', undefined, { timeoutMs, headers: this.rootHeaders() });
    return result.status === 200 ? (result.body as ClusterStatus) : null;
  }

  /**
   * Waits until one node is leader and every live node in `among` (default: all live
   * ones) names it as leader in the same term.
   */
  async waitForLeader(options: { among?: readonly number[]; timeoutMs?: number } = {}): Promise<ClusterStatus> {
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    let last: Array<ClusterStatus | null> = [];
    while (Date.now() < deadline) {
      const ids = options.among ?? this.live().map((n) => n.id);
      last = await Promise.all(ids.map((id) => this.status(id, 1000)));
      const leader = last.find((s): s is ClusterStatus => s !== null && s.role === 'leader');
      if (leader !== undefined && last.every((s) => s !== null && s.leader?.id === leader.nodeId && s.term === leader.term)) {
        return leader;
      }
      await sleep(25);
    }
    throw new Error(
      `no agreed leader in time; last statuses: ${JSON.stringify(last.map((s) => s && { id: s.nodeId, role: s.role, term: s.term, leader: s.leader?.id }))}`,
    );
  }

  /** Waits until every node in `ids` has applied at least `index`. */
  async waitApplied(ids: readonly number[], index: number, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: Array<ClusterStatus | null> = [];
    while (Date.now() < deadline) {
      last = await Promise.all(ids.map((id) => this.status(id, 1000)));
      if (last.every((s) => s !== null && s.appliedIndex >= index)) return;
      await sleep(50);
    }
    throw new Error(
      `nodes ${ids.join(',')} did not apply index ${index} in time: ${JSON.stringify(last.map((s) => s && { id: s.nodeId, applied: s.appliedIndex }))}`,
    );
  }

  /** Ids of the documents of `collection` on node `id` (linearizable by default). */
  async ids(id: number, collection: string, consistency = 'linearizable'): Promise<Set<string>> {
    const result = await http(this.node(id).url, 'GET', `/api/${collection}?fields=_id&limit=100000&consistency=${consistency}`, undefined, {
      timeoutMs: 10_000,
      headers: this.rootHeaders(),
    });
    if (result.status !== 200)
      throw new Error(`GET /api/${collection} on node ${id}: ${result.status} ${JSON.stringify(result.body) ?? result.error}`);
    return new Set((result.body as Array<{ _id: string }>).map((d) => d._id));
  }

  /**
   * Kills every node and removes the data directories. With CS_CLUSTER_LOGS=<dir> in the
   * environment, every node's log is kept there first (to debug a failure).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // With CS_TEST_NODE_ARGS (profiling flags), a clean stop lets the nodes write their profiles.
    const profiling = (process.env['CS_TEST_NODE_ARGS'] ?? '') !== '';
    await Promise.all(this.nodes.filter((n) => n.running).map((n) => (profiling ? this.stop(n.id) : this.kill(n.id)).catch(() => {})));
    const keep = process.env['CS_CLUSTER_LOGS'];
    if (keep !== undefined && keep !== '') {
      mkdirSync(keep, { recursive: true });
      writeFileSync(join(keep, `${basename(this.root)}.log`), this.dumpLogs(MAX_LOG_CHARS));
    }
    rmSync(this.root, { recursive: true, force: true });
  }

  /** Logs of every node, for failure messages. */
  dumpLogs(maxPerNode = 3000): string {
    return this.nodes.map((n) => `=== node ${n.id}\n${n.logs.slice(-maxPerNode)}`).join('\n');
  }

  private async signalAndWait(id: number, signal: NodeJS.Signals): Promise<void> {
    const node = this.node(id);
    if (node.inProcess !== null) {
      const running = node.inProcess;
      node.inProcess = null;
      await running.close();
      return;
    }
    const child = node.process;
    if (child === null) return;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    if (node.paused && signal !== 'SIGKILL') child.kill('SIGCONT');
    child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), 10_000);
    });
    const outcome = await Promise.race([exited.then(() => 'exited' as const), timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      child.kill('SIGKILL');
      await exited;
    }
    node.process = null;
    node.paused = false;
  }
}

// -- concurrent writers -------------------------------------------------------------------------

export interface WriteRecord {
  readonly id: string;
  /** HTTP status (0: no answer). 201 = acknowledged. */
  readonly status: number;
  readonly code?: string;
  readonly startedAt: number;
  readonly endedAt: number;
}

/**
 * `count` writers, each inserting documents with unique ids into `collection`, round
 * robin over the nodes `targets()` returns, until stop() is called. Every outcome is
 * recorded; only 201s count as acknowledged.
 */
export class WriteLoad {
  readonly records: WriteRecord[] = [];
  private stopped = false;
  private readonly running: Promise<void>[];

  /** Ids are `${prefix}w<writer>-<seq>`: give each load of one collection its own prefix. */
  constructor(
    readonly collection: string,
    readonly prefix: string,
    count: number,
    private readonly targets: () => TestNode[],
    private readonly options: { timeoutMs?: number; pauseMs?: number } = {},
  ) {
    this.running = Array.from({ length: count }, (_, w) => this.writer(w));
  }

  /** A one-line summary for test output. */
  summary(): string {
    return `${this.records.length} writes: ${this.acknowledged().length} acknowledged, ${this.uncertain().length} uncertain`;
  }

  acknowledged(): string[] {
    return this.records.filter((r) => r.status === 201).map((r) => r.id);
  }

  /** Every record whose outcome is unknown (no answer, or a 503 that may have committed). */
  uncertain(): string[] {
    return this.records.filter((r) => r.status !== 201 && !(r.status >= 400 && r.status < 500)).map((r) => r.id);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.running);
  }

  private async writer(w: number): Promise<void> {
    for (let seq = 0, turn = w; !this.stopped; seq++, turn++) {
      const nodes = this.targets();
      if (nodes.length === 0) {
        await sleep(20);
        continue;
      }
      const target = nodes[turn % nodes.length]!;
      const id = `${this.prefix}w${w}-${seq}`;
      const startedAt = Date.now();
      const result = await http(
        target.url,
        'POST',
        `/api/${this.collection}`,
        { _id: id, writer: w, seq },
        { timeoutMs: this.options.timeoutMs ?? 4000 },
      );
      this.records.push({ id, status: result.status, code: errorCode(result), startedAt, endedAt: Date.now() });
      if (result.status >= 400 && result.status < 500) throw new Error(`write ${id} refused: ${result.status} ${JSON.stringify(result.body)}`);
      if (result.status !== 201) await sleep(this.options.pauseMs ?? 20);
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns a value other than undefined, or throws after timeoutMs. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** A write sent to the current leader, sent again while the cluster has none or it does not
 * answer (a busy machine elects often with 150 ms timeouts): only for writes safe to repeat. */
export async function writeToLeader(cluster: TestCluster, method: string, path: string, body: unknown): Promise<HttpResult> {
  return eventually(
    `${method} ${path}`,
    async () => {
      const leader = await cluster.waitForLeader();
      const r = await http(cluster.node(leader.nodeId).url, method, path, body);
      return r.status === 0 || r.status === 503 || r.status === 504 ? undefined : r;
    },
    15_000,
  );
}

/** Asserts that every id in `expected` is in `actual`; the message lists the missing ones. */
export function missingIds(expected: Iterable<string>, actual: Set<string>): string[] {
  const missing: string[] = [];
  for (const id of expected) if (!actual.has(id)) missing.push(id);
  return missing;
}
