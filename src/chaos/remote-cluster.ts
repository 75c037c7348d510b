// `chaos --cluster`: running nodes, started with --enable-fault-injection, whose faults all
// go through POST /cluster/fault-injection. A crashed node comes back only if its supervisor
// (systemd, a container runtime) restarts it: the runner waits for that and reports it.
import { probeNode } from '../cli/cluster-readiness.ts';
import { faultRequest, healThroughEndpoint, partitionThroughEndpoint, type ChaosCluster } from './chaos-cluster.ts';
import { sleep } from './load.ts';
import type { NodeClient } from './node-client.ts';

/** How long the runner waits for a crashed node's supervisor to restart it, in ms. */
export const REMOTE_RESTART_WAIT_MS = 30_000;
/** How long a node that was told to crash may keep answering before the runner goes on, in ms. */
const CRASH_WAIT_MS = 2000;
/** How often it is asked meanwhile, in ms. */
const CRASH_POLL_MS = 20;

export class RemoteCluster implements ChaosCluster {
  readonly ids: readonly number[];
  private readonly down = new Set<number>();
  /** Paused nodes and when their pause ends (Date.now() ms): the load and the monitor stay off
   * them meanwhile, as they do off a local node under SIGSTOP. */
  private readonly pausedUntil = new Map<number, number>();

  constructor(
    private readonly urls: ReadonlyMap<number, string>,
    private readonly client: NodeClient,
    private readonly authorization?: string,
    /** How long restart() waits for a crashed node's supervisor to bring it back. */
    private readonly restartWaitMs: number = REMOTE_RESTART_WAIT_MS,
  ) {
    this.ids = [...urls.keys()].sort((a, b) => a - b);
  }

  url(id: number): string {
    return this.urls.get(id)!;
  }

  reachable(id: number): boolean {
    const until = this.pausedUntil.get(id);
    if (until !== undefined && Date.now() >= until) this.pausedUntil.delete(id);
    return !this.down.has(id) && !this.pausedUntil.has(id);
  }

  async crash(id: number): Promise<void> {
    this.down.add(id);
    await faultRequest(this.client, this.url(id), { fault: 'crash' });
    // The node ends itself just after its answer: the fault is in place once it stops
    // answering, not when the answer arrives (recovery is measured from then on).
    const deadline = Date.now() + CRASH_WAIT_MS;
    while (Date.now() < deadline && (await probeNode(this.url(id), undefined, this.authorization)).healthy) await sleep(CRASH_POLL_MS);
  }

  stop(id: number): Promise<void> {
    return this.crash(id);
  }

  async restart(id: number): Promise<void> {
    const deadline = Date.now() + this.restartWaitMs;
    // The crash lands just after its answer: wait until the node is really gone or back.
    await sleep(200);
    while (Date.now() < deadline) {
      if ((await probeNode(this.url(id), undefined, this.authorization)).healthy) {
        this.down.delete(id);
        return;
      }
      await sleep(200);
    }
    throw new Error(
      `node ${id} (${this.url(id)}) did not come back within ${this.restartWaitMs / 1000} s of its crash: with --cluster, a supervisor must restart crashed nodes (--restart-wait)`,
    );
  }

  async pause(id: number, ms: number): Promise<void> {
    await faultRequest(this.client, this.url(id), { fault: 'pause', duration_ms: ms });
    this.pausedUntil.set(id, Date.now() + ms);
  }

  partition(groups: readonly (readonly number[])[]): Promise<void> {
    return partitionThroughEndpoint(
      this.client,
      this.ids.filter((id) => this.reachable(id)),
      (id) => this.url(id),
      groups,
    );
  }

  heal(): Promise<void> {
    return healThroughEndpoint(this.client, this.ids, (id) => this.url(id));
  }

  async close(): Promise<void> {
    await this.heal();
  }
}
