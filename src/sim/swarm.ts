// Swarm testing (Groce et al., "Swarm Testing", ISSTA 2012): instead of every fault at once in
// every run, each seed draws WHICH fault kinds are on and how hard they hit. Many seeds with a
// few faults on reach states that everything-at-once hides (a crash storm never lets a leader
// replicate to a minority and then die; constant loss never lets a stale AppendEntries arrive
// after the log moved on). The draw comes from its own derived stream of the seed, so the same
// seed draws the same swarm.

import type { ClientOptions } from './clients.ts';
import type { FaultProfile, Nemesis, PartitionKind } from './faults.ts';
import type { LinkFaults } from './network.ts';
import type { Prng } from './prng.ts';
import type { CrashPoint, RaftTiming } from './sim-node.ts';

/** Largest per-node clock drift a swarm draws, as a fraction of the tick period. The correct
 * core's lease must stay safe within it (docs/simulation.md explains the bound). */
export const CLOCK_DRIFT_MAX = 0.02;

/** Themes: a seed either draws every feature on its own ('open') or picks a theme, which turns
 * on a few features that together reach a kind of state (and most others off). Features off
 * matter as much as features on: a crash storm hides the careful interleaving Figure 8 needs. */
const THEMES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  /** A new leader dies with entries only it holds; a leader is cut off as it commits. */
  figure8: ['crashNewLeader', 'crashAtFirstCommit', 'isolateLeaderWithTail', 'churnTerms'],
  /** Leaders crash at every point of the ready cycle, on slow disks. */
  leaderCrash: ['crashes', 'crashLeaderWithTail', 'crashAtFirstCommit', 'slowDisk'],
  /** An old leader lives on, cut off, with clients still talking to it. */
  /** ... or stalled (a lease counted in ticks looks valid after a stall). */
  staleLeader: ['isolateLeaderLong', 'partitionCandidate', 'noCheckQuorum', 'pauses'],
  /** Messages lost, doubled, reordered, and very late copies. */
  messages: ['drop', 'duplicate', 'reorder', 'stale', 'churnTerms'],
  /** Elections in quick succession, around partitions. */
  elections: ['churnTerms', 'partitionCandidate', 'noPreVote', 'crashes', 'stale'],
  membership: ['membership', 'crashes', 'partitions'],
  /** Leadership transfers, with leases in use. */
  transfer: ['transfer', 'deafenOnTransfer'],
  /** Leases on drifting clocks, leaders cut off. */
  leases: ['clockDrift', 'isolateLeaderLong'],
  /** Followers fall behind and catch up from snapshots. */
  snapshots: ['snapshots', 'crashes', 'partitions', 'drop'],
});

/** Themes about reads served by a leader that may no longer be one. */
const READ_THEMES: readonly string[] = ['staleLeader', 'transfer', 'leases'];
/** Their clients' chance of sending an op to the node that last served them (ClientOptions). */
const STICKY_READ_THEMES = 0.8;
/** Their clients' wait for an answer before an attempt is retried elsewhere, in virtual ms. */
const ATTEMPT_MS_READ_THEMES = 50;

export interface SwarmDraw {
  readonly profile: FaultProfile;
  readonly clients: Partial<ClientOptions>;
  readonly timing: Partial<RaftTiming>;
  /** Applied entries between application snapshots. */
  readonly snapshotEvery: number;
  /** One line for the trace and the failure report: what this seed turned on. */
  readonly summary: string;
}

const ALL_PARTITIONS: readonly PartitionKind[] = ['isolate', 'isolateLeader', 'split', 'asymmetric', 'bridge'];

/** Draws the swarm of one seed. */
export function drawSwarm(rng: Prng): SwarmDraw {
  const on: string[] = [];
  const themeNames = Object.keys(THEMES);
  // figure8 twice: it needs the longest chain of lucky events.
  const theme = rng.chance(0.6) ? rng.pick([...themeNames, 'figure8']) : 'open';
  const boosted = THEMES[theme] ?? [];
  /** A feature's intensity: 0 when off; when the theme boosts it, one of the stronger half. */
  const level = (name: string, p: number, values: readonly number[]): number => {
    if (!flag(name, p)) return 0;
    return boosted.includes(name) ? rng.pick(values.slice(Math.floor(values.length / 2))) : rng.pick(values);
  };
  const flag = (name: string, p: number): boolean => {
    const v = rng.chance(theme === 'open' ? p : boosted.includes(name) ? 0.9 : 0.05);
    if (v) on.push(name);
    return v;
  };
  // Links: each kind of misbehaviour on or off on its own.
  const drop = level('drop', 0.35, [0.01, 0.05, 0.15, 0.3]);
  const duplicate = level('duplicate', 0.35, [0.02, 0.1, 0.25]);
  const reorder = level('reorder', 0.35, [0.05, 0.2]);
  const stale = level('stale', 0.3, [0.02, 0.05, 0.15]);
  const slowLinks = flag('slowLinks', 0.25);
  const links: LinkFaults = {
    dropRate: drop,
    duplicateRate: duplicate,
    minDelay: 1,
    maxDelay: slowLinks ? rng.pick([10, 20, 40]) : rng.pick([3, 8]),
    reorderRate: reorder,
    longDelay: reorder > 0 ? rng.pick([60, 150]) : 0,
    staleRate: stale,
    staleDelay: stale > 0 ? rng.pick([100, 300, 800]) : 0,
  };

  const crashes = flag('crashes', 0.55);
  const crashPoints: Record<CrashPoint | 'now', number> = {
    now: rng.int(0, 3),
    beforePersist: rng.int(0, 3),
    afterPersist: rng.int(0, 3),
    midSend: rng.int(0, 3),
  };
  if (crashPoints.now + crashPoints.beforePersist + crashPoints.afterPersist + crashPoints.midSend === 0) crashPoints.now = 1;

  const partitions = flag('partitions', 0.5);
  const partitionKinds = partitions ? pickSome(rng, ALL_PARTITIONS) : [];
  const membership = flag('membership', 0.25);

  const nemesis: Nemesis = {
    crashLeaderWithTail: level('crashLeaderWithTail', 0.4, [0.05, 0.2, 0.5]),
    crashNewLeader: level('crashNewLeader', 0.5, [0.2, 0.5]),
    crashAtFirstCommit: level('crashAtFirstCommit', 0.4, [0.1, 0.3, 0.6]),
    isolateLeaderWithTail: level('isolateLeaderWithTail', 0.4, [0.2, 0.5]),
    churnTerms: level('churnTerms', 0.4, [0.01, 0.05, 0.15]),
    partitionCandidate: level('partitionCandidate', 0.3, [0.1, 0.4]),
    transfer: level('transfer', 0.25, [0.01, 0.03, 0.1]),
    deafenOnTransfer: level('deafenOnTransfer', 0.25, [0.3, 0.7]),
    isolateLeaderLong: level('isolateLeaderLong', 0.25, [0.005, 0.02, 0.05]),
  };
  const clockDrift = flag('clockDrift', 0.4) ? CLOCK_DRIFT_MAX * rng.pick([0.5, 1]) : 0;
  const slowDisk = level('slowDisk', 0.35, [0.15, 0.4, 0.8]) || 0.15;
  const snapshotEvery = flag('snapshots', 0.3) ? rng.pick([5, 10, 20]) : 40;

  const base: FaultProfile = {
    name: 'swarm',
    links,
    crashEveryMs: crashes ? rng.pick([[40, 250] as const, [150, 600] as const, [300, 1200] as const]) : null,
    // Figure 8 needs a crashed new leader back soon, while its entry is still in the way.
    downMs: theme === 'figure8' ? ([20, 200] as const) : rng.pick([[20, 200] as const, [50, 800] as const]),
    maxDown: rng.int(1, 3),
    crashPoints,
    partitionEveryMs: partitions ? rng.pick([[150, 500] as const, [300, 1000] as const]) : null,
    partitionMs: rng.pick([[50, 400] as const, [100, 900] as const, [200, 1500] as const]),
    partitionKinds,
    membershipEveryMs: membership ? rng.pick([[150, 500] as const, [400, 1200] as const]) : null,
    nemesis,
    clockDrift,
    slowDiskRate: slowDisk,
  };

  // Client mix and core settings that change which paths run.
  const keys = rng.pick([['a'], ['a', 'b'], ['a', 'b', 'c'], ['a', 'b', 'c', 'd', 'e']]);
  const clients: { -readonly [K in keyof ClientOptions]?: ClientOptions[K] } = {
    count: rng.int(1, 6),
    keys,
    readRatio: rng.pick([0.1, 0.45, 0.8]),
    leaseReadRatio: rng.pick([0.2, 0.4, 0.6]),
  };
  if (theme === 'figure8') {
    // Many writes, one entry per message: entries reach some followers and not others.
    clients.count = rng.int(3, 6);
    clients.readRatio = rng.pick([0.1, 0.3]);
    clients.leaseReadRatio = 0;
  }
  if (READ_THEMES.includes(theme)) {
    // A stale read needs a write acknowledged elsewhere and then a read of the same key at the
    // old leader: several clients, few keys, many lease reads.
    clients.count = rng.int(3, 6);
    clients.keys = rng.pick([['a'], ['a', 'b']]);
    clients.readRatio = rng.pick([0.45, 0.7]);
    clients.leaseReadRatio = rng.pick([0.6, 0.9]);
    // Clients stuck on a cut-off leader give up sooner and try elsewhere.
    clients.timeoutMs = rng.pick([300, 600]);
    // Clients keep to the node that served them (mostly the leader, found through rejections'
    // hints), as the client library does: lease reads then reach the old leader. Without it
    // most lease reads land on followers, which serve them through ReadIndex.
    clients.stickyRate = STICKY_READ_THEMES;
    // ... and leave a cut-off leader soon when it does not answer (a write it cannot commit, a
    // follower's ReadIndex forwarded to it), so that some of them write through its successor
    // while others still read from it.
    clients.writeAttemptTimeoutMs = ATTEMPT_MS_READ_THEMES;
    clients.readAttemptTimeoutMs = ATTEMPT_MS_READ_THEMES;
  }
  const timing: { -readonly [K in keyof RaftTiming]?: RaftTiming[K] } = {
    // One entry per AppendEntries lets an entry reach some followers and not the next one
    // (the ground of Figure 8); a small window makes followers lag.
    maxEntriesPerMessage: theme === 'figure8' ? rng.pick([1, 2]) : rng.pick([1, 2, 16]),
    maxInflight: theme === 'figure8' ? rng.pick([1, 2]) : rng.pick([1, 2, 8]),
    preVote: !flag('noPreVote', 0.2),
  };
  // One entry per message with one message in flight cannot keep a follower on a slow disk up
  // with the clients: it would lag for good (a throughput limit, not a bug).
  if (timing.maxEntriesPerMessage === 1 && timing.maxInflight === 1) timing.maxInflight = 2;
  // Not both off: then a removed server disrupts the cluster forever with ever higher terms
  // (thesis 4.2.3), which the liveness check would rightly report.
  timing.checkQuorum = timing.preVote === false ? true : !flag('noCheckQuorum', 0.15);
  // Without check-quorum there is no lease: every lease read would fall back to ReadIndex
  // (sim-node.ts, as in production), so draw none and spend the reads on ReadIndex directly.
  if (timing.checkQuorum === false) clients.leaseReadRatio = 0;
  // Event-loop stalls, drawn last so that every other draw of a seed stays what it was.
  const pauses = flag('pauses', 0.3);
  const profile: FaultProfile = {
    ...base,
    pauseEveryMs: pauses ? rng.pick([[100, 400] as const, [300, 1000] as const]) : null,
    pauseElections: [0.5, 3],
  };
  return {
    profile,
    clients,
    timing,
    snapshotEvery,
    summary: `swarm ${theme}: ${on.join(' ')} | entries/msg ${timing.maxEntriesPerMessage} inflight ${timing.maxInflight} clients ${clients.count} keys ${keys.length} reads ${clients.readRatio} lease ${clients.leaseReadRatio}`,
  };
}

/** A non-empty random subset. */
function pickSome<T>(rng: Prng, items: readonly T[]): T[] {
  const some = rng.subset(items, 0.5);
  return some.length > 0 ? some : [rng.pick(items)];
}
