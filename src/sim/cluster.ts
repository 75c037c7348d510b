// The simulated cluster: N SimNodes on one virtual clock and one simulated network.
// `runUntil(t)` processes, in time order, every message delivery and every node's tick up to
// t; after each one the stepped node's role, term and commit index go through the checkers
// (the durable-log and apply checks run inside the node as it persists and applies).

import type { ConfChange, ConfState, Entry, Message, RaftBugs } from '../raft/types.ts';
import { Coverage } from './coverage.ts';
import { InvariantChecker } from './invariants.ts';
import { SimNetwork, type LinkFaults } from './network.ts';
import type { Prng } from './prng.ts';
import { SimNode, describeMessage, type CrashPoint, type CrashTrigger, type DriverMode, type RaftTiming } from './sim-node.ts';
import type { Trace } from './trace.ts';

export interface ClusterOptions {
  readonly rng: Prng;
  /** Ids of the founding members. */
  readonly ids: readonly number[];
  /** Founding voters (default: all of `ids`); the other founders are learners. */
  readonly voters?: readonly number[];
  /** How nodes drive their core (see SimNode); default 'sync'. */
  readonly driver?: DriverMode;
  readonly timing: RaftTiming;
  readonly bugs?: RaftBugs;
  /** Virtual ms per Raft tick. */
  readonly tickMs: number;
  readonly snapshotEvery: number;
  readonly links: LinkFaults;
  readonly trace: Trace;
  /** Per-node clock drift bound: each node's tick period is tickMs * (1 ± up to this), drawn
   * at boot and again at each restart; 0: every clock exact. */
  readonly clockDrift?: number;
  /** Probability that a pipelined write is slow (default BASE_SLOW_DISK_RATE). */
  readonly slowDiskRate?: number;
}

export const DEFAULT_TIMING: RaftTiming = Object.freeze({
  heartbeatTicks: 2,
  electionTicks: 10,
  preVote: true,
  checkQuorum: true,
  maxEntriesPerMessage: 16,
  maxBytesPerMessage: 64 * 1024,
  maxInflight: 8,
  snapshotChunkBytes: 256,
  snapshotInflightChunks: 4,
  snapshotCatchUpEntries: 10,
});

/** An armed crash that has not found a ready() to hit by this time becomes a clean crash. */
const ARMED_CRASH_WAIT_TICKS = 3;

/** After a pause, at most this many election timeouts of ticks are caught up, as
 * node/raft-node.ts's maxCatchUpTicks (electionTicks * 4); the rest are skipped. */
const MAX_CATCH_UP_ELECTIONS = 4;

/** Probability that a pipelined write is slow when no slow-disk fault is on. */
export const BASE_SLOW_DISK_RATE = 0.15;

export class Cluster {
  now = 0;
  /** Probability that a pipelined write is slow, now (healing ends slow disks too). */
  slowDiskRate: number;
  readonly network: SimNetwork<Message>;
  readonly checker = new InvariantChecker();
  readonly coverage = new Coverage();
  readonly trace: Trace;
  private readonly nodeMap = new Map<number, SimNode>();
  private readonly rng: Prng;
  private readContexts = 0;
  private readonly founders: ConfState;
  steps = 0;
  /** Called after each step of a node (the fault injector's state triggers). */
  onStepped: ((n: SimNode) => void) | null = null;

  constructor(private readonly options: ClusterOptions) {
    if (options.ids.length === 0) throw new Error('Cluster: no nodes');
    if (!(options.tickMs >= 1)) throw new Error('Cluster: tickMs must be >= 1');
    this.rng = options.rng;
    this.trace = options.trace;
    this.slowDiskRate = options.slowDiskRate ?? BASE_SLOW_DISK_RATE;
    this.network = new SimNetwork<Message>(this.rng.derive('network'), options.links);
    const voters = options.voters ?? options.ids;
    this.founders = { voters: [...voters], learners: options.ids.filter((id) => !voters.includes(id)) };
    for (const id of options.ids) this.createNode(id, this.founders);
  }

  get timing(): RaftTiming {
    return this.options.timing;
  }

  /** Every node ever created, by id order. */
  get nodes(): SimNode[] {
    return [...this.nodeMap.values()].sort((a, b) => a.id - b.id);
  }

  node(id: number): SimNode {
    const n = this.nodeMap.get(id);
    if (n === undefined) throw new Error(`Cluster: no node ${id}`);
    return n;
  }

  has(id: number): boolean {
    return this.nodeMap.has(id);
  }

  /** A brand-new empty server, not a member yet. It boots with the cluster's bootstrap
   * membership: conf entries in the log are changes relative to it, so a server booted with an
   * empty membership would replay "addLearner 6, addVoter 6" into "6 is the only voter" and
   * elect itself. It learns the real configuration from the leader's log or snapshot. */
  addServer(id: number): SimNode {
    if (this.nodeMap.has(id)) throw new Error(`Cluster: node ${id} exists`);
    this.trace.add(this.now, `n${id} new server`);
    return this.createNode(id, this.founders);
  }

  /** The live leader with the highest term, if any. */
  leader(): SimNode | null {
    let best: SimNode | null = null;
    for (const n of this.nodeMap.values()) {
      if (!n.alive || n.role !== 'leader') continue;
      if (best === null || n.term > best.term) best = n;
    }
    return best;
  }

  /** Membership as the current leader sees it (its latest, possibly uncommitted, conf). */
  leaderConf(): ConfState | null {
    return this.leader()?.core?.status().conf ?? null;
  }

  proposeConfChange(change: ConfChange): number | null {
    const leader = this.leader();
    if (leader === null || leader.core === null) return null;
    const index = leader.core.proposeConfChange(change);
    this.trace.add(this.now, `n${leader.id} propose conf ${change.type} ${change.node} -> ${index ?? 'refused'}`);
    if (index !== null) this.stepped(leader);
    return index;
  }

  crash(id: number, point: CrashPoint | 'now'): void {
    const n = this.node(id);
    if (!n.alive) return;
    if (point === 'now') {
      n.crash('crash');
      return;
    }
    n.armedCrash = point;
    n.armedDeadline = this.now + ARMED_CRASH_WAIT_TICKS * this.options.tickMs;
    this.trace.add(this.now, `n${id} crash armed (${point})`);
  }

  /** Stalls a node's event loop for `pauseMs` (see SimNode.pause). */
  pause(id: number, pauseMs: number): void {
    const n = this.node(id);
    if (!n.alive) return;
    n.pause(pauseMs);
  }

  /** Arms a crash for a moment of the node's making (see CrashTrigger), for `forMs`. */
  arm(id: number, when: CrashTrigger['when'], point: CrashPoint, forMs: number): void {
    const n = this.node(id);
    if (!n.alive) return;
    n.armedTrigger = { when, point, until: this.now + forMs };
    this.trace.add(this.now, `n${id} crash armed for when it ${when === 'leader' ? 'becomes leader' : 'commits as leader'} (${point})`);
  }

  restart(id: number): void {
    const n = this.node(id);
    if (n.alive || n.stopped) return;
    this.setClock(n);
    n.start();
    this.stepped(n);
  }

  /** Removes a node from the simulation for good (after its removal from the configuration). */
  stop(id: number): void {
    this.node(id).stop();
  }

  /** Processes every delivery, completed write and tick due up to `until` (inclusive), in time
   * order; returns early, at the current event's time, as soon as `stop()` holds after one. */
  runUntil(until: number, stop?: () => boolean): void {
    for (;;) {
      const delivery = this.network.nextDeliveryTime();
      let tickNode: SimNode | null = null;
      let writeNode: SimNode | null = null;
      let resumeNode: SimNode | null = null;
      for (const n of this.nodeMap.values()) {
        if (!n.alive) continue;
        if (n.pausedUntil !== -Infinity) {
          // Stalled: no tick and no write completion is noticed until it resumes.
          if (resumeNode === null || n.pausedUntil < resumeNode.pausedUntil || (n.pausedUntil === resumeNode.pausedUntil && n.id < resumeNode.id)) {
            resumeNode = n;
          }
          continue;
        }
        if (tickNode === null || n.nextTickAt < tickNode.nextTickAt || (n.nextTickAt === tickNode.nextTickAt && n.id < tickNode.id)) {
          tickNode = n;
        }
        if (
          n.writeDoneAt !== Infinity &&
          (writeNode === null || n.writeDoneAt < writeNode.writeDoneAt || (n.writeDoneAt === writeNode.writeDoneAt && n.id < writeNode.id))
        ) {
          writeNode = n;
        }
      }
      const tickAt = tickNode?.nextTickAt ?? Infinity;
      const writeAt = writeNode?.writeDoneAt ?? Infinity;
      const resumeAt = Math.max(this.now, resumeNode?.pausedUntil ?? Infinity);
      const next = Math.min(delivery ?? Infinity, tickAt, writeAt, resumeAt);
      if (next > until) break;
      if (next < this.now) throw new Error(`Cluster: time went backwards (${next} < ${this.now})`);
      this.now = next;
      this.steps++;
      if (resumeNode !== null && resumeAt <= (delivery ?? Infinity) && resumeAt <= tickAt && resumeAt <= writeAt) {
        const n = resumeNode;
        n.resume(this.options.timing.electionTicks * MAX_CATCH_UP_ELECTIONS, () => this.stepped(n));
      } else if (delivery !== null && delivery <= tickAt && delivery <= writeAt) {
        const m = this.network.takeDue(this.now);
        if (m !== null) this.deliver(m);
      } else if (writeNode !== null && writeAt <= tickAt) {
        writeNode.completeWrite();
        this.stepped(writeNode);
      } else if (tickNode !== null) {
        tickNode.tickExactAt += tickNode.tickPeriodMs;
        tickNode.nextTickAt = Math.round(tickNode.tickExactAt);
        if (tickNode.armedCrash !== null && this.now >= tickNode.armedDeadline) {
          tickNode.crash(`armed ${tickNode.armedCrash} crash found no ready()`);
          continue;
        }
        tickNode.tick();
        this.stepped(tickNode);
      }
      if (stop?.() === true) return;
    }
    this.now = Math.max(this.now, until);
  }

  /** Starts an election on `id` right now (scenarios). */
  campaign(id: number): void {
    const n = this.node(id);
    n.campaign();
    this.stepped(n);
  }

  /** The leader hands leadership to `to` (TimeoutNow once `to` has caught up). */
  transferLeadership(to: number): boolean {
    const leader = this.leader();
    if (leader === null || leader.core === null) return false;
    const ok = leader.core.transferLeadership(to);
    this.trace.add(this.now, `n${leader.id} transfer leadership to ${to} -> ${ok ? 'started' : 'refused'}`);
    if (ok) this.stepped(leader);
    return ok;
  }

  nextReadContext(): number {
    return ++this.readContexts;
  }

  private deliver(m: Message): void {
    const target = this.nodeMap.get(m.to);
    if (target === undefined || !target.alive) {
      this.trace.add(this.now, `lost ${describeMessage(m)} (target down)`);
      return;
    }
    if (target.paused) {
      this.trace.add(this.now, `held ${describeMessage(m)} (target paused)`);
      target.hold(m);
      return;
    }
    this.trace.add(this.now, `recv ${describeMessage(m)}`);
    this.observeDelivery(target, m);
    target.step(m);
    this.stepped(target);
  }

  /** Coverage of what a delivery is about to exercise. */
  private observeDelivery(target: SimNode, m: Message): void {
    if (m.type === 'AppendEntries' && m.term < target.term) this.coverage.hit('staleAppendEntriesDelivered');
    else if (m.type === 'ReadIndexResponse' && m.term < target.term) this.coverage.hit('staleReadIndexAnswerDelivered');
    else if (m.type === 'PreVoteResponse' && !m.granted) this.coverage.hit('preVoteRejected');
    else if (m.type === 'PreVote' && target.core !== null) {
      const status = target.core.status();
      const lastTerm = target.disk.termAt(status.lastIndex) ?? 0;
      if (
        status.role === 'pre-candidate' &&
        m.from > target.id &&
        m.term === status.term + 1 &&
        m.lastLogIndex === status.lastIndex &&
        m.lastLogTerm === lastTerm
      ) {
        this.coverage.hit('preVoteTie');
      }
    } else if (m.type === 'RequestVote' && m.term >= target.term) {
      const last = target.disk.lastIndex;
      const lastTerm = target.disk.termAt(last) ?? 0;
      if (lastTerm > m.lastLogTerm || (lastTerm === m.lastLogTerm && last > m.lastLogIndex)) this.coverage.hit('voteRefusedLogCheck');
    }
  }

  /** Draws a node's clock (tick period within the drift bound) and its first tick. */
  private setClock(n: SimNode): void {
    const tickMs = this.options.tickMs;
    const drift = this.options.clockDrift ?? 0;
    // No draw without drift: runs without drift keep the streams they always had.
    n.tickPeriodMs = drift > 0 ? tickMs * (1 + drift * (2 * this.rng.next() - 1)) : tickMs;
    n.nextTickAt = this.now + this.rng.int(1, tickMs);
    n.tickExactAt = n.nextTickAt;
  }

  /** Cluster-level bookkeeping after a node stepped: a node that applied its own removal
   * shuts down (as the production node does). */
  private stepped(n: SimNode): void {
    if (!n.alive || n.stopped) return;
    this.onStepped?.(n);
    if (!n.alive) return;
    // After a restart the state machine replays from its snapshot (or the bootstrap
    // membership): judge membership only once it is back where it was.
    if (n.kv.applied < n.appliedHighWater) return;
    n.appliedHighWater = n.kv.applied;
    const conf = n.kv.membership;
    const member = conf.voters.includes(n.id) || conf.learners.includes(n.id);
    if (member) n.everMember = true;
    else if (n.everMember) {
      this.trace.add(this.now, `n${n.id} applied its removal: shutting down`);
      n.stop();
    }
  }

  private onFirstApply(entry: Entry): void {
    for (const n of this.nodeMap.values()) {
      // Only once the leader's durable log holds its log as of its election (see SimNode).
      if (n.alive && n.role === 'leader' && n.leaderLogDurable && n.term > entry.term) this.checker.checkLeaderHolds(n.id, n.term, n.disk, entry);
    }
  }

  private createNode(id: number, initialConf: ConfState): SimNode {
    const node = new SimNode(id, initialConf, {
      now: () => this.now,
      checker: this.checker,
      network: this.network,
      trace: this.trace,
      rng: this.rng.derive(`node ${id}`),
      timing: this.options.timing,
      bugs: this.options.bugs,
      snapshotEvery: this.options.snapshotEvery,
      onFirstApply: (entry) => this.onFirstApply(entry),
      nextReadContext: () => this.nextReadContext(),
      driver: this.options.driver ?? 'sync',
      coverage: this.coverage,
      slowDiskRate: () => this.slowDiskRate,
    });
    this.nodeMap.set(id, node);
    this.setClock(node);
    node.start();
    return node;
  }
}
