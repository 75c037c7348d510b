// Watches who leads: polls every reachable node's /cluster/status and records each new
// (term, leader) that a node reports, so the report can count leader changes and the
// progress line can name the leader.
import type { ChaosCluster } from './chaos-cluster.ts';
import type { NodeClient } from './node-client.ts';

/** How often the leader is polled, in ms. */
const POLL_INTERVAL_MS = 100;

export interface LeaderSighting {
  readonly timeMs: number;
  readonly term: number;
  readonly leader: number;
}

interface StatusBody {
  readonly nodeId?: unknown;
  readonly term?: unknown;
  readonly leader?: { readonly id?: unknown } | null;
}

export class LeaderMonitor {
  readonly sightings: LeaderSighting[] = [];
  private highestTerm = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Nodes with a poll in flight: each node is polled on its own, so that one that does not
   * answer (paused, cut off) does not hold up the others' sightings for a request timeout. */
  private readonly polling = new Set<number>();

  constructor(
    private readonly cluster: ChaosCluster,
    private readonly client: NodeClient,
    private readonly nowMs: () => number,
  ) {}

  /** The leader of the highest term seen, or null before any. */
  get leader(): number | null {
    return this.sightings.at(-1)?.leader ?? null;
  }

  /** Distinct leaderships seen after the first one. */
  get changes(): number {
    return Math.max(0, this.sightings.length - 1);
  }

  start(): void {
    this.timer = setInterval(() => this.poll(), POLL_INTERVAL_MS);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * Asks every reachable node now and returns the leader of the highest term seen: a fault
   * aimed at "the leader" must hit the node that leads when it starts, not one the last
   * poll saw (a previous fault may have just moved the leadership).
   */
  async current(): Promise<number | null> {
    await Promise.all(this.cluster.ids.filter((id) => this.cluster.reachable(id)).map((id) => this.pollNode(id)));
    return this.leader;
  }

  private poll(): void {
    for (const id of this.cluster.ids) {
      if (!this.cluster.reachable(id) || this.polling.has(id)) continue;
      this.polling.add(id);
      void this.pollNode(id).finally(() => this.polling.delete(id));
    }
  }

  private async pollNode(id: number): Promise<void> {
    const answer = await this.client.call(this.cluster.url(id), 'GET', '/cluster/status');
    if (answer.kind !== 'ok') return;
    const body = answer.body as StatusBody;
    const leader = body.leader?.id;
    if (typeof body.term !== 'number' || typeof leader !== 'number' || body.term <= this.highestTerm) return;
    this.highestTerm = body.term;
    this.sightings.push({ timeMs: this.nowMs(), term: body.term, leader });
  }
}
