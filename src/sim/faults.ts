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
}

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
