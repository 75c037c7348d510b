// One simulation run: a cluster of real Raft cores, simulated clients, random faults for a
// while (chosen and applied by fault-injector.ts), then a heal phase that must restore progress (liveness), then a linearizability
// check of the clients' history. Everything derives from one seed: the same seed replays
// the same run, step for step (the trace hash proves it).

import { InvariantError } from '../assert.ts';
import type { ConfState, RaftBugs } from '../raft/types.ts';
import { Clients, DEFAULT_CLIENTS, type ClientOptions, type ClientStats } from './clients.ts';
import { BASE_SLOW_DISK_RATE, Cluster, DEFAULT_TIMING } from './cluster.ts';
import type { CoverageCounts } from './coverage.ts';
import { FaultInjector, type FaultEvent, type Topology } from './fault-injector.ts';
import { profileByName, type FaultProfile } from './faults.ts';
import { describeOp } from './history.ts';
import { InvariantViolation } from './invariants.ts';
import { uniqueValue } from './kv.ts';
import { checkKvHistory } from './linearizability.ts';
import { RELIABLE_LINKS, type LinkFaults } from './network.ts';
import { Prng } from './prng.ts';
import type { DriverMode, RaftTiming, WriteOutcome } from './sim-node.ts';
import { drawSwarm, type SwarmDraw } from './swarm.ts';
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
  /** Replay exactly these faults instead of drawing them (shrink.ts). */
  readonly faultSchedule?: readonly FaultEvent[];
  /** Link behaviour during the fault phase, instead of the profile's (shrink.ts: lossless). */
  readonly links?: LinkFaults;
  /** false: no pause fault even if the profile (or swarm draw) has one: regression seeds
   * recorded before the fault existed replay the run they were recorded with. */
  readonly pauses?: boolean;
}

/** The profile name of swarm testing: each seed draws its own faults (swarm.ts). */
export const SWARM = 'swarm';

export type { FaultEvent, Topology } from './fault-injector.ts';

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
  /** Interesting states reached (coverage.ts). */
  readonly coverage: CoverageCounts;
  /** Faults the injector applied. */
  readonly faultsInjected: number;
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
    /** The faults applied up to the failure (shrink.ts replays subsets of them). */
    readonly faultEvents: readonly FaultEvent[] = [],
  ) {
    super(
      `seed ${seed}${mode ? ` (${mode})` : ''}: ${kind} failure at ${at} ms: ${detail}\n--- last ${traceTail.length} trace lines ---\n${traceTail.join('\n')}`,
    );
    this.name = 'SimulationFailure';
  }
}

export class Simulation {
  readonly seed: number;
  readonly trace: Trace;
  readonly cluster: Cluster;
  readonly clients: Clients;
  readonly profile: FaultProfile;
  /** What this seed's swarm draw turned on (profile 'swarm'), else null. */
  readonly swarm: SwarmDraw | null;
  readonly driver: DriverMode;
  readonly topology: Topology;
  /** Crashes, partitions and membership changes (fault-injector.ts). */
  readonly faults: FaultInjector;
  private readonly tickMs: number;
  private probes = 0;
  private healedInMs = 0;

  constructor(readonly options: SimOptions) {
    if (!Number.isInteger(options.seed) || options.seed < 0) throw new Error(`bad seed ${options.seed}`);
    if (!Number.isInteger(options.nodes) || options.nodes < 1 || options.nodes > 9) throw new Error(`bad node count ${options.nodes}`);
    this.seed = options.seed;
    const rng = new Prng(options.seed);
    this.swarm = options.profile === SWARM ? drawSwarm(rng.derive('swarm')) : null;
    const drawn =
      this.swarm?.profile ?? (typeof options.profile === 'string' ? profileByName(options.profile) : (options.profile ?? profileByName('mixed')));
    const linked = options.links === undefined ? drawn : { ...drawn, links: options.links };
    this.profile = options.pauses === false ? { ...linked, pauseEveryMs: null } : linked;
    this.trace = new Trace(400, options.fullTrace ?? false);
    this.tickMs = options.tickMs ?? 10;
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
      timing: { ...DEFAULT_TIMING, ...snapshotTiming, ...this.swarm?.timing, ...options.timing },
      bugs: options.bugs,
      tickMs: this.tickMs,
      snapshotEvery: options.snapshotEvery ?? this.swarm?.snapshotEvery ?? 40,
      links: this.profile.links,
      trace: this.trace,
      clockDrift: this.profile.clockDrift ?? 0,
      slowDiskRate: this.profile.slowDiskRate ?? BASE_SLOW_DISK_RATE,
    });
    if (this.swarm !== null) this.trace.add(0, this.swarm.summary);
    this.clients = new Clients(this.cluster, rng.derive('clients'), { ...DEFAULT_CLIENTS, ...this.swarm?.clients, ...options.clients });
    this.faults = new FaultInjector({
      cluster: this.cluster,
      profile: this.profile,
      topology: this.topology,
      rng: rng.derive('faults'),
      trace: this.trace,
      tickMs: this.tickMs,
      maxNodeId: options.maxNodeId ?? Math.max(options.nodes + 3, 7),
      founders: this.topology === 'oneVoter' ? 1 : options.nodes,
      replay: options.faultSchedule,
    });
  }

  get now(): number {
    return this.cluster.now;
  }

  /** Turns random faults on (from now) or off (pending restarts still happen). */
  setFaults(on: boolean): void {
    this.faults.setFaults(on, this.now);
  }

  /** Advances virtual time to `until`, interleaving node events, client actions and faults. */
  runUntil(until: number): void {
    for (let guard = 0; ; guard++) {
      if (guard > 10_000_000) throw new Error('Simulation.runUntil: no progress');
      const next = Math.max(this.now, Math.min(until, this.clients.nextActionTime(), this.faults.nextFaultTime()));
      // A client whose answer arrives acts at once, not at its deadline.
      // A state-triggered fault scheduled during a step also ends the chunk.
      this.cluster.runUntil(next, () => this.clients.nextActionTime() < next || this.faults.strikeAt < next);
      const now = this.now;
      this.faults.act(now);
      this.clients.runDue(now);
      if (now >= until && this.clients.nextActionTime() > until && this.faults.nextFaultTime() > until) break;
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

  /** Ends every fault: restores all links (reliable delivery with small delays), disks to the
   * base rate of slow writes (a follower on a slow disk fed one entry per message lags the
   * clients for good: its reads time out, a throughput limit, not a bug), restarts every
   * crashed node, cancels armed crashes. */
  healAll(): void {
    this.faults.stop(this.now);
    this.cluster.network.heal();
    this.cluster.network.setFaults({ ...RELIABLE_LINKS, maxDelay: Math.max(RELIABLE_LINKS.maxDelay, 5) });
    this.cluster.slowDiskRate = BASE_SLOW_DISK_RATE;
    for (const n of this.cluster.nodes) {
      n.armedCrash = null;
      n.armedTrigger = null;
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
    // While the cluster recovers, clients start no new ops (those in progress go on): a backlog
    // the fault phase left (a leader that took writes it could not commit) drains at the
    // drawn cluster's pace, and under a tight draw (one entry per message, two in flight, slow
    // disks) new ops arriving as fast as it drains would keep every later op's commit behind
    // it past its deadline: a throughput limit of that draw, not a liveness bug (seed 6815,
    // docs/simulation.md). Once the probe is applied everywhere, the backlog before it is too.
    const issuing = this.clients.issuing;
    this.clients.issuing = false;
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
    if (!this.cluster.timing.preVote) this.stopRemovedServers();
    this.healedInMs = this.now - start;
    // Client progress: ops started from now on must all succeed.
    this.clients.eligible = [...conf!.voters, ...conf!.learners];
    const from = this.now;
    this.clients.issuing = issuing;
    const timeout = this.clients.timeoutMs;
    this.runFor(timeout * 2);
    this.clients.issuing = false;
    this.runFor(timeout + 50);
    // From `from` on, the first op of each client included (the burst right after recovery):
    // no client started an op while the cluster recovered, so every op invoked at `from` or
    // later picked its node after `eligible` was narrowed (e.g. past a server whose addition
    // was truncated from the log).
    const stuck = this.clients.history.ops().filter((op) => op.invoke >= from && op.status !== 'ok' && op.client !== 0);
    if (stuck.length > 0) {
      this.failLiveness(`after healing, ${stuck.length} client ops did not succeed, e.g. ${describeOp(stuck[0]!)}`);
    }
  }

  /** Closes the history and checks it. Returns the run's statistics. */
  finish(): SimStats {
    this.clients.closeAll();
    // Exactly-once writes (clients retry with the same ids; the KV's sessions dedupe).
    const duplicates = this.clients.duplicates;
    if (duplicates.length > 0) {
      throw this.failure('linearizability', `duplicate apply: ${duplicates.length} write(s) applied more than once, e.g. ${duplicates[0]}`);
    }
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
      partitions: this.faults.partitions,
      confChanges: this.faults.confChanges,
      snapshotsTaken,
      snapshotsInstalled,
      pipeline,
      voters: { ...this.faults.voterCounts },
      messages: { sent: net.sent, delivered: net.delivered, dropped: net.dropped, duplicated: net.duplicated, blocked: net.blocked },
      clients: { ...this.clients.stats },
      checker: { invariantChecks: this.cluster.checker.checks, opsChecked: check.opsChecked, explored: check.explored, unknown: check.unknown },
      healedInMs: this.healedInMs,
      coverage: this.cluster.coverage.snapshot(),
      faultsInjected: this.faults.injected,
    };
  }

  /** Wraps any error thrown during a run into a SimulationFailure with the seed and trace. */
  failure(kind: FailureKind, detail: string): SimulationFailure {
    return new SimulationFailure(this.seed, kind, detail, this.trace.tail(50), this.now, `${this.driver}/${this.topology}`, [...this.faults.events]);
  }

  wrap(error: unknown): SimulationFailure {
    if (error instanceof SimulationFailure) return error;
    if (error instanceof InvariantViolation) return this.failure('invariant', error.message);
    if (error instanceof InvariantError) return this.failure('core-assertion', error.message);
    const e = error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : String(error);
    return this.failure('exception', e);
  }

  /** Without pre-vote only: shuts down live servers outside the leader's configuration, as an
   * operator would. A removed server that never applied its removal keeps campaigning in ever
   * higher terms, and its answer to a late AppendEntries deposes the leader (thesis 4.2.3;
   * docs/found-bugs.md 2). With pre-vote its campaigns never raise its term (the
   * members, hearing their leader, refuse its pre-votes), so it cannot disrupt and is left
   * running: a run where it still does is a finding. */
  private stopRemovedServers(): void {
    const conf = this.cluster.leaderConf();
    if (conf === null) return;
    const members = new Set([...conf.voters, ...conf.learners]);
    for (const n of this.cluster.nodes) {
      if (n.stopped || members.has(n.id)) continue;
      this.trace.add(this.now, `n${n.id} is not in the configuration after healing: shut down`);
      this.cluster.stop(n.id);
    }
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
      // Wait for the answer; but a proposer that lost leadership and left the configuration
      // may never learn the fate of its entry: then ask the current leader again.
      const askedAt = this.now;
      const patienceMs = 2 * this.cluster.timing.electionTicks * this.tickMs;
      while (outcome === null && this.now < deadline && (this.cluster.leader() === leader || this.now < askedAt + patienceMs)) {
        this.runFor(this.tickMs);
      }
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
      // A leader may refuse proposals for a while (a leadership transfer in progress): let
      // time pass before asking again.
      this.runFor(this.tickMs);
    }
  }

  private failLiveness(detail: string): never {
    throw this.failure('liveness', detail);
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
