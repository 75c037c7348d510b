// The fault injector of a simulation run: decides, from its own seeded stream, when and where
// faults hit (crashes at a chosen point of the ready() cycle, partitions of five kinds,
// membership changes) as the run's FaultProfile describes, applies them to the cluster, and
// restarts crashed nodes after their down time. run.ts asks it for the time of the next fault
// and lets it act at that time; healing ends every fault.

import type { ConfChange, ConfState } from '../raft/types.ts';
import type { Cluster } from './cluster.ts';
import type { FaultProfile, PartitionKind } from './faults.ts';
import type { Prng } from './prng.ts';
import type { CrashPoint } from './sim-node.ts';
import type { Trace } from './trace.ts';

/** 'voters': every founder votes. 'oneVoter': node 1 is the only voter, the others start as
 * learners, and membership changes (promotions, removals down to one voter) run throughout. */
export type Topology = 'voters' | 'oneVoter';

/** Membership changes in a oneVoter run whose profile has none. */
const ONE_VOTER_MEMBERSHIP_MS: readonly [number, number] = [150, 500];

const CRASH_POINTS: readonly (CrashPoint | 'now')[] = ['now', 'beforePersist', 'afterPersist', 'midSend'];

export interface FaultInjectorOptions {
  readonly cluster: Cluster;
  readonly profile: FaultProfile;
  readonly topology: Topology;
  readonly rng: Prng;
  readonly trace: Trace;
  readonly tickMs: number;
  /** Highest node id membership changes may create. */
  readonly maxNodeId: number;
  /** Voters at the start (for the voter-count statistics). */
  readonly founders: number;
}

export class FaultInjector {
  /** Random faults are injected only while this is true. */
  on = false;
  partitions = 0;
  confChanges = 0;
  /** Fewest and most voters in the leader's configuration after each accepted conf change. */
  readonly voterCounts: { min: number; max: number };
  private readonly cluster: Cluster;
  private readonly profile: FaultProfile;
  private readonly rng: Prng;
  private nextCrashAt = Infinity;
  private nextPartitionAt = Infinity;
  private partitionEndsAt = Infinity;
  private nextMembershipAt = Infinity;
  private readonly restartAt = new Map<number, number>();

  constructor(private readonly options: FaultInjectorOptions) {
    this.cluster = options.cluster;
    this.profile = options.profile;
    this.rng = options.rng;
    this.voterCounts = { min: options.founders, max: options.founders };
  }

  /** Turns random faults on (from `now`) or off (pending restarts and partition ends still happen). */
  setFaults(on: boolean, now: number): void {
    this.on = on;
    const p = this.profile;
    if (on) {
      this.cluster.network.setFaults(p.links);
      this.nextCrashAt = p.crashEveryMs ? now + this.between(p.crashEveryMs) : Infinity;
      this.nextPartitionAt = p.partitionEveryMs ? now + this.between(p.partitionEveryMs) : Infinity;
      const membershipMs = p.membershipEveryMs ?? (this.options.topology === 'oneVoter' ? ONE_VOTER_MEMBERSHIP_MS : null);
      this.nextMembershipAt = membershipMs ? now + this.between(membershipMs) : Infinity;
    } else {
      this.nextCrashAt = this.nextPartitionAt = this.nextMembershipAt = Infinity;
    }
  }

  /** Ends every fault it scheduled: no more faults, no pending partition end or restart (the
   * caller heals the network and restarts the nodes itself). */
  stop(now: number): void {
    this.setFaults(false, now);
    this.partitionEndsAt = Infinity;
    this.restartAt.clear();
  }

  /** When the injector next wants to act (Infinity: never). */
  nextFaultTime(): number {
    let t = Math.min(this.nextCrashAt, this.nextPartitionAt, this.partitionEndsAt, this.nextMembershipAt);
    for (const at of this.restartAt.values()) t = Math.min(t, at);
    return t;
  }

  /** Does what is due at `now`: restarts, the end of a partition, then (when on) new faults. */
  act(now: number): void {
    for (const [id, at] of [...this.restartAt].sort((x, y) => x[0] - y[0])) {
      if (at > now) continue;
      const n = this.cluster.node(id);
      if (n.alive && n.armedCrash !== null) {
        this.restartAt.set(id, now + this.options.tickMs); // its crash has not hit yet: look again later
        continue;
      }
      this.restartAt.delete(id);
      this.cluster.restart(id);
    }
    if (this.partitionEndsAt <= now) {
      this.partitionEndsAt = Infinity;
      this.cluster.network.heal();
      this.options.trace.add(now, 'partition healed');
    }
    if (!this.on) return;
    const p = this.profile;
    if (this.nextCrashAt <= now) {
      this.nextCrashAt = now + this.between(p.crashEveryMs!);
      this.crashSomeone(now);
    }
    if (this.nextPartitionAt <= now) {
      this.nextPartitionAt = now + this.between(p.partitionEveryMs!);
      if (this.partitionEndsAt === Infinity && p.partitionKinds.length > 0) this.partitionSomehow(now);
    }
    if (this.nextMembershipAt <= now) {
      this.nextMembershipAt = now + this.between(p.membershipEveryMs ?? ONE_VOTER_MEMBERSHIP_MS);
      this.changeMembership();
    }
  }

  // -- Crashes --------------------------------------------------------------------------

  private crashSomeone(now: number): void {
    const nodes = this.cluster.nodes.filter((n) => !n.stopped);
    const down = nodes.filter((n) => !n.alive || n.armedCrash !== null).length;
    if (down >= this.profile.maxDown) return;
    const up = nodes.filter((n) => n.alive && n.armedCrash === null);
    if (up.length === 0) return;
    const leader = this.cluster.leader();
    const victim = leader !== null && leader.armedCrash === null && this.rng.chance(0.4) ? leader : this.rng.pick(up);
    const point = this.weighted(this.profile.crashPoints);
    this.cluster.crash(victim.id, point);
    this.restartAt.set(victim.id, now + this.between(this.profile.downMs));
  }

  private weighted(weights: Readonly<Record<CrashPoint | 'now', number>>): CrashPoint | 'now' {
    const total = CRASH_POINTS.reduce((sum, p) => sum + weights[p], 0);
    let r = this.rng.next() * total;
    for (const p of CRASH_POINTS) {
      r -= weights[p];
      if (r < 0) return p;
    }
    return 'now';
  }

  // -- Partitions -----------------------------------------------------------------------

  private partitionSomehow(now: number): void {
    const net = this.cluster.network;
    const ids = this.cluster.nodes.filter((n) => !n.stopped).map((n) => n.id);
    if (ids.length < 2) return;
    const kind: PartitionKind = this.rng.pick(this.profile.partitionKinds);
    const leader = this.cluster.leader();
    const shuffled = this.rng.shuffle([...ids]);
    let desc: string;
    switch (kind) {
      case 'isolate':
      case 'isolateLeader': {
        const x = kind === 'isolateLeader' && leader !== null ? leader.id : shuffled[0]!;
        net.isolate(x, ids);
        desc = `isolate ${x}`;
        break;
      }
      case 'split': {
        const minority = Math.floor((ids.length - 1) / 2) || 1;
        const a = shuffled.slice(0, minority);
        const b = shuffled.slice(minority);
        net.partition([a, b]);
        desc = `split ${a.join(',')} | ${b.join(',')}`;
        break;
      }
      case 'asymmetric': {
        const x = leader !== null && this.rng.chance(0.5) ? leader.id : shuffled[0]!;
        const others = ids.filter((id) => id !== x);
        const deaf = this.rng.chance(0.5);
        for (const o of others) {
          if (deaf) net.blockOneWay(o, x);
          else net.blockOneWay(x, o);
        }
        desc = deaf ? `${x} hears nobody (others hear ${x})` : `nobody hears ${x} (${x} hears others)`;
        break;
      }
      case 'bridge': {
        const [x, ...rest] = shuffled;
        const half = Math.ceil(rest.length / 2);
        const a = rest.slice(0, half);
        const b = rest.slice(half);
        net.partition([a, b]);
        desc = `bridge ${x!} between ${a.join(',')} | ${b.join(',')}`;
        break;
      }
    }
    this.partitions++;
    this.partitionEndsAt = now + this.between(this.profile.partitionMs);
    this.options.trace.add(now, `PARTITION ${desc} until ${this.partitionEndsAt}`);
  }

  // -- Membership changes ---------------------------------------------------------------

  private changeMembership(): void {
    const conf: ConfState | null = this.cluster.leaderConf();
    if (conf === null) return;
    const members = new Set([...conf.voters, ...conf.learners]);
    const spare = this.cluster.nodes.find((n) => !n.stopped && n.alive && !members.has(n.id) && !n.everMember);
    const choices: (() => void)[] = [];
    if (conf.learners.length > 0) {
      choices.push(() => this.propose({ type: 'addVoter', node: this.rng.pick(conf.learners) }));
    }
    if (conf.voters.length + conf.learners.length < 6) {
      choices.push(() => {
        let id = spare?.id;
        if (id === undefined) {
          const used = Math.max(...this.cluster.nodes.map((n) => n.id));
          if (used >= this.options.maxNodeId) return;
          id = used + 1;
          this.cluster.addServer(id);
        }
        this.propose({ type: 'addLearner', node: id });
      });
    }
    // oneVoter runs go down to a single voter and back up (1 -> 2 voters is the delicate step).
    if (conf.voters.length > (this.options.topology === 'oneVoter' ? 1 : 3)) {
      choices.push(() => this.propose({ type: 'remove', node: this.rng.pick(conf.voters) }));
    }
    if (conf.learners.length > 0 && this.rng.chance(0.3)) {
      choices.push(() => this.propose({ type: 'remove', node: this.rng.pick(conf.learners) }));
    }
    if (choices.length > 0) this.rng.pick(choices)();
  }

  private propose(change: ConfChange): void {
    if (this.cluster.proposeConfChange(change) === null) return;
    this.confChanges++;
    const voters = this.cluster.leaderConf()?.voters.length ?? 0;
    this.voterCounts.min = Math.min(this.voterCounts.min, voters);
    this.voterCounts.max = Math.max(this.voterCounts.max, voters);
  }

  private between(range: readonly [number, number]): number {
    return this.rng.int(range[0], range[1]);
  }
}
