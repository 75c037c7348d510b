// One simulated server: a real RaftCore, a simulated disk, and the key-value state machine,
// driven exactly as the production driver (node/) drives the core. For each ready():
//   1. persist hard state, snapshot, entries to the disk;
//   2. send the messages;
//   3. apply the snapshot, then the committed entries, to the state machine, resolving the
//      proposals this node made;
//   4. serve read states whose index has been applied;
//   5. advance().
// A crash may be armed to hit at a chosen point of that sequence: before persisting (the
// ready's writes and messages are lost), after persisting, or halfway through sending.
//
// Two driver modes:
//  - 'sync': the sequence above runs to completion inside the step that produced the ready.
//  - 'pipelined': exactly what node/raft-node.ts does. The messages readyDurability() lets
//    leave early (the leader's AppendEntries and Heartbeats, when the ready changes neither
//    term nor vote: thesis 10.2.1) leave at once;
//    the write then takes virtual time, during which messages, ticks and proposals keep
//    stepping the core (ready() is taken, advance() is not called yet); when the write
//    completes, the other messages leave, committed entries are applied, and advance() is
//    called. A crash during the write keeps a prefix of it, as the log's single ordered
//    writer would: nothing, the snapshot, the snapshot and some entries, or everything
//    (entries before the hard state, as handleReady issues them).

import { RaftCore, readyDurability, ticksFirst } from '../raft/index.ts';
import type { ConfState, Entry, HardState, Message, RaftBugs, RaftConfig, Ready, Role } from '../raft/types.ts';
import { SimDisk } from './disk.ts';
import type { InvariantChecker } from './invariants.ts';
import { KvStateMachine, encodeCommand, sameBytes, type KvRequest } from './kv.ts';
import type { SimNetwork } from './network.ts';
import type { Prng } from './prng.ts';
import type { Coverage } from './coverage.ts';
import type { Trace } from './trace.ts';

export type CrashPoint = 'beforePersist' | 'afterPersist' | 'midSend';

export type DriverMode = 'sync' | 'pipelined';

/** A crash armed to hit at a moment of the node's own making: the first ready in which it is
 * leader ('leader': a new leader dies with its first entries), or in which it, as leader,
 * commits something ('commit': a leader dies as it commits). */
export interface CrashTrigger {
  readonly when: 'leader' | 'commit';
  readonly point: CrashPoint;
  /** Disarmed, unfired, after this virtual time. */
  readonly until: number;
}

/** Raft settings the simulation chooses (the rest of RaftConfig is per node). */
export type RaftTiming = Omit<RaftConfig, 'id' | 'random' | 'bugs'>;

export type WriteOutcome =
  | { readonly kind: 'ok'; readonly index: number }
  /** Definitely not applied: rejected, or another entry was committed at its index. */
  | { readonly kind: 'rejected'; readonly reason: string; readonly leader: number }
  | { readonly kind: 'unknown'; readonly reason: string };

export type ReadMode = 'readIndex' | 'lease';

export type ReadOutcome =
  | { readonly kind: 'ok'; readonly value: string | null; readonly index: number }
  | { readonly kind: 'rejected'; readonly reason: string; readonly leader: number }
  | { readonly kind: 'unknown'; readonly reason: string };

/** What a node needs from the cluster around it. */
export interface NodeContext {
  readonly now: () => number;
  readonly checker: InvariantChecker;
  readonly network: SimNetwork<Message>;
  readonly trace: Trace;
  readonly rng: Prng;
  readonly timing: RaftTiming;
  readonly bugs: RaftBugs | undefined;
  /** Applied entries between application snapshots (0: never snapshot). */
  readonly snapshotEvery: number;
  /** Called when an index is applied for the first time anywhere (leader completeness). */
  readonly onFirstApply: (entry: Entry, by: number) => void;
  /** Allocates read contexts unique across the run. */
  readonly nextReadContext: () => number;
  readonly driver: DriverMode;
  /** Interesting states reached (coverage.ts). */
  readonly coverage: Coverage;
  /** Probability that a pipelined write is slow (5..30 ms instead of 1..3), now. */
  readonly slowDiskRate: () => number;
}

/** A ready() whose write is in progress (pipelined driver). */
interface PendingReady {
  readonly rd: Ready;
  /** Messages that leave only once the write is durable. */
  readonly late: readonly Message[];
  readonly seq: number;
  /** Commit index when ready() was taken: once the write completes, the disk holds the log as
   * it was then, up to its last index (the log may have changed in memory since). */
  readonly commit: number;
}

interface PendingWrite {
  readonly term: number;
  readonly data: Uint8Array;
  readonly done: (outcome: WriteOutcome) => void;
}

interface PendingRead {
  readonly key: string;
  /** The node's term when the read arrived (coverage: a read served across a term change). */
  readonly term: number;
  readonly done: (outcome: ReadOutcome) => void;
}

/** What arrived at a paused node, in arrival order: handled when it resumes. */
type HeldEvent =
  | { readonly kind: 'message'; readonly message: Message }
  /** A client request (queued in the kernel, as HTTP requests are during a stall). */
  | { readonly kind: 'request'; readonly run: () => void; readonly fail: (reason: string) => void };

const MAX_PENDING = 10_000;
const MAX_READY_ROUNDS = 1_000;

export class SimNode {
  readonly disk = new SimDisk();
  core: RaftCore | null = null;
  kv: KvStateMachine;
  incarnation = 0;
  nextTickAt = 0;
  /** This node's clock: virtual ms per tick (drifts from the cluster's tick period), and the
   * exact time of the next tick (nextTickAt is it rounded to whole ms). */
  tickPeriodMs = 10;
  tickExactAt = 0;
  /** Term in which this node received a TimeoutNow (coverage: transfer completed). */
  timeoutNowTerm = -1;
  /** Shut down for good (removed from the cluster). */
  stopped = false;
  /** Was in a configuration it applied (founders from the start): removal shuts it down. */
  everMember = false;
  /** Highest index the state machine applied in any incarnation (see Cluster.stepped). */
  appliedHighWater = 0;
  /** Event-loop stall (pause fault): until this virtual time the node takes no tick, steps no
   * message and handles no request; they are held (see resume). */
  pausedUntil = -Infinity;
  private held: HeldEvent[] = [];
  /** Ticks due while paused and not yet taken: as node/raft-node.ts readBarrier does, no lease
   * read is served while any is owed (ticks counted the lease; after a stall it looks valid). */
  ticksOwed = 0;
  armedCrash: CrashPoint | null = null;
  armedTrigger: CrashTrigger | null = null;
  armedDeadline = 0;
  /** Role and term as of the end of the last step (for the cluster-wide checks). */
  role: Role = 'follower';
  term = 0;
  commitIndex = 0;
  lastIndex = 0;
  private leaderTermChecked = 0;
  /** The durable log holds this leader's whole log as of its election (leader completeness
   * can be checked against the disk). Pipelined: once a ready taken after it won completes. */
  leaderLogDurable = false;
  private leaderCheck: { term: number; seq: number } | null = null;
  /** Pipelined driver: the ready being written, and when the write completes. */
  private pending: PendingReady | null = null;
  writeDoneAt = Infinity;
  private readySeq = 0;
  /** Pipelined: the commit index the durable log is known to match (see PendingReady.commit). */
  private durableCommit = 0;
  /** The last hard state of the disk the checker was shown. */
  private observedHardState: HardState | null = null;
  /** Highest index whose entry was reported committed to the checker (this incarnation). */
  private recordedCommit = 0;
  private readonly pendingWrites = new Map<number, PendingWrite>();
  private readonly pendingReads = new Map<number, PendingRead>();
  /** Reads whose read state (or lease check) is known: serve once applied >= index. */
  private waitingReads: { index: number; read: PendingRead }[] = [];
  /** snapshotsReceived: snapshots from the leader made durable; snapshotsInstalled: applied to the state machine. */
  /** Pipelined driver: earlySends, messages sent before their ready was durable; stepsWhileWriting,
   * steps, ticks and proposals taken by the core while a write was pending; tornWrites, crashes
   * that kept part of a pending write. */
  stats = {
    readies: 0,
    applied: 0,
    snapshotsTaken: 0,
    snapshotsReceived: 0,
    snapshotsInstalled: 0,
    crashes: 0,
    earlySends: 0,
    stepsWhileWriting: 0,
    tornWrites: 0,
  };

  constructor(
    readonly id: number,
    private readonly initialConf: ConfState,
    private readonly ctx: NodeContext,
  ) {
    this.kv = new KvStateMachine(initialConf);
  }

  get alive(): boolean {
    return this.core !== null;
  }

  /** Boots (or reboots) from the durable state on the disk. */
  start(): void {
    if (this.core !== null) throw new Error(`sim: node ${this.id} is already running`);
    if (this.stopped) throw new Error(`sim: node ${this.id} was removed`);
    this.incarnation++;
    const random = this.ctx.rng.derive(`node ${this.id} incarnation ${this.incarnation}`);
    const config: RaftConfig = { ...this.ctx.timing, id: this.id, random: random.asFunction(), bugs: this.ctx.bugs };
    this.core = new RaftCore(config, this.disk.restartState(this.initialConf));
    this.kv = new KvStateMachine(this.initialConf);
    if (this.disk.snapshot !== null) {
      this.kv.restore(this.disk.snapshot);
      // The restart state carries only the snapshot's metadata: hand the core the data so
      // that it can send it to lagging followers.
      this.core.snapshotTaken(this.disk.snapshot);
    }
    this.role = 'follower';
    this.term = this.disk.hardState.term;
    this.timeoutNowTerm = -1;
    this.leaderTermChecked = 0;
    this.leaderLogDurable = false;
    this.leaderCheck = null;
    this.recordedCommit = 0;
    this.durableCommit = 0;
    this.ctx.trace.add(
      this.ctx.now(),
      `n${this.id} start #${this.incarnation} term ${this.disk.hardState.term} commit ${this.disk.hardState.commit} snap ${this.disk.snapshotIndex} last ${this.disk.lastIndex}`,
    );
    this.afterStep();
  }

  /** Loses all volatile state; the disk keeps what was persisted. */
  crash(why: string): void {
    if (this.core === null) return;
    this.core = null;
    this.armedCrash = null;
    this.armedTrigger = null;
    this.stats.crashes++;
    this.ctx.trace.add(this.ctx.now(), `n${this.id} CRASH (${why})`);
    // A stalled process that dies loses what the kernel held for it.
    const held = this.held;
    this.held = [];
    this.pausedUntil = -Infinity;
    this.ticksOwed = 0;
    const pending = this.pending;
    this.pending = null;
    this.writeDoneAt = Infinity;
    this.leaderLogDurable = false;
    if (pending !== null && this.persistPrefix(pending.rd) < pending.rd.entries.length) this.ctx.coverage.hit('crashLostUnsyncedTail');
    if (this.disk.commitWaiting !== null) {
      this.ctx.coverage.hit('crashLostCommitIndex');
      this.ctx.trace.add(this.ctx.now(), `n${this.id} loses commit ${this.disk.commitWaiting.commit} (no write carried it)`);
    }
    this.disk.loseUnwritten();
    const writes = [...this.pendingWrites.values()];
    const reads = [...this.pendingReads.values(), ...this.waitingReads.map((w) => w.read)];
    this.pendingWrites.clear();
    this.pendingReads.clear();
    this.waitingReads = [];
    for (const w of writes) w.done({ kind: 'unknown', reason: `node ${this.id} crashed` });
    for (const r of reads) r.done({ kind: 'unknown', reason: `node ${this.id} crashed` });
    for (const h of held) if (h.kind === 'request') h.fail(`node ${this.id} crashed`);
  }

  get paused(): boolean {
    return this.core !== null && this.ctx.now() < this.pausedUntil;
  }

  /** Stalls the event loop for `pauseMs` (the cluster resumes it at pausedUntil). */
  pause(pauseMs: number): void {
    if (this.core === null) return;
    this.pausedUntil = Math.max(this.pausedUntil, this.ctx.now() + pauseMs);
    this.ctx.coverage.hit('pausedNode');
    this.ctx.trace.add(this.ctx.now(), `n${this.id} PAUSE until ${this.pausedUntil}`);
  }

  /** Holds a message that reached the node while paused. */
  hold(message: Message): void {
    this.held.push({ kind: 'message', message });
  }

  /**
   * The stall ended (now >= pausedUntil). In node/raft-node.ts's order: what arrived during
   * it (messages and requests, in arrival order) is handled with the ticks of the stall still
   * owed, except that a message is stepped after the owed ticks when production's
   * `ticksFirst` says so (this node does not lead, or a leader's message of a higher term is
   * about to depose it: the stall was time before the message, docs/found-bugs.md 6); a
   * write that completed meanwhile is noticed; then whatever ticks are still owed are
   * caught up. The catch-up ticks at most `maxCatchUpTicks` (the rest is skipped, as
   * production does). `onStepped` runs after each step (the cluster's checks).
   */
  resume(maxCatchUpTicks: number, onStepped: () => void): void {
    const now = this.ctx.now();
    this.pausedUntil = -Infinity;
    let owed = 0;
    for (; this.nextTickAt <= now; owed++) {
      this.tickExactAt += this.tickPeriodMs;
      this.nextTickAt = Math.round(this.tickExactAt);
    }
    this.ticksOwed = owed;
    const held = this.held;
    this.held = [];
    this.ctx.trace.add(now, `n${this.id} RESUME: ${held.length} held, ${owed} ticks owed`);
    const catchUp = (): void => {
      if (this.ticksOwed === 0) return;
      for (let i = Math.min(this.ticksOwed, maxCatchUpTicks); i > 0 && this.core !== null; i--) {
        this.ticksOwed--;
        this.tick();
        onStepped();
      }
      this.ticksOwed = 0;
    };
    for (let i = 0; i < held.length; i++) {
      const h = held[i]!;
      if (this.core === null) {
        // Crashed (an armed crash) while handling them: the rest is lost with the process.
        for (const r of held.slice(i)) if (r.kind === 'request') r.fail(`node ${this.id} crashed`);
        return;
      }
      if (h.kind === 'message') {
        if (this.ticksFirst(h.message)) {
          catchUp();
          if (this.core === null) continue;
        }
        this.step(h.message);
      } else h.run();
      onStepped();
    }
    if (this.core === null) return;
    if (this.writeDoneAt <= now) {
      this.completeWrite();
      onStepped();
    }
    catchUp();
  }

  /** While ticks are owed, production's rule (raft/stalled-ticks.ts, as node/raft-node.ts
   * applies it): whether they are ticked before `message` is stepped. */
  private ticksFirst(message: Message): boolean {
    const core = this.core;
    return this.ticksOwed > 0 && core !== null && ticksFirst(message, core.status().role, core.currentTerm());
  }

  /** Removed from the cluster: stops for good. */
  stop(): void {
    this.crash('removed from the cluster');
    this.stopped = true;
  }

  tick(): void {
    const core = this.live();
    if (this.pending !== null) this.stats.stepsWhileWriting++;
    core.tick();
    this.afterStep();
  }

  step(message: Message): void {
    const core = this.live();
    if (message.type === 'TimeoutNow') this.timeoutNowTerm = message.term;
    if (this.pending !== null) this.stats.stepsWhileWriting++;
    core.step(message);
    this.afterStep();
  }

  campaign(): void {
    this.live().campaign();
    this.afterStep();
  }

  leaderHint(): number {
    return this.core?.status().leader ?? 0;
  }

  write(cmd: KvRequest, done: (outcome: WriteOutcome) => void): void {
    if (this.paused) {
      this.held.push({ kind: 'request', run: () => this.write(cmd, done), fail: (reason) => done({ kind: 'unknown', reason }) });
      return;
    }
    const core = this.core;
    if (core === null) return done({ kind: 'rejected', reason: 'node down', leader: 0 });
    if (this.pendingWrites.size >= MAX_PENDING) return done({ kind: 'rejected', reason: 'busy', leader: 0 });
    // Stamped with the time of proposal, as the node stamps its entries: the session table's clock.
    const data = encodeCommand({ ...cmd, timeMs: this.ctx.now() });
    if (this.pending !== null) this.stats.stepsWhileWriting++;
    const index = core.propose(data);
    if (index === null) return done({ kind: 'rejected', reason: 'not leader', leader: core.status().leader });
    const term = core.status().term;
    const displaced = this.pendingWrites.get(index);
    if (displaced !== undefined) {
      // We proposed at this index in an earlier term, lost leadership, and our log was cut back:
      // that entry is gone from our log (whether it committed elsewhere is for the checker).
      if (displaced.term >= term) throw new Error(`sim: node ${this.id} proposed index ${index} twice in term ${term}`);
      this.pendingWrites.delete(index);
      displaced.done({ kind: 'unknown', reason: `index ${index} reused by node ${this.id} in term ${term}` });
    }
    this.pendingWrites.set(index, { term, data, done });
    this.ctx.trace.add(this.ctx.now(), `n${this.id} propose ${cmd.op} ${cmd.key} ${cmd.value} -> ${index}@${term}`);
    this.afterStep();
  }

  read(mode: ReadMode, key: string, done: (outcome: ReadOutcome) => void): void {
    if (this.paused) {
      this.held.push({ kind: 'request', run: () => this.read(mode, key, done), fail: (reason) => done({ kind: 'unknown', reason }) });
      return;
    }
    const core = this.core;
    if (core === null) return done({ kind: 'rejected', reason: 'node down', leader: 0 });
    const read: PendingRead = { key, done, term: core.currentTerm() };
    // As node/raft-node.ts readBarrier does: a lease read without a valid lease (a follower, a
    // leader that has not heard from a quorum lately or sent TimeoutNow this term) is not
    // refused but confirmed through ReadIndex, so clients see what production clients see.
    const owed = this.ticksOwed > 0;
    if (mode === 'lease' && owed && core.leaseValid()) this.ctx.coverage.hit('leaseReadRefusedAfterPause');
    if (mode === 'lease' && !owed && core.leaseValid()) {
      this.ctx.coverage.hit('leaseReadServed');
      const index = core.status().commitIndex;
      this.ctx.trace.add(this.ctx.now(), `n${this.id} lease read ${key} at ${index}`);
      this.waitingReads.push({ index, read });
      this.serveReads();
      return;
    }
    if (mode === 'lease') this.ctx.coverage.hit('leaseReadFellBack');
    if (this.pendingReads.size >= MAX_PENDING) return done({ kind: 'rejected', reason: 'busy', leader: 0 });
    const context = this.ctx.nextReadContext();
    if (!core.readIndex(context)) return done({ kind: 'rejected', reason: 'no leader', leader: 0 });
    this.pendingReads.set(context, read);
    this.afterStep();
  }

  /** The term this node last led (-1: none; no node leads term 0): see observeLeaderCommit. */
  private ledTerm = -1;

  /** Tells the checker the commit index this node reached as leader, before anything of this
   * step is applied or sent: right after each step (a leader's heartbeats leave while a write
   * is pending, carrying a commit index no ready has shown yet) and at each ready. In a term it
   * led, every commit index a node holds is its own as leader (one leader per term), also
   * after a step in which it committed its own removal and stepped down. */
  private observeLeaderCommit(core: RaftCore): void {
    const status = core.status();
    if (status.role === 'leader') this.ledTerm = status.term;
    if (status.term === this.ledTerm) this.ctx.checker.observeLeaderCommit(status.term, status.commitIndex);
  }

  /** Applies what the core produced, then records role and term for the checkers. */
  private afterStep(): void {
    const core = this.core;
    if (core === null) return;
    this.observeLeaderCommit(core);
    // As node/raft-node.ts does: a leader's heartbeats do not wait for the write in progress.
    if (this.pending !== null) {
      const heartbeats = core.takeHeartbeats();
      this.stats.earlySends += heartbeats.length;
      if (!this.sendAll(heartbeats, false)) return;
    }
    for (let round = 0; core.hasReady() && this.pending === null; round++) {
      if (round >= MAX_READY_ROUNDS) throw new Error(`sim: node ${this.id} produced ready() ${round} times in one step`);
      const alive = this.ctx.driver === 'sync' ? this.handleReady(core) : this.beginReady(core);
      if (!alive) return; // crashed
    }
    const status = core.status();
    this.observeCoverage(status.role, status.term, status.lastIndex, status.commitIndex);
    this.role = status.role;
    this.term = status.term;
    this.commitIndex = status.commitIndex;
    this.lastIndex = status.lastIndex;
    const checker = this.ctx.checker;
    checker.observeRole(this.id, status.role, status.term);
    checker.observeCommit(this.id, this.incarnation, status.commitIndex);
    // Entries up to the commit index are committed, whether or not applied yet. While a write
    // is pending, the disk may still hold entries the log has since overwritten in memory: read
    // it only up to the commit index of the last ready it fully holds.
    const durableCommit = this.pending === null ? status.commitIndex : Math.min(status.commitIndex, this.durableCommit);
    const upTo = Math.min(durableCommit, this.disk.lastIndex);
    for (let i = Math.max(this.recordedCommit, this.disk.snapshotIndex) + 1; i <= upTo; i++) {
      const e = this.disk.entryAt(i)!;
      if (checker.observeCommitted(this.id, e)) this.ctx.onFirstApply(e, this.id);
    }
    this.recordedCommit = Math.max(this.recordedCommit, upTo);
    if (status.role !== 'leader') {
      this.leaderLogDurable = false;
      this.leaderCheck = null;
    } else if (this.leaderTermChecked !== status.term) {
      if (this.pending === null) this.checkLeaderLog(status.term, status.lastIndex, status.commitIndex);
      else if (this.leaderCheck?.term !== status.term) {
        // The pending write may predate the election: wait for one taken after it.
        this.leaderCheck = { term: status.term, seq: this.readySeq + 1 };
      }
    }
  }

  private observeCoverage(role: Role, term: number, lastIndex: number, commitIndex: number): void {
    const coverage = this.ctx.coverage;
    if (this.role === 'leader' && role !== 'leader') coverage.hit('leaderDeposed');
    if (role === 'leader' && this.role !== 'leader' && this.timeoutNowTerm >= 0 && term === this.timeoutNowTerm + 1) {
      coverage.hit('transferCompleted');
    }
    if (role === 'leader' && lastIndex > commitIndex) {
      const t = this.disk.termAt(commitIndex + 1);
      if (t !== undefined && t < term) coverage.hit('leaderWithEarlierTermTail');
    }
  }

  /** Leader completeness against the durable log, which now holds the leader's whole log as
   * of its election. */
  private checkLeaderLog(term: number, lastIndex: number, commitIndex: number): void {
    this.leaderTermChecked = term;
    this.leaderLogDurable = true;
    this.leaderCheck = null;
    this.ctx.trace.add(this.ctx.now(), `n${this.id} LEADER term ${term} last ${lastIndex} commit ${commitIndex}`);
    this.ctx.checker.observeLeaderLog(this.id, term, this.disk);
  }

  /** Sync driver: one whole ready() cycle. Returns false when an armed crash hit. */
  private handleReady(core: RaftCore): boolean {
    const rd: Ready = core.ready();
    const commitAtReady = core.status().commitIndex;
    this.observeLeaderCommit(core);
    this.stats.readies++;
    this.readySeq++;
    this.checkTrigger(core, rd);
    if (this.armedCrash === 'beforePersist') {
      if (rd.entries.length > 0) this.ctx.coverage.hit('crashLostUnsyncedTail');
      this.crash('before persisting a ready');
      return false;
    }
    this.persist(rd);
    if (this.armedCrash === 'afterPersist') {
      this.crash('after persisting, before sending');
      return false;
    }
    if (!this.sendAll(rd.messages, this.armedCrash === 'midSend')) return false;
    this.finishReady(core, rd, commitAtReady);
    return true;
  }

  /** Turns an armed trigger into an armed crash when this ready is its moment. */
  private checkTrigger(core: RaftCore, rd: Ready): void {
    const t = this.armedTrigger;
    if (t === null) return;
    if (this.ctx.now() > t.until) {
      this.armedTrigger = null;
      return;
    }
    if (core.status().role !== 'leader' || (t.when === 'commit' && rd.committedEntries.length === 0)) return;
    this.armedTrigger = null;
    this.armedCrash = t.point;
    // The crash hits this very ready (or, pipelined, its write): no tick must turn it into a
    // plain crash first.
    this.armedDeadline = t.until;
    this.ctx.trace.add(this.ctx.now(), `n${this.id} crash trigger (${t.when}) fires: crash ${t.point}`);
  }

  /** Pipelined driver: takes a ready(), sends what may leave before the write
   * (readyDurability's beforeSync), starts the write. */
  private beginReady(core: RaftCore): boolean {
    const rd: Ready = core.ready();
    this.observeLeaderCommit(core);
    this.stats.readies++;
    const seq = ++this.readySeq;
    this.checkTrigger(core, rd);
    // The core's rule (src/raft/ready-durability.ts), as node/raft-node.ts applies it.
    const { beforeSync, afterSync } = readyDurability(rd, this.disk.hardState, this.ctx.bugs);
    this.sendAll(beforeSync, false);
    this.stats.earlySends += beforeSync.length;
    this.pending = { rd, late: afterSync, seq, commit: core.status().commitIndex };
    // Most writes are quick; some fsyncs are slow enough for ticks and elections to happen.
    const rng = this.ctx.rng;
    this.writeDoneAt = this.ctx.now() + (rng.chance(1 - this.ctx.slowDiskRate()) ? rng.int(1, 3) : rng.int(5, 30));
    if (this.armedCrash === 'beforePersist') {
      this.crash('while a ready is being written');
      return false;
    }
    return true;
  }

  /** Pipelined driver: the write of the pending ready completed. */
  completeWrite(): void {
    const core = this.live();
    const p = this.pending;
    if (p === null) throw new Error(`sim: node ${this.id} has no write in progress`);
    this.pending = null;
    this.writeDoneAt = Infinity;
    this.persist(p.rd);
    this.durableCommit = p.commit;
    if (this.armedCrash === 'afterPersist') {
      this.crash('after persisting, before sending');
      return;
    }
    if (!this.sendAll(p.late, this.armedCrash === 'midSend')) return;
    this.finishReady(core, p.rd, p.commit);
    const check = this.leaderCheck;
    if (check !== null && p.seq >= check.seq) {
      const status = core.status();
      if (status.role === 'leader' && status.term === check.term) this.checkLeaderLog(status.term, status.lastIndex, status.commitIndex);
      else this.leaderCheck = null;
    }
    this.afterStep();
  }

  /** Makes a ready's hard state, snapshot and entries durable, as node/raft-node.ts writes
   * them: a new commit index alone rides along with the next write (see sim/disk.ts). */
  private persist(rd: Ready): void {
    const { trace } = this.ctx;
    const now = this.ctx.now();
    const hs = rd.hardState;
    const hsNow = hs !== null && this.hardStateWrittenNow(rd, hs);
    if (hs !== null && hsNow) this.disk.saveHardState(hs);
    if (rd.snapshot !== null) {
      this.disk.installSnapshot(rd.snapshot);
      this.stats.snapshotsReceived++;
      trace.add(now, `n${this.id} persist snapshot ${rd.snapshot.meta.index}@${rd.snapshot.meta.term}`);
    }
    if (rd.entries.length > 0) this.persistEntries(rd.entries);
    if (hs !== null && !hsNow) this.saveCommitLater(hs);
    this.observeDiskHardState();
  }

  /** Whether a ready's hard state is written at once: it changes the term or vote
   * (readyDurability's hardStateMustSync), or goes in the same write as the ready's entries.
   * Otherwise only the commit index moved, and it waits for the next write. */
  private hardStateWrittenNow(rd: Ready, hs: HardState): boolean {
    return rd.entries.length > 0 || hs.term !== this.disk.hardState.term || hs.vote !== this.disk.hardState.vote;
  }

  private saveCommitLater(hs: HardState): void {
    this.disk.saveCommitWithNextWrite(hs);
    this.ctx.coverage.hit('commitRidingNextWrite');
    this.ctx.trace.add(this.ctx.now(), `n${this.id} commit ${hs.commit} waits for the next write`);
  }

  /** The checker sees each hard state the disk makes durable, a waiting commit index too once
   * a later write carries it. */
  private observeDiskHardState(): void {
    const hs = this.disk.hardState;
    if (hs === this.observedHardState) return;
    this.observedHardState = hs;
    this.ctx.checker.observeHardState(this.id, hs);
  }

  private persistEntries(entries: readonly Entry[]): void {
    const first = entries[0]!.index;
    const held = first <= this.disk.lastIndex ? this.disk.termAt(first) : undefined;
    if (held !== undefined && held !== entries[0]!.term) this.ctx.coverage.hit('followerTruncatedSuffix');
    this.disk.append(entries);
    this.ctx.checker.observeDurableEntries(this.id, this.disk, first);
    const last = entries[entries.length - 1]!;
    this.ctx.trace.add(this.ctx.now(), `n${this.id} persist ${first}..${last.index} last term ${last.term}`);
  }

  /** A crash during a write: the log's ordered writer kept a prefix of what handleReady
   * issued (snapshot, then entries, then the hard state). */
  private persistPrefix(rd: Ready): number {
    const rng = this.ctx.rng;
    const stage = rng.int(0, 3);
    this.stats.tornWrites++;
    const entries = stage >= 3 ? rd.entries.length : stage === 2 ? rng.int(0, rd.entries.length) : 0;
    this.ctx.trace.add(this.ctx.now(), `n${this.id} torn write: stage ${stage}, ${entries} of ${rd.entries.length} entries`);
    if (stage >= 1 && rd.snapshot !== null) this.disk.installSnapshot(rd.snapshot);
    if (entries > 0) this.persistEntries(rd.entries.slice(0, entries));
    const hs = rd.hardState;
    if (stage >= 3 && hs !== null) {
      if (this.hardStateWrittenNow(rd, hs)) this.disk.saveHardState(hs);
      else this.saveCommitLater(hs);
    }
    this.observeDiskHardState();
    return entries;
  }

  /** Sends messages; with `crashMidway`, crashes after a random number of them. Returns false
   * when it crashed. */
  private sendAll(messages: readonly Message[], crashMidway: boolean): boolean {
    const { checker, trace, network } = this.ctx;
    const now = this.ctx.now();
    const cut = crashMidway ? this.ctx.rng.int(0, messages.length) : messages.length;
    for (let i = 0; i < messages.length; i++) {
      if (i === cut) {
        this.crash(`while sending, after ${cut} of ${messages.length} messages`);
        return false;
      }
      const m = messages[i]!;
      checker.observeSend(m, this.disk);
      const outcome = network.send(m, now);
      trace.add(now, `send ${describeMessage(m)} ${outcome.kind === 'queued' ? `@${outcome.deliverAt.join(',')}` : outcome.kind}`);
    }
    if (crashMidway) {
      this.crash('after sending');
      return false;
    }
    return true;
  }

  /** Applies a ready (snapshot, committed entries, reads), advances, maybe snapshots. */
  /** `commitAtReady`: the core's commit index when it gave out `rd` (its committed entries must
   * be at or below it). */
  private finishReady(core: RaftCore, rd: Ready, commitAtReady: number): void {
    const { checker, trace } = this.ctx;
    const now = this.ctx.now();
    if (rd.snapshot !== null) {
      const { index, term } = rd.snapshot.meta;
      if (index > this.kv.applied) {
        this.kv.restore(rd.snapshot);
        this.stats.snapshotsInstalled++;
        this.ctx.coverage.hit('snapshotInstalled');
        checker.observeSnapshotApplied(this.id, index, term);
        trace.add(now, `n${this.id} apply snapshot ${index}@${term}`);
        for (const [i, w] of this.pendingWrites) {
          if (i > index) continue;
          this.pendingWrites.delete(i);
          w.done({ kind: 'unknown', reason: `node ${this.id} installed a snapshot past index ${i}` });
        }
      }
    }
    for (const e of rd.committedEntries) {
      if (e.index <= this.kv.applied) {
        throw new Error(`sim: node ${this.id} was given entry ${e.index} to apply, already applied ${this.kv.applied}`);
      }
      const effect = this.kv.apply(e);
      this.stats.applied++;
      if (e.type === 'conf') this.ctx.coverage.hit('confChangeApplied');
      if (checker.observeApplied(this.id, e, commitAtReady)) this.ctx.onFirstApply(e, this.id);
      const w = this.pendingWrites.get(e.index);
      if (w !== undefined) {
        this.pendingWrites.delete(e.index);
        // A retry whose key's record left the session table: applied nothing, and whether the
        // first attempt did is not known here (production answers 410 IDEMPOTENCY_EXPIRED).
        const ours = e.term === w.term && sameBytes(e.data, w.data);
        if (ours && effect.kind === 'expired') w.done({ kind: 'unknown', reason: `the session record of the write at index ${e.index} expired` });
        else if (ours) w.done({ kind: 'ok', index: e.index });
        else w.done({ kind: 'rejected', reason: `index ${e.index} holds term ${e.term}, not ${w.term}`, leader: 0 });
      }
    }
    if (rd.committedEntries.length > 0) {
      const last = rd.committedEntries[rd.committedEntries.length - 1]!;
      trace.add(now, `n${this.id} apply ..${last.index}@${last.term}`);
    }

    for (const rs of rd.readStates) {
      const read = this.pendingReads.get(rs.context);
      if (read === undefined) continue; // a duplicate answer, or a read from before a restart
      this.pendingReads.delete(rs.context);
      this.waitingReads.push({ index: rs.index, read });
    }
    this.serveReads();

    core.advance();
    const every = this.ctx.snapshotEvery;
    if (every > 0 && this.kv.applied - this.disk.snapshotIndex >= every) {
      const snap = this.kv.snapshot();
      this.disk.compact(snap);
      core.snapshotTaken(snap);
      this.stats.snapshotsTaken++;
      trace.add(now, `n${this.id} snapshot taken at ${snap.meta.index}@${snap.meta.term}`);
    }
  }

  private serveReads(): void {
    if (this.waitingReads.length === 0) return;
    const applied = this.kv.applied;
    const still: { index: number; read: PendingRead }[] = [];
    for (const w of this.waitingReads) {
      if (w.index <= applied) {
        if (this.core !== null && this.core.currentTerm() !== w.read.term) this.ctx.coverage.hit('readServedAcrossTermChange');
        w.read.done({ kind: 'ok', value: this.kv.get(w.read.key), index: applied });
      } else still.push(w);
    }
    this.waitingReads = still;
  }

  private live(): RaftCore {
    if (this.core === null) throw new Error(`sim: node ${this.id} is down`);
    return this.core;
  }
}

export function describeMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} t${m.term}`;
  switch (m.type) {
    case 'AppendEntries':
      return `${head} prev ${m.prevLogIndex}@${m.prevLogTerm} n${m.entries.length} c${m.leaderCommit}`;
    case 'AppendEntriesResponse':
      return `${head} ${m.success ? `ok ${m.matchIndex}` : `no ${m.conflictIndex}@${m.conflictTerm}`}`;
    case 'PreVote':
    case 'RequestVote':
      return `${head} last ${m.lastLogIndex}@${m.lastLogTerm}`;
    case 'PreVoteResponse':
    case 'RequestVoteResponse':
      return `${head} ${m.granted ? 'yes' : 'no'}`;
    case 'Heartbeat':
      return `${head} c${m.commit} x${m.context}`;
    case 'HeartbeatResponse':
      return `${head} x${m.context}`;
    case 'InstallSnapshot':
      return `${head} ${m.meta.index}@${m.meta.term} off ${m.offset} len ${m.chunk.length}${m.done ? ' done' : ''}`;
    case 'InstallSnapshotResponse':
      return `${head} ${m.snapshotIndex} next ${m.nextOffset}${m.done ? ' done' : ''}`;
    case 'ReadIndex':
      return `${head} x${m.context}`;
    case 'ReadIndexResponse':
      return `${head} i${m.index} x${m.context}`;
    case 'TimeoutNow':
      return head;
  }
}
