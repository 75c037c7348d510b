// One simulation run: a cluster of real Raft cores, simulated clients, random faults for a
// while, then a heal phase that must restore progress (liveness), then a linearizability
// check of the clients' history. Everything derives from one seed: the same seed replays
// the same run, step for step (the trace hash proves it).

import { InvariantError } from '../assert.ts';
import type { ConfState, RaftBugs } from '../raft/types.ts';
import { Clients, DEFAULT_CLIENTS, type ClientOptions, type ClientStats } from './clients.ts';
import { Cluster, DEFAULT_TIMING } from './cluster.ts';
import { profileByName, type FaultProfile, type PartitionKind } from './faults.ts';
import { describeOp } from './history.ts';
import { InvariantViolation } from './invariants.ts';
import { uniqueValue } from './kv.ts';
import { checkKvHistory } from './linearizability.ts';
import { RELIABLE_LINKS } from './network.ts';
import { Prng } from './prng.ts';
import type { CrashPoint, DriverMode, RaftTiming, WriteOutcome } from './sim-node.ts';
import { Trace } from './trace.ts';

export interface SimOptions {
  readonly seed: number;
  readonly nodes: number;
  /** Length of the fault phase in virtual ms. */
  readonly durationMs?: number;
  /** Bound on the heal phase: a leader, a committed probe write, caught-up members. */
  readonly healMs?: number;
  readonly profile?: FaultProfile | string;
  readonly bugs?: RaftBugs;
  readonly clients?: Partial<ClientOptions>;
  readonly timing?: Partial<RaftTiming>;
  readonly tickMs?: number;
  readonly snapshotEvery?: number;
  /** Keep every trace line (determinism tests); otherwise only the last few hundred. */
  readonly fullTrace?: boolean;
  /** Highest node id membership changes may create. */
  readonly maxNodeId?: number;
  /** Per-key search budget of the linearizability checker. */
  readonly checkBudget?: number;
  /** How nodes drive their core (see SimNode); default: chosen from the seed, half each. */
  readonly driver?: DriverMode;
  /** 'voters': every founder votes. 'oneVoter': node 1 is the only voter, the others start as
   * learners, and membership changes (promotions, removals down to one voter) run throughout. */
  readonly topology?: Topology;
}

export type Topology = 'voters' | 'oneVoter';

/** Membership changes in a oneVoter run whose profile has none. */
const ONE_VOTER_MEMBERSHIP_MS: readonly [number, number] = [150, 500];

export interface SimStats {
  readonly seed: number;
  readonly profile: string;
  readonly nodes: number;
  readonly driver: DriverMode;
  readonly topology: Topology;
  readonly virtualMs: number;
  readonly steps: number;
  readonly traceLines: number;
  readonly traceHash: string;
  readonly leaderTerms: number;
  readonly committed: number;
  readonly crashes: number;
  readonly partitions: number;
  readonly confChanges: number;
  readonly snapshotsTaken: number;
  readonly snapshotsInstalled: number;
  /** Pipelined driver activity (see SimNode.stats). */
  readonly pipeline: { earlySends: number; stepsWhileWriting: number; tornWrites: number };
  /** Fewest and most voters in the leader's configuration after each accepted conf change. */
  readonly voters: { min: number; max: number };
  readonly messages: { sent: number; delivered: number; dropped: number; duplicated: number; blocked: number };
  readonly clients: ClientStats;
  readonly checker: { invariantChecks: number; opsChecked: number; explored: number; unknown: boolean };
  readonly healedInMs: number;
}

export type FailureKind = 'invariant' | 'linearizability' | 'liveness' | 'core-assertion' | 'exception';

export class SimulationFailure extends Error {
  constructor(
    readonly seed: number,
    readonly kind: FailureKind,
    readonly detail: string,
    readonly traceTail: readonly string[],
    readonly at: number,
    /** Driver and topology of the run, e.g. "pipelined/voters". */
    readonly mode: string = '',
  ) {
    super(
      `seed ${seed}${mode ? ` (${mode})` : ''}: ${kind} failure at ${at} ms: ${detail}\n--- last ${traceTail.length} trace lines ---\n${traceTail.join('\n')}`,
    );
    this.name = 'SimulationFailure';
  }
}

const CRASH_POINTS: readonly (CrashPoint | 'now')[] = ['now', 'beforePersist', 'afterPersist', 'midSend'];

export class Simulation {
  readonly seed: number;
  readonly trace: Trace;
  readonly cluster: Cluster;
  readonly clients: Clients;
  readonly profile: FaultProfile;
  readonly driver: DriverMode;
  readonly topology: Topology;
  /** Random faults are injected only while this is true. */
  faultsOn = false;
  private readonly faultRng: Prng;
  private readonly tickMs: number;
  private readonly maxNodeId: number;
  private nextCrashAt = Infinity;
  private nextPartitionAt = Infinity;
  private partitionEndsAt = Infinity;
  private nextMembershipAt = Infinity;
  private readonly restartAt = new Map<number, number>();
  private partitions = 0;
  private confChanges = 0;
  private readonly voterCounts: { min: number; max: number };
  private probes = 0;
  private healedInMs = 0;

  constructor(readonly options: SimOptions) {
    if (!Number.isInteger(options.seed) || options.seed < 0) throw new Error(`bad seed ${options.seed}`);
    if (!Number.isInteger(options.nodes) || options.nodes < 1 || options.nodes > 9) throw new Error(`bad node count ${options.nodes}`);
    this.seed = options.seed;
    const rng = new Prng(options.seed);
    this.profile = typeof options.profile === 'string' ? profileByName(options.profile) : (options.profile ?? profileByName('mixed'));
    this.trace = new Trace(400, options.fullTrace ?? false);
    this.tickMs = options.tickMs ?? 10;
    this.maxNodeId = options.maxNodeId ?? Math.max(options.nodes + 3, 7);
    const ids = Array.from({ length: options.nodes }, (_, i) => i + 1);
    // Derived streams: choosing these does not change any other stream of the seed.
    this.driver = options.driver ?? (rng.derive('driver').chance(0.5) ? 'pipelined' : 'sync');
    this.topology = options.topology ?? 'voters';
    const t = rng.derive('timing');
    const snapshotTiming: Partial<RaftTiming> = {
      snapshotCatchUpEntries: t.pick([0, 3, 10, 30]),
      snapshotInflightChunks: t.pick([1, 2, 4]),
    };
    this.cluster = new Cluster({
      rng: rng.derive('cluster'),
      ids,
      voters: this.topology === 'oneVoter' ? [1] : ids,
      driver: this.driver,
      timing: { ...DEFAULT_TIMING, ...snapshotTiming, ...options.timing },
      bugs: options.bugs,
      tickMs: this.tickMs,
      snapshotEvery: options.snapshotEvery ?? 40,
      links: this.profile.links,
      trace: this.trace,
    });
    const founders = this.topology === 'oneVoter' ? 1 : options.nodes;
    this.voterCounts = { min: founders, max: founders };
    this.clients = new Clients(this.cluster, rng.derive('clients'), { ...DEFAULT_CLIENTS, ...options.clients });
    this.faultRng = rng.derive('faults');
  }

  get now(): number {
    return this.cluster.now;
  }

  /** Turns random faults on (from now) or off (pending restarts still happen). */
  setFaults(on: boolean): void {
    this.faultsOn = on;
    const p = this.profile;
    if (on) {
      this.cluster.network.setFaults(p.links);
      this.nextCrashAt = p.crashEveryMs ? this.now + this.between(p.crashEveryMs) : Infinity;
      this.nextPartitionAt = p.partitionEveryMs ? this.now + this.between(p.partitionEveryMs) : Infinity;
      const membershipMs = p.membershipEveryMs ?? (this.topology === 'oneVoter' ? ONE_VOTER_MEMBERSHIP_MS : null);
      this.nextMembershipAt = membershipMs ? this.now + this.between(membershipMs) : Infinity;
    } else {
      this.nextCrashAt = this.nextPartitionAt = this.nextMembershipAt = Infinity;
    }
  }

  /** Advances virtual time to `until`, interleaving node events, client actions and faults. */
  runUntil(until: number): void {
    for (let guard = 0; ; guard++) {
      if (guard > 10_000_000) throw new Error('Simulation.runUntil: no progress');
      const next = Math.max(this.now, Math.min(until, this.clients.nextActionTime(), this.nextFaultTime()));
      // A client whose answer arrives acts at once, not at its deadline.
      this.cluster.runUntil(next, () => this.clients.nextActionTime() < next);
      const now = this.now;
      this.doFaults(now);
      this.clients.runDue(now);
      if (now >= until && this.clients.nextActionTime() > until && this.nextFaultTime() > until) break;
    }
  }

  runFor(ms: number): void {
    this.runUntil(this.now + ms);
  }

  /** Runs in `stepMs` steps until `condition` holds; false if `maxMs` passed first. */
  waitFor(condition: () => boolean, maxMs: number, stepMs = 1): boolean {
    const deadline = this.now + maxMs;
    while (!condition()) {
      if (this.now >= deadline) return false;
      this.runFor(stepMs);
    }
    return true;
  }

  /** A scripted write (client 0) at one node, recorded in the history like any client's. */
  submitWrite(nodeId: number, key: string): void {
    this.probes++;
    const value = uniqueValue(0, this.probes);
    const history = this.clients.history;
    const op = history.invoke(0, 'append', key, value, this.now);
    this.cluster.node(nodeId).write({ client: 0, request: this.probes, op: 'append', key, value }, (o) => {
      if (op.status !== 'pending') return;
      if (o.kind === 'ok') history.ok(op, this.cluster.now, null, `scripted, index ${o.index}`);
      else if (o.kind === 'rejected') history.failed(op, o.reason);
      else history.indeterminate(op, o.reason);
    });
  }

  /** Ends every fault: restores all links (reliable delivery with small delays), restarts
   * every crashed node, cancels armed crashes. */
  healAll(): void {
    this.setFaults(false);
    this.partitionEndsAt = Infinity;
    this.cluster.network.heal();
    this.cluster.network.setFaults({ ...RELIABLE_LINKS, maxDelay: Math.max(RELIABLE_LINKS.maxDelay, 5) });
    this.restartAt.clear();
    for (const n of this.cluster.nodes) {
      n.armedCrash = null;
      if (!n.alive && !n.stopped) this.cluster.restart(n.id);
    }
    this.trace.add(this.now, 'HEAL: links restored, all nodes up');
  }

  /**
   * Liveness after healing: within `boundMs` a leader is elected, a probe write commits and is
   * applied by every member, and afterwards every client op completes (no timeouts).
   */
  awaitLiveness(boundMs: number): void {
    const start = this.now;
    const deadline = start + boundMs;
    const step = this.tickMs;
    while (this.cluster.leader() === null) {
      if (this.now >= deadline) this.failLiveness(`no leader elected within ${boundMs} ms of healing`);
      this.runFor(step);
    }
    const index = this.probeWrite(deadline);
    // The probe's leader may have been on its way out (removing itself): a leader must exist
    // at the end, and every member of its configuration must have applied the probe.
    let conf: ConfState | null;
    for (;;) {
      conf = this.cluster.leaderConf();
      const behind =
        conf === null
          ? ['(no leader)']
          : [...conf.voters, ...conf.learners].filter((id) => {
              const n = this.cluster.node(id);
              return !n.alive || n.kv.applied < index;
            });
      if (behind.length === 0) break;
      if (this.now >= deadline) {
        this.failLiveness(
          `members ${behind.join(',')} did not apply the probe write at index ${index} within ${boundMs} ms (applied: ${this.cluster.nodes
            .map((n) => `${n.id}:${n.kv.applied}${n.alive ? '' : '(down)'}`)
            .join(' ')})`,
        );
      }
      this.runFor(step);
    }
    this.healedInMs = this.now - start;
    // Client progress: ops started from now on must all succeed.
    this.clients.eligible = [...conf!.voters, ...conf!.learners];
    const from = this.now;
    const timeout = this.clients.timeoutMs;
    this.runFor(timeout * 2);
    this.clients.issuing = false;
    this.runFor(timeout + 50);
    // Strictly after `from`: an op invoked at `from` itself may have picked its node before
    // `eligible` was narrowed (e.g. a server whose addition was truncated from the log).
    const stuck = this.clients.history.ops().filter((op) => op.invoke > from && op.status !== 'ok' && op.client !== 0);
    if (stuck.length > 0) {
      this.failLiveness(`after healing, ${stuck.length} client ops did not succeed, e.g. ${describeOp(stuck[0]!)}`);
    }
  }

  /** Closes the history and checks it. Returns the run's statistics. */
  finish(): SimStats {
    this.clients.closeAll();
    const check = checkKvHistory(this.clients.history.ops(), this.options.checkBudget ?? 1_000_000);
    if (!check.ok) {
      throw this.failure('linearizability', check.failure!.description);
    }
    const net = this.cluster.network.stats;
    let snapshotsTaken = 0;
    let snapshotsInstalled = 0;
    let crashes = 0;
    const pipeline = { earlySends: 0, stepsWhileWriting: 0, tornWrites: 0 };
    for (const n of this.cluster.nodes) {
      snapshotsTaken += n.stats.snapshotsTaken;
      snapshotsInstalled += n.stats.snapshotsInstalled;
      crashes += n.stats.crashes;
      pipeline.earlySends += n.stats.earlySends;
      pipeline.stepsWhileWriting += n.stats.stepsWhileWriting;
      pipeline.tornWrites += n.stats.tornWrites;
    }
    return {
      seed: this.seed,
      profile: this.profile.name,
      nodes: this.options.nodes,
      driver: this.driver,
      topology: this.topology,
      virtualMs: this.now,
      steps: this.cluster.steps,
      traceLines: this.trace.count,
      traceHash: this.trace.hash,
      leaderTerms: this.cluster.checker.leaderTerms,
      committed: this.cluster.checker.maxCommitted,
      crashes,
      partitions: this.partitions,
      confChanges: this.confChanges,
      snapshotsTaken,
      snapshotsInstalled,
      pipeline,
      voters: { ...this.voterCounts },
      messages: { sent: net.sent, delivered: net.delivered, dropped: net.dropped, duplicated: net.duplicated, blocked: net.blocked },
      clients: { ...this.clients.stats },
      checker: { invariantChecks: this.cluster.checker.checks, opsChecked: check.opsChecked, explored: check.explored, unknown: check.unknown },
      healedInMs: this.healedInMs,
    };
  }

  /** Wraps any error thrown during a run into a SimulationFailure with the seed and trace. */
  failure(kind: FailureKind, detail: string): SimulationFailure {
    return new SimulationFailure(this.seed, kind, detail, this.trace.tail(50), this.now, `${this.driver}/${this.topology}`);
  }

  wrap(error: unknown): SimulationFailure {
    if (error instanceof SimulationFailure) return error;
    if (error instanceof InvariantViolation) return this.failure('invariant', error.message);
    if (error instanceof InvariantError) return this.failure('core-assertion', error.message);
    const e = error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : String(error);
    return this.failure('exception', e);
  }

  // -- Faults ---------------------------------------------------------------------------

  private nextFaultTime(): number {
    let t = Math.min(this.nextCrashAt, this.nextPartitionAt, this.partitionEndsAt, this.nextMembershipAt);
    for (const at of this.restartAt.values()) t = Math.min(t, at);
    return t;
  }

  private doFaults(now: number): void {
    for (const [id, at] of [...this.restartAt].sort((x, y) => x[0] - y[0])) {
      if (at > now) continue;
      const n = this.cluster.node(id);
      if (n.alive && n.armedCrash !== null) {
        this.restartAt.set(id, now + this.tickMs); // its crash has not hit yet: look again later
        continue;
      }
      this.restartAt.delete(id);
      this.cluster.restart(id);
    }
    if (this.partitionEndsAt <= now) {
      this.partitionEndsAt = Infinity;
      this.cluster.network.heal();
      this.trace.add(now, 'partition healed');
    }
    if (!this.faultsOn) return;
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

  private crashSomeone(now: number): void {
    const nodes = this.cluster.nodes.filter((n) => !n.stopped);
    const down = nodes.filter((n) => !n.alive || n.armedCrash !== null).length;
    if (down >= this.profile.maxDown) return;
    const up = nodes.filter((n) => n.alive && n.armedCrash === null);
    if (up.length === 0) return;
    const leader = this.cluster.leader();
    const victim = leader !== null && leader.armedCrash === null && this.faultRng.chance(0.4) ? leader : this.faultRng.pick(up);
    const point = this.weighted(this.profile.crashPoints);
    this.cluster.crash(victim.id, point);
    this.restartAt.set(victim.id, now + this.between(this.profile.downMs));
  }

  private partitionSomehow(now: number): void {
    const net = this.cluster.network;
    const ids = this.cluster.nodes.filter((n) => !n.stopped).map((n) => n.id);
    if (ids.length < 2) return;
    const kind: PartitionKind = this.faultRng.pick(this.profile.partitionKinds);
    const leader = this.cluster.leader();
    const shuffled = this.faultRng.shuffle([...ids]);
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
        const x = leader !== null && this.faultRng.chance(0.5) ? leader.id : shuffled[0]!;
        const others = ids.filter((id) => id !== x);
        const deaf = this.faultRng.chance(0.5);
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
    this.trace.add(now, `PARTITION ${desc} until ${this.partitionEndsAt}`);
  }

  private changeMembership(): void {
    const conf = this.cluster.leaderConf();
    if (conf === null) return;
    const members = new Set([...conf.voters, ...conf.learners]);
    const spare = this.cluster.nodes.find((n) => !n.stopped && n.alive && !members.has(n.id) && !n.everMember);
    const choices: (() => void)[] = [];
    if (conf.learners.length > 0) {
      choices.push(() => this.propose({ type: 'addVoter', node: this.faultRng.pick(conf.learners) }));
    }
    if (conf.voters.length + conf.learners.length < 6) {
      choices.push(() => {
        let id = spare?.id;
        if (id === undefined) {
          const used = Math.max(...this.cluster.nodes.map((n) => n.id));
          if (used >= this.maxNodeId) return;
          id = used + 1;
          this.cluster.addServer(id);
        }
        this.propose({ type: 'addLearner', node: id });
      });
    }
    // oneVoter runs go down to a single voter and back up (1 -> 2 voters is the delicate step).
    if (conf.voters.length > (this.topology === 'oneVoter' ? 1 : 3)) {
      choices.push(() => this.propose({ type: 'remove', node: this.faultRng.pick(conf.voters) }));
    }
    if (conf.learners.length > 0 && this.faultRng.chance(0.3)) {
      choices.push(() => this.propose({ type: 'remove', node: this.faultRng.pick(conf.learners) }));
    }
    if (choices.length > 0) this.faultRng.pick(choices)();
  }

  private propose(change: Parameters<Cluster['proposeConfChange']>[0]): void {
    if (this.cluster.proposeConfChange(change) === null) return;
    this.confChanges++;
    const voters = this.cluster.leaderConf()?.voters.length ?? 0;
    this.voterCounts.min = Math.min(this.voterCounts.min, voters);
    this.voterCounts.max = Math.max(this.voterCounts.max, voters);
  }

  /** Writes a probe value through the leader until it commits; returns its index. */
  private probeWrite(deadline: number): number {
    const history = this.clients.history;
    for (;;) {
      if (this.now >= deadline) this.failLiveness('the probe write did not commit before the deadline');
      const leader = this.cluster.leader();
      if (leader === null) {
        this.runFor(this.tickMs);
        continue;
      }
      this.probes++;
      const value = uniqueValue(0, this.probes);
      const op = history.invoke(0, 'append', 'probe', value, this.now);
      let outcome: WriteOutcome | null = null;
      let at = 0;
      leader.write({ client: 0, request: this.probes, op: 'append', key: 'probe', value }, (o) => {
        outcome = o;
        at = this.cluster.now;
      });
      while (outcome === null && this.now < deadline) this.runFor(this.tickMs);
      const result = outcome as WriteOutcome | null;
      if (result === null) {
        history.indeterminate(op, 'probe deadline');
        continue;
      }
      if (result.kind === 'ok') {
        history.ok(op, at, null, `probe index ${result.index}`);
        this.trace.add(this.now, `probe committed at ${result.index}`);
        return result.index;
      }
      if (result.kind === 'rejected') history.failed(op, result.reason);
      else history.indeterminate(op, result.reason);
    }
  }

  private failLiveness(detail: string): never {
    throw this.failure('liveness', detail);
  }

  private between(range: readonly [number, number]): number {
    return this.faultRng.int(range[0], range[1]);
  }

  private weighted(weights: Readonly<Record<CrashPoint | 'now', number>>): CrashPoint | 'now' {
    const total = CRASH_POINTS.reduce((sum, p) => sum + weights[p], 0);
    let r = this.faultRng.next() * total;
    for (const p of CRASH_POINTS) {
      r -= weights[p];
      if (r < 0) return p;
    }
    return 'now';
  }
}

/** Runs one seed: faults, heal, liveness, linearizability. Throws SimulationFailure. */
export function runSimulation(options: SimOptions): SimStats {
  const sim = new Simulation(options);
  try {
    sim.setFaults(true);
    sim.runUntil(options.durationMs ?? 3000);
    sim.healAll();
    sim.awaitLiveness(options.healMs ?? 3000);
    return sim.finish();
  } catch (error) {
    throw sim.wrap(error);
  }
}

export type SimOutcome = { readonly ok: true; readonly stats: SimStats } | { readonly ok: false; readonly failure: SimulationFailure };

/** Like runSimulation, but returns failures instead of throwing them. */
export function trySimulation(options: SimOptions): SimOutcome {
  try {
    return { ok: true, stats: runSimulation(options) };
  } catch (error) {
    if (error instanceof SimulationFailure) return { ok: false, failure: error };
    throw error;
  }
}
