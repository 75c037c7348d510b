// Watches who leads: polls every reachable node's /cluster/status and records each new
// (term, leader) that a node reports, so the report can count leader changes and the
// progress line can name the leader. From the same answers it gathers what each node saw of
// its own slowness (event-loop stalls and slow log writes of NODE_STALL_MS_MIN or longer), so
// the report can say what the nodes went through during the longest interruption.
import { LOG_WRITE_SLOW_MS } from '../log/slow-writes.ts';
import { LOOP_STALL_WARN_MS } from '../node/loop-stalls.ts';
import type { ChaosCluster } from './chaos-cluster.ts';
import type { NodeClient } from './node-client.ts';

/** How often the leader is polled, in ms. */
const POLL_INTERVAL_MS = 100;
/** Node stalls shorter than this are not gathered (ms): what the nodes warn of. */
export const NODE_STALL_MS_MIN = Math.min(LOOP_STALL_WARN_MS, LOG_WRITE_SLOW_MS);
/** Node stalls gathered at most, the first ones; later ones are only counted (a healthy
 * 5-minute run with a kill every 10 s has tens). */
export const NODE_STALLS_KEPT_MAX = 2000;

/** An event-loop stall or a slow log write a node reported (GET /cluster/status: loopStalls,
 * slowLogWrites), on the history clock. */
export interface NodeStall {
  /** The node; 0 for the load generator (the chaos command's own process). */
  readonly node: number;
  /** `generator`: the load generator's own event loop was held (its answers waited). */
  readonly kind: 'loop' | 'log write' | 'generator';
  /** When it ended, on the history clock (ms; from the node's wall clock, so a remote node's
   * skew shifts it). */
  readonly endMs: number;
  /** How long it lasted (ms). */
  readonly durationMs: number;
  /** A loop stall: the node's own work in it (LoopStall.busyMs), and its wait for a core. */
  readonly busyMs?: number;
  readonly coreWaitMs?: number;
}

export interface LeaderSighting {
  readonly timeMs: number;
  readonly term: number;
  readonly leader: number;
}

interface StatusBody {
  readonly nodeId?: unknown;
  readonly term?: unknown;
  readonly leader?: { readonly id?: unknown } | null;
  readonly loopStalls?: { readonly recent?: unknown } | null;
  readonly slowLogWrites?: unknown;
}

function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** The records of a status list that carry the fields asked for (a node of another version
 * may have fewer): anything else is skipped, not trusted. */
function records(list: unknown): Array<Record<string, unknown>> {
  return Array.isArray(list) ? list.filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null) : [];
}

export class LeaderMonitor {
  readonly sightings: LeaderSighting[] = [];
  /** Stalls the nodes reported, in the order first seen (bounded: NODE_STALLS_KEPT_MAX). */
  readonly stalls: NodeStall[] = [];
  /** Stalls seen once `stalls` was full. */
  stallsNotKept = 0;
  /** The newest `endedAt` gathered per node and kind (`<node>/<kind>`): a node reports each
   * stall in every answer while it is recent, oldest first, and no two of one kind end in the
   * same ms (each lasts 100 ms or more), so a record at or before it was seen already. */
  private readonly newestEndedAt = new Map<string, number>();
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
    this.gatherStalls(id, body);
    const leader = body.leader?.id;
    if (typeof body.term !== 'number' || typeof leader !== 'number' || body.term <= this.highestTerm) return;
    this.highestTerm = body.term;
    this.sightings.push({ timeMs: this.nowMs(), term: body.term, leader });
  }

  private gatherStalls(node: number, body: StatusBody): void {
    // The node stamps with its wall clock; the history's clock is this process's monotonic one.
    const epochOfHistoryZero = Date.now() - this.nowMs();
    for (const r of records(body.loopStalls?.recent)) {
      const endedAt = finite(r['endedAt']);
      const wallMs = finite(r['wallMs']);
      if (endedAt === undefined || wallMs === undefined || wallMs < NODE_STALL_MS_MIN) continue;
      const busyMs = finite(r['busyMs']);
      const coreWaitMs = finite(r['coreWaitMs']);
      this.addStall(`${node}/loop`, endedAt, {
        node,
        kind: 'loop',
        endMs: endedAt - epochOfHistoryZero,
        durationMs: wallMs,
        ...(busyMs !== undefined ? { busyMs } : {}),
        ...(coreWaitMs !== undefined ? { coreWaitMs } : {}),
      });
    }
    for (const r of records(body.slowLogWrites)) {
      const endedAt = finite(r['endedAt']);
      const durationMs = finite(r['durationMs']);
      if (endedAt === undefined || durationMs === undefined || durationMs < NODE_STALL_MS_MIN) continue;
      this.addStall(`${node}/write`, endedAt, { node, kind: 'log write', endMs: endedAt - epochOfHistoryZero, durationMs });
    }
  }

  private addStall(source: string, endedAt: number, stall: NodeStall): void {
    if (endedAt <= (this.newestEndedAt.get(source) ?? Number.NEGATIVE_INFINITY)) return;
    this.newestEndedAt.set(source, endedAt);
    if (this.stalls.length >= NODE_STALLS_KEPT_MAX) this.stallsNotKept += 1;
    else this.stalls.push(stall);
  }
}
