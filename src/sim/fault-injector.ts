// The fault injector of a simulation run: decides, from its own seeded stream, when and where
// faults hit (crashes at a chosen point of the ready() cycle, partitions of five kinds,
// membership changes) as the run's FaultProfile describes, applies them to the cluster, and
// restarts crashed nodes after their down time. run.ts asks it for the time of the next fault
// and lets it act at that time; healing ends every fault.
// With a Nemesis in the profile it also watches the cluster once per tick and strikes when a
// trigger holds (a leader with an uncommitted tail, a candidate, ...).
// Every fault it applies is recorded (FaultEvent): given such a list back (`replay`), it
// applies exactly those, at the same virtual times, and draws nothing: the shrinker
// (shrink.ts) replays a failing seed with fewer of them.

import type { ConfChange, ConfState, Role } from '../raft/types.ts';
import type { Cluster } from './cluster.ts';
import { NO_NEMESIS, type FaultProfile, type Nemesis, type PartitionKind } from './faults.ts';
import type { Prng } from './prng.ts';
import type { CrashPoint, CrashTrigger, SimNode } from './sim-node.ts';
import type { Trace } from './trace.ts';

/** 'voters': every founder votes. 'oneVoter': node 1 is the only voter, the others start as
 * learners, and membership changes (promotions, removals down to one voter) run throughout. */
export type Topology = 'voters' | 'oneVoter';

/** Membership changes in a oneVoter run whose profile has none. */
const ONE_VOTER_MEMBERSHIP_MS: readonly [number, number] = [150, 500];

const CRASH_POINTS: readonly (CrashPoint | 'now')[] = ['now', 'beforePersist', 'afterPersist', 'midSend'];

/** One fault as applied, at virtual time `at`. */
export type FaultEvent =
  | { readonly at: number; readonly type: 'crash'; readonly node: number; readonly point: CrashPoint | 'now' }
  | { readonly at: number; readonly type: 'restart'; readonly node: number }
  /** A crash armed for a moment of the node's making (CrashTrigger). */
  | { readonly at: number; readonly type: 'arm'; readonly node: number; readonly when: CrashTrigger['when']; readonly point: CrashPoint }
  /** Every link healed, then these directed links (from, to) cut. */
  | { readonly at: number; readonly type: 'partition'; readonly cuts: readonly (readonly [number, number])[] }
  | { readonly at: number; readonly type: 'heal' }
  | { readonly at: number; readonly type: 'conf'; readonly change: ConfChange }
  | { readonly at: number; readonly type: 'campaign'; readonly node: number }
  | { readonly at: number; readonly type: 'transfer'; readonly to: number }
  /** The node's event loop stalls for `ms` (SimNode.pause). */
  | { readonly at: number; readonly type: 'pause'; readonly node: number; readonly ms: number };

/** Recorded events kept per run (a run records a few hundred at most). */
const EVENTS_MAX = 10_000;

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
  /** Apply exactly these faults (sorted by time) instead of drawing any. */
  readonly replay?: readonly FaultEvent[];
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
  private nextPauseAt = Infinity;
  pauses = 0;
  private readonly restartAt = new Map<number, number>();
  private nextWatchAt = Infinity;
  /** A state-triggered fault waiting to be applied at strikeAt (see observe). */
  private strike: ((now: number) => void) | null = null;
  strikeAt = Infinity;
  private readonly seen = new Map<number, { role: Role; commit: number }>();
  /** Nodes named in a proposed membership change. */
  private readonly named = new Set<number>();
  private readonly nemesis: Nemesis;
  /** Every fault applied, in order (see FaultEvent). */
  readonly events: FaultEvent[] = [];
  /** Faults applied (crashes, restarts, partitions, heals, conf changes, campaigns, transfers). */
  injected = 0;
  private readonly replay: readonly FaultEvent[] | null;
  private replayNext = 0;

  constructor(private readonly options: FaultInjectorOptions) {
    this.cluster = options.cluster;
    this.profile = options.profile;
    this.rng = options.rng;
    this.voterCounts = { min: options.founders, max: options.founders };
    this.nemesis = options.profile.nemesis ?? NO_NEMESIS;
    this.replay = options.replay ?? null;
    if (this.replay === null && Object.values(this.nemesis).some((v) => v > 0)) {
      this.cluster.onStepped = (n) => this.observe(n);
    }
  }

  /** Turns random faults on (from `now`) or off (pending restarts and partition ends still happen). */
  setFaults(on: boolean, now: number): void {
    this.on = on;
    const p = this.profile;
    if (on) {
      this.cluster.network.setFaults(p.links);
      if (this.replay !== null) return;
      const nm = this.nemesis;
      const watching = Object.values(nm).some((v) => v > 0);
      this.nextWatchAt = watching ? now + this.options.tickMs : Infinity;
      this.nextCrashAt = p.crashEveryMs ? now + this.between(p.crashEveryMs) : Infinity;
      this.nextPartitionAt = p.partitionEveryMs ? now + this.between(p.partitionEveryMs) : Infinity;
      const membershipMs = p.membershipEveryMs ?? (this.options.topology === 'oneVoter' ? ONE_VOTER_MEMBERSHIP_MS : null);
      this.nextMembershipAt = membershipMs ? now + this.between(membershipMs) : Infinity;
      this.nextPauseAt = p.pauseEveryMs ? now + this.between(p.pauseEveryMs) : Infinity;
    } else {
      this.nextCrashAt = this.nextPartitionAt = this.nextMembershipAt = this.nextWatchAt = this.nextPauseAt = Infinity;
    }
  }

  /** Ends every fault it scheduled: no more faults, no pending partition end or restart (the
   * caller heals the network and restarts the nodes itself). */
  stop(now: number): void {
    this.setFaults(false, now);
    this.partitionEndsAt = Infinity;
    this.restartAt.clear();
    this.strike = null;
    this.strikeAt = Infinity;
    if (this.replay !== null) this.replayNext = this.replay.length;
  }

  /** When the injector next wants to act (Infinity: never). */
  nextFaultTime(): number {
    if (this.replay !== null) return this.replay[this.replayNext]?.at ?? Infinity;
    let t = Math.min(
      this.nextCrashAt,
      this.nextPartitionAt,
      this.partitionEndsAt,
      this.nextMembershipAt,
      this.nextWatchAt,
      this.strikeAt,
      this.nextPauseAt,
    );
    for (const at of this.restartAt.values()) t = Math.min(t, at);
    return t;
  }

  /** Does what is due at `now`: restarts, the end of a partition, then (when on) new faults. */
  act(now: number): void {
    if (this.replay !== null) {
      for (; this.replayNext < this.replay.length && this.replay[this.replayNext]!.at <= now; this.replayNext++) {
        this.apply(this.replay[this.replayNext]!, now);
      }
      return;
    }
    for (const [id, at] of [...this.restartAt].sort((x, y) => x[0] - y[0])) {
      if (at > now) continue;
      const n = this.cluster.node(id);
      if (n.alive && (n.armedCrash !== null || n.armedTrigger !== null)) {
        this.restartAt.set(id, now + this.options.tickMs); // its crash has not hit yet: look again later
        continue;
      }
      this.restartAt.delete(id);
      this.apply({ at: now, type: 'restart', node: id }, now);
    }
    if (this.partitionEndsAt <= now) {
      this.partitionEndsAt = Infinity;
      this.apply({ at: now, type: 'heal' }, now);
    }
    if (!this.on) return;
    if (this.strikeAt <= now) {
      const strike = this.strike!;
      this.strike = null;
      this.strikeAt = Infinity;
      strike(now);
    }
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
      this.changeMembership(now);
    }
    if (this.nextPauseAt <= now) {
      this.nextPauseAt = now + this.between(p.pauseEveryMs!);
      this.pauseSomeone(now);
    }
    if (this.nextWatchAt <= now) {
      this.nextWatchAt = now + this.options.tickMs;
      this.watch(now);
    }
  }

  /** Applies one fault and records it. */
  private apply(e: FaultEvent, now: number): void {
    if (this.events.length < EVENTS_MAX) this.events.push(e.at === now ? e : { ...e, at: now });
    this.injected++;
    const { cluster, trace } = this.options;
    switch (e.type) {
      case 'crash':
        if (cluster.has(e.node)) cluster.crash(e.node, e.point);
        break;
      case 'restart':
        if (cluster.has(e.node)) cluster.restart(e.node);
        break;
      case 'arm':
        if (cluster.has(e.node)) cluster.arm(e.node, e.when, e.point, 2 * cluster.timing.electionTicks * this.options.tickMs);
        break;
      case 'partition': {
        const net = cluster.network;
        net.heal();
        for (const [from, to] of e.cuts) net.blockOneWay(from, to);
        this.partitions++;
        trace.add(now, `PARTITION cut ${net.describeCuts()}`);
        break;
      }
      case 'heal':
        cluster.network.heal();
        trace.add(now, 'partition healed');
        break;
      case 'conf': {
        const c = e.change;
        if (c.type === 'addLearner' && !cluster.has(c.node)) {
          if (this.replay === null || cluster.leader() === null) break;
          cluster.addServer(c.node);
        }
        // The injector promotes only learners it has; a replayed schedule shrunk to fewer
        // nodes may name one that is no server here (seed 6815's first shrink made a voter of
        // it and then blamed the cluster for waiting on it): nothing to promote.
        if (c.type === 'addVoter' && !cluster.has(c.node)) break;
        this.propose(c);
        break;
      }
      case 'campaign': {
        const n = cluster.has(e.node) ? cluster.node(e.node) : null;
        if (n !== null && n.alive) {
          trace.add(now, `n${e.node} campaigns (term churn)`);
          cluster.campaign(e.node);
        }
        break;
      }
      case 'transfer':
        cluster.transferLeadership(e.to);
        break;
      case 'pause':
        if (cluster.has(e.node)) cluster.pause(e.node, e.ms);
        this.pauses++;
        break;
    }
  }

  // -- State-triggered faults (Nemesis) -------------------------------------------------

  /** Once per tick: polled triggers (two leaders for coverage; long isolation of the leader,
   * term churn, leadership transfers). */
  private watch(now: number): void {
    const cluster = this.cluster;
    const nm = this.nemesis;
    let leaders = 0;
    for (const n of cluster.nodes) if (n.alive && n.role === 'leader') leaders++;
    if (leaders > 1) cluster.coverage.hit('twoLiveLeaders');
    if (this.strike !== null) return;
    const leader = cluster.leader();
    if (leader !== null && this.partitionEndsAt === Infinity && this.rng.chance(nm.isolateLeaderLong)) {
      const electionMs = this.options.tickMs * cluster.timing.electionTicks;
      this.isolateFor(leader.id, now, this.rng.int(2 * electionMs, 6 * electionMs));
      return;
    }
    const churn = this.rng.chance(nm.churnTerms);
    const transfer = leader !== null && this.rng.chance(nm.transfer);
    if (!churn && !transfer) return;
    const voters = leader?.core?.status().conf.voters ?? [];
    if (churn) {
      const others = voters.filter((id) => id !== leader?.id && cluster.has(id) && cluster.node(id).alive);
      if (others.length > 0) this.apply({ at: now, type: 'campaign', node: this.rng.pick(others) }, now);
    }
    if (transfer) {
      const others = voters.filter((id) => id !== leader!.id);
      if (others.length > 0) {
        this.apply({ at: now, type: 'transfer', to: this.rng.pick(others) }, now);
        if (this.partitionEndsAt === Infinity && this.rng.chance(nm.deafenOnTransfer)) {
          const old = leader!.id;
          const ms = this.rng.int(20, 300);
          const target = (this.events[this.events.length - 1] as { to: number }).to;
          // Either the old leader hears nobody (it does not learn it was replaced), or it
          // hears its successor's election (and steps down) but not what it commits next.
          const deaf = this.rng.chance(0.5);
          this.strikeSoon((at) => {
            const cuts = deaf
              ? this.cluster.nodes.filter((n) => !n.stopped && n.id !== old).map((n) => [n.id, old] as [number, number])
              : [[target, old] as [number, number]];
            this.apply({ at, type: 'partition', cuts }, at);
            this.partitionEndsAt = at + ms;
          });
          if (!deaf) this.strikeAt = now + this.rng.int(3, 12);
        }
      }
    }
  }

  /** After every step of a node (faults on, not replaying): event triggers. A strike is
   * applied 1 ms later (strikeSoon), between steps, as a timed event (so that a replay of the recorded
   * events applies it at the same point). */
  private observe(n: SimNode): void {
    const seen = this.seen.get(n.id);
    const role = n.role;
    const commit = n.commitIndex;
    const prev = seen === undefined ? undefined : { ...seen };
    if (seen === undefined) this.seen.set(n.id, { role, commit });
    else {
      if (seen.role === role && seen.commit === commit) return;
      seen.role = role;
      seen.commit = commit;
    }
    if (!this.on || this.strike !== null || this.replay !== null) return;
    const nm = this.nemesis;
    const id = n.id;
    const fresh = role !== prev?.role;
    if (fresh && (role === 'candidate' || role === 'leader') && n.armedTrigger === null && n.armedCrash === null) {
      const when = role === 'candidate' ? 'leader' : 'commit';
      if (this.rng.chance(role === 'candidate' ? nm.crashNewLeader : nm.crashAtFirstCommit)) {
        if (this.downCount() < Math.max(1, this.profile.maxDown)) {
          const point = this.rng.pick(['afterPersist', 'midSend', 'beforePersist'] as const);
          // Armed 1 ms later, between steps (an election or a first commit takes a round trip
          // of at least 2 ms: still in time).
          this.strikeSoon((now) => {
            this.apply({ at: now, type: 'arm', node: id, when, point }, now);
            this.restartAt.set(id, now + this.between(this.profile.downMs));
          });
        }
        return;
      }
    }
    if (role === 'leader') {
      const advanced = !fresh && commit > prev!.commit;
      const tail = fresh || (advanced && n.lastIndex > commit);
      if (tail && this.rng.chance(nm.crashLeaderWithTail)) {
        this.strikeSoon((now) => {
          if (this.downCount() >= Math.max(1, this.profile.maxDown) || !this.cluster.node(id).alive) return;
          this.apply({ at: now, type: 'crash', node: id, point: this.weighted(this.profile.crashPoints) }, now);
          this.restartAt.set(id, now + this.between(this.profile.downMs));
        });
      } else if (tail && this.partitionEndsAt === Infinity && this.rng.chance(nm.isolateLeaderWithTail)) {
        this.strikeSoon((now) => this.isolateFor(id, now, this.between(this.profile.partitionMs)));
      }
    } else if (role === 'candidate' && prev?.role !== 'candidate' && this.partitionEndsAt === Infinity && this.rng.chance(nm.partitionCandidate)) {
      const leader = this.cluster.leader();
      const target = leader !== null && this.rng.chance(0.5) ? leader.id : n.id;
      this.strikeSoon((now) => this.isolateFor(target, now, this.rng.int(50, 400)));
    }
  }

  private strikeSoon(action: (now: number) => void): void {
    this.strike = action;
    // 1 ms later: some of the messages of that step arrive, the rest are caught.
    this.strikeAt = this.cluster.now + 1;
  }

  private isolateFor(id: number, now: number, ms: number): void {
    const ids = this.cluster.nodes.filter((n) => !n.stopped).map((n) => n.id);
    const cuts: [number, number][] = [];
    for (const o of ids) if (o !== id) cuts.push([id, o], [o, id]);
    this.apply({ at: now, type: 'partition', cuts }, now);
    this.partitionEndsAt = now + ms;
  }

  private downCount(): number {
    return this.cluster.nodes.filter((n) => !n.stopped && (!n.alive || n.armedCrash !== null || n.armedTrigger !== null)).length;
  }

  // -- Pauses ---------------------------------------------------------------------------

  /** Stalls a live, unpaused node, the leader half of the time: a leader that stalls past its
   * lease while another is elected is where a lease counted in ticks goes wrong. */
  private pauseSomeone(now: number): void {
    const up = this.cluster.nodes.filter((n) => n.alive && !n.paused);
    if (up.length === 0) return;
    const leader = this.cluster.leader();
    const victim = leader !== null && !leader.paused && this.rng.chance(0.5) ? leader : this.rng.pick(up);
    const electionMs = this.options.tickMs * this.cluster.timing.electionTicks;
    const [lo, hi] = this.profile.pauseElections ?? [0.5, 3];
    this.apply({ at: now, type: 'pause', node: victim.id, ms: this.rng.int(Math.round(lo * electionMs), Math.round(hi * electionMs)) }, now);
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
    this.apply({ at: now, type: 'crash', node: victim.id, point }, now);
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
    const net = new CutRecorder();
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
    this.partitionEndsAt = now + this.between(this.profile.partitionMs);
    this.options.trace.add(now, `PARTITION ${desc} until ${this.partitionEndsAt}`);
    this.apply({ at: now, type: 'partition', cuts: net.cuts }, now);
  }

  // -- Membership changes ---------------------------------------------------------------

  private changeMembership(now: number): void {
    const conf: ConfState | null = this.cluster.leaderConf();
    if (conf === null) return;
    const members = new Set([...conf.voters, ...conf.learners]);
    // A node once named in a change may still apply its removal later (it lags): never reuse it.
    const spare = this.cluster.nodes.find((n) => !n.stopped && n.alive && !members.has(n.id) && !n.everMember && !this.named.has(n.id));
    const choices: (() => void)[] = [];
    const change = (c: ConfChange): void => this.apply({ at: now, type: 'conf', change: c }, now);
    if (conf.learners.length > 0) {
      choices.push(() => change({ type: 'addVoter', node: this.rng.pick(conf.learners) }));
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
        change({ type: 'addLearner', node: id });
      });
    }
    // oneVoter runs go down to a single voter and back up (1 -> 2 voters is the delicate step).
    if (conf.voters.length > (this.options.topology === 'oneVoter' ? 1 : 3)) {
      choices.push(() => change({ type: 'remove', node: this.rng.pick(conf.voters) }));
    }
    if (conf.learners.length > 0 && this.rng.chance(0.3)) {
      choices.push(() => change({ type: 'remove', node: this.rng.pick(conf.learners) }));
    }
    if (choices.length > 0) this.rng.pick(choices)();
  }

  private propose(change: ConfChange): void {
    this.named.add(change.node);
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

/** Collects the links a partition kind would cut, so that the partition is applied (and
 * recorded) as one list of cuts. */
class CutRecorder {
  readonly cuts: [number, number][] = [];

  blockOneWay(from: number, to: number): void {
    this.cuts.push([from, to]);
  }

  isolate(node: number, others: readonly number[]): void {
    for (const o of others) if (o !== node) this.cuts.push([node, o], [o, node]);
  }

  partition(groups: readonly (readonly number[])[]): void {
    for (let i = 0; i < groups.length; i++) {
      for (let j = 0; j < groups.length; j++) {
        if (i === j) continue;
        for (const a of groups[i]!) for (const b of groups[j]!) this.cuts.push([a, b]);
      }
    }
  }
}
