// `chaos` without --cluster: its own cluster of `collection-store start` child processes
// (the `cluster` command's ClusterChild) in a temporary directory, started with
// --enable-fault-injection for the network faults; crashes and pauses are signals.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ClusterChild } from '../cli/cluster-child.ts';
import { probeNode } from '../cli/cluster-readiness.ts';
import { healThroughEndpoint, partitionThroughEndpoint, type ChaosCluster } from './chaos-cluster.ts';
import { sleep } from './load.ts';
import type { NodeClient } from './node-client.ts';

/** How long a node may take to stop after SIGTERM (rolling restart) before it is killed, in ms. */
const STOP_GRACE_MS = 5000;
/** How long a (re)started node may take to answer /healthz, in ms. */
const START_TIMEOUT_MS = 30_000;

export interface LocalClusterOptions {
  readonly nodes: number;
  readonly basePort: number;
  readonly dataDir: string;
  readonly electionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  /** Each node's --log-level. */
  readonly logLevel: string;
}

export class LocalCluster implements ChaosCluster {
  readonly ids: readonly number[];
  private readonly children = new Map<number, ClusterChild>();
  private readonly down = new Set<number>();
  private readonly paused = new Set<number>();
  /** The node arguments that run this very command (bin, or src through tsx). */
  private readonly command = [...process.execArgv, process.argv[1]!];

  constructor(
    private readonly options: LocalClusterOptions,
    private readonly client: NodeClient,
  ) {
    this.ids = Array.from({ length: options.nodes }, (_, i) => i + 1);
    mkdirSync(join(options.dataDir, 'logs'), { recursive: true });
  }

  url(id: number): string {
    return `http://127.0.0.1:${this.options.basePort + id - 1}`;
  }

  logFile(id: number): string {
    return join(this.options.dataDir, 'logs', `node${id}.log`);
  }

  reachable(id: number): boolean {
    return !this.down.has(id) && !this.paused.has(id);
  }

  /** Starts every node and waits until all answer /healthz and agree on a leader. */
  async start(timeoutMs = START_TIMEOUT_MS): Promise<void> {
    for (const id of this.ids) this.spawn(id);
    this.down.clear();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const probes = await Promise.all(this.ids.map((id) => probeNode(this.url(id))));
      const leaders = new Set(probes.map((p) => p.leaderId));
      if (probes.every((p) => p.healthy) && leaders.size === 1 && !leaders.has(null)) return;
      if (Date.now() > deadline)
        throw new Error(`the local cluster did not elect a leader within ${timeoutMs / 1000} s (node logs in ${join(this.options.dataDir, 'logs')})`);
      await sleep(200);
    }
  }

  private spawn(id: number): void {
    const peers = this.ids.filter((other) => other !== id).map((other) => `${other}=127.0.0.1:${this.options.basePort + other - 1}`);
    const args = [
      '--node-id',
      String(id),
      '--port',
      String(this.options.basePort + id - 1),
      '--data-dir',
      join(this.options.dataDir, `node${id}`),
      ...(peers.length > 0 ? ['--peers', peers.join(',')] : []),
      '--election-timeout',
      String(this.options.electionTimeoutMs),
      '--heartbeat-interval',
      String(this.options.heartbeatIntervalMs),
      '--log-level',
      this.options.logLevel,
      '--enable-fault-injection',
    ];
    const file = this.logFile(id);
    const write = (line: string): void => appendFileSync(file, `${line}\n`);
    this.children.set(id, new ClusterChild(id, this.url(id), args, write, write, this.command));
  }

  async crash(id: number): Promise<void> {
    const child = this.children.get(id);
    if (child === undefined || !child.running) return;
    this.down.add(id);
    if (this.paused.delete(id)) process.kill(child.pid!, 'SIGCONT');
    child.kill();
    await child.exited;
  }

  /** Stops a node cleanly (SIGTERM), for rolling restarts. */
  async stop(id: number): Promise<void> {
    const child = this.children.get(id);
    if (child === undefined || !child.running) return;
    this.down.add(id);
    await child.stop(STOP_GRACE_MS);
  }

  async restart(id: number): Promise<void> {
    const child = this.children.get(id);
    if (child?.running === true) return;
    this.spawn(id);
    const deadline = Date.now() + START_TIMEOUT_MS;
    // The load goes back to it once it answers (until then it would only refuse connections).
    while (Date.now() < deadline && !(await probeNode(this.url(id))).healthy) await sleep(100);
    this.down.delete(id);
  }

  async pause(id: number, ms: number): Promise<void> {
    const child = this.children.get(id);
    if (child?.pid === undefined || !child.running) return;
    this.paused.add(id);
    process.kill(child.pid, 'SIGSTOP');
    setTimeout(() => {
      if (this.paused.delete(id) && child.running) process.kill(child.pid!, 'SIGCONT');
    }, ms).unref();
  }

  partition(groups: readonly (readonly number[])[]): Promise<void> {
    const live = this.ids.filter((id) => this.reachable(id));
    return partitionThroughEndpoint(this.client, live, (id) => this.url(id), groups);
  }

  heal(): Promise<void> {
    return healThroughEndpoint(this.client, this.ids, (id) => this.url(id));
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.children.values()].map(async (child) => {
        if (child.pid !== undefined && child.running) process.kill(child.pid, 'SIGCONT');
        child.kill();
        await child.exited;
      }),
    );
  }
}
