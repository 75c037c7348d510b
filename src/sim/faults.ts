// Fault profiles: which faults a run injects during its fault phase, and how often.
// After the fault phase every run heals (links restored, nodes restarted) and must make
// progress again within a bound (see run.ts).

import type { LinkFaults } from './network.ts';
import type { CrashPoint } from './sim-node.ts';

export type PartitionKind = 'isolate' | 'isolateLeader' | 'split' | 'asymmetric' | 'bridge';

export interface FaultProfile {
  readonly name: string;
  readonly links: LinkFaults;
  /** Gap between crash events, virtual ms; null: no crashes. */
  readonly crashEveryMs: readonly [number, number] | null;
  /** How long a crashed node stays down. */
  readonly downMs: readonly [number, number];
  /** Most nodes down at once (a majority down stalls progress, which is allowed). */
  readonly maxDown: number;
  /** Relative weights of where a crash hits (see CrashPoint; 'now' = between steps). */
  readonly crashPoints: Readonly<Record<CrashPoint | 'now', number>>;
  readonly partitionEveryMs: readonly [number, number] | null;
  readonly partitionMs: readonly [number, number];
  readonly partitionKinds: readonly PartitionKind[];
  /** Gap between membership changes (add learner, promote, remove); null: none. */
  readonly membershipEveryMs: readonly [number, number] | null;
  /** Faults triggered by the cluster's state (see Nemesis); default none. */
  readonly nemesis?: Nemesis;
  /** Per-node clock drift bound, as a fraction of the tick period (0: every clock exact). */
  readonly clockDrift?: number;
  /** Probability that a pipelined write (fsync) is slow, 5..30 ms; default 0.15. */
  readonly slowDiskRate?: number;
  /** Gap between event-loop stalls of a node (GC pause, SIGSTOP), virtual ms; default none. */
  readonly pauseEveryMs?: readonly [number, number] | null;
  /** How long a stall lasts, in election timeouts (so that it spans elections elsewhere). */
  readonly pauseElections?: readonly [number, number];
}

/** State-triggered faults, aimed where Raft bugs live. Each is a probability, tried when its
 * trigger fires (after a node's step: a new leader, a commit index that moved, a new
 * candidate) or, for the polled ones, once per tick of virtual time; 0 turns it off. */
export interface Nemesis {
  /** A leader was just elected, or its commit index moved and entries beyond it remain
   * (replicated to a minority at most): crash it (at a random point of its ready cycle). */
  readonly crashLeaderWithTail: number;
  /** A node became candidate: arm a crash for the ready in which it becomes leader (it dies
   * with its first entries on its disk only: Figure 8's server S5). */
  readonly crashNewLeader: number;
  /** A node became leader: arm a crash for the first ready in which it commits (it dies as it
   * commits, before its followers learn: Figure 8's S1 in term 4). */
  readonly crashAtFirstCommit: number;
  /** Same trigger: cut the leader off for a while instead (it lives on, believing it leads). */
  readonly isolateLeaderWithTail: number;
  /** A live voter that is not the leader starts an election now (terms churn). */
  readonly churnTerms: number;
  /** Some node is a candidate: isolate it, or the leader, around the election. */
  readonly partitionCandidate: number;
  /** The leader hands leadership to a random voter (TimeoutNow). */
  readonly transfer: number;
  /** After such a transfer starts, the old leader stops hearing anyone for a while (it still
   * speaks: its TimeoutNow leaves), so it learns of its successor late. */
  readonly deafenOnTransfer: number;
  /** Cut the leader off for long (up to two election timeouts of a new leader), clients
   * still talking to it: the old leader's reads and leases must not serve stale data. */
  readonly isolateLeaderLong: number;
}

export const NO_NEMESIS: Nemesis = Object.freeze({
  crashLeaderWithTail: 0,
  crashNewLeader: 0,
  crashAtFirstCommit: 0,
  isolateLeaderWithTail: 0,
  churnTerms: 0,
  partitionCandidate: 0,
  transfer: 0,
  deafenOnTransfer: 0,
  isolateLeaderLong: 0,
});

const EVEN_CRASH_POINTS = Object.freeze({ now: 2, beforePersist: 1, afterPersist: 1, midSend: 1 });

const LOSSY: LinkFaults = Object.freeze({
  dropRate: 0.05,
  duplicateRate: 0.03,
  minDelay: 1,
  maxDelay: 8,
  reorderRate: 0.05,
  longDelay: 60,
});

export const PROFILES: Readonly<Record<string, FaultProfile>> = Object.freeze({
  /** Everything at once: the default for the randomized runs. */
  mixed: {
    name: 'mixed',
    links: LOSSY,
    crashEveryMs: [300, 1200],
    downMs: [50, 800],
    maxDown: 2,
    crashPoints: EVEN_CRASH_POINTS,
    partitionEveryMs: [300, 1000],
    partitionMs: [100, 900],
    partitionKinds: ['isolate', 'isolateLeader', 'split', 'asymmetric', 'bridge'],
    membershipEveryMs: null,
  },
  /** Continuous crashes and restarts, any number of nodes at once. */
  churn: {
    name: 'churn',
    links: { ...LOSSY, dropRate: 0.02 },
    crashEveryMs: [40, 250],
    downMs: [20, 400],
    maxDown: 5,
    crashPoints: EVEN_CRASH_POINTS,
    partitionEveryMs: null,
    partitionMs: [0, 0],
    partitionKinds: [],
    membershipEveryMs: null,
  },
  /** Partitions only, on a clean network. */
  partitions: {
    name: 'partitions',
    links: { ...LOSSY, dropRate: 0, duplicateRate: 0, reorderRate: 0 },
    crashEveryMs: null,
    downMs: [0, 0],
    maxDown: 0,
    crashPoints: EVEN_CRASH_POINTS,
    partitionEveryMs: [150, 500],
    partitionMs: [200, 1200],
    partitionKinds: ['isolateLeader', 'split', 'asymmetric', 'bridge'],
    membershipEveryMs: null,
  },
  /** A very unreliable network plus leader crashes: the ground for Figure 8. */
  figure8: {
    name: 'figure8',
    links: { dropRate: 0.25, duplicateRate: 0.1, minDelay: 1, maxDelay: 20, reorderRate: 0.2, longDelay: 150 },
    crashEveryMs: [60, 300],
    downMs: [30, 300],
    maxDown: 2,
    crashPoints: { now: 1, beforePersist: 1, afterPersist: 2, midSend: 3 },
    partitionEveryMs: [200, 600],
    partitionMs: [50, 400],
    partitionKinds: ['isolateLeader', 'split'],
    membershipEveryMs: null,
  },
  /** Membership changes under load, with a lossy network and a few crashes. */
  membership: {
    name: 'membership',
    links: LOSSY,
    crashEveryMs: [500, 1500],
    downMs: [50, 500],
    maxDown: 1,
    crashPoints: EVEN_CRASH_POINTS,
    partitionEveryMs: [600, 1500],
    partitionMs: [100, 500],
    partitionKinds: ['isolate', 'asymmetric'],
    membershipEveryMs: [150, 500],
  },
});

export function profileByName(name: string): FaultProfile {
  const p = PROFILES[name];
  if (p === undefined) throw new Error(`unknown fault profile ${JSON.stringify(name)} (have ${Object.keys(PROFILES).join(', ')})`);
  return p;
}
