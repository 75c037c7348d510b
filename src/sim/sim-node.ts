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

import { RaftCore } from '../raft/index.ts';
import type { ConfState, Entry, Message, RaftBugs, RaftConfig, Ready, Role } from '../raft/types.ts';
import { SimDisk } from './disk.ts';
import type { InvariantChecker } from './invariants.ts';
import { KvStateMachine, encodeCommand, sameBytes, type KvCommand } from './kv.ts';
import type { SimNetwork } from './network.ts';
import type { Prng } from './prng.ts';
import type { Trace } from './trace.ts';

export type CrashPoint = 'beforePersist' | 'afterPersist' | 'midSend';

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
}

interface PendingWrite {
  readonly term: number;
  readonly data: Uint8Array;
  readonly done: (outcome: WriteOutcome) => void;
}

interface PendingRead {
  readonly key: string;
  readonly done: (outcome: ReadOutcome) => void;
}

const MAX_PENDING = 10_000;
const MAX_READY_ROUNDS = 1_000;

export class SimNode {
  readonly disk = new SimDisk();
  core: RaftCore | null = null;
  kv: KvStateMachine;
  incarnation = 0;
  nextTickAt = 0;
  /** Shut down for good (removed from the cluster). */
  stopped = false;
  /** Was in a configuration it applied (founders from the start): removal shuts it down. */
  everMember = false;
  armedCrash: CrashPoint | null = null;
  armedDeadline = 0;
  /** Role and term as of the end of the last step (for the cluster-wide checks). */
  role: Role = 'follower';
  term = 0;
  private leaderTermChecked = 0;
  /** Highest index whose entry was reported committed to the checker (this incarnation). */
  private recordedCommit = 0;
  private readonly pendingWrites = new Map<number, PendingWrite>();
  private readonly pendingReads = new Map<number, PendingRead>();
  /** Reads whose read state (or lease check) is known: serve once applied >= index. */
  private waitingReads: { index: number; read: PendingRead }[] = [];
  /** snapshotsReceived: snapshots from the leader made durable; snapshotsInstalled: applied to the state machine. */
  stats = { readies: 0, applied: 0, snapshotsTaken: 0, snapshotsReceived: 0, snapshotsInstalled: 0, crashes: 0 };

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
    this.leaderTermChecked = 0;
    this.recordedCommit = 0;
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
    this.stats.crashes++;
    this.ctx.trace.add(this.ctx.now(), `n${this.id} CRASH (${why})`);
    const writes = [...this.pendingWrites.values()];
    const reads = [...this.pendingReads.values(), ...this.waitingReads.map((w) => w.read)];
    this.pendingWrites.clear();
    this.pendingReads.clear();
    this.waitingReads = [];
    for (const w of writes) w.done({ kind: 'unknown', reason: `node ${this.id} crashed` });
    for (const r of reads) r.done({ kind: 'unknown', reason: `node ${this.id} crashed` });
  }

  /** Removed from the cluster: stops for good. */
  stop(): void {
    this.crash('removed from the cluster');
    this.stopped = true;
  }

  tick(): void {
    const core = this.live();
    core.tick();
    this.afterStep();
  }

  step(message: Message): void {
    const core = this.live();
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

  write(cmd: KvCommand, done: (outcome: WriteOutcome) => void): void {
    const core = this.core;
    if (core === null) return done({ kind: 'rejected', reason: 'node down', leader: 0 });
    if (this.pendingWrites.size >= MAX_PENDING) return done({ kind: 'rejected', reason: 'busy', leader: 0 });
    const data = encodeCommand(cmd);
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
    const core = this.core;
    if (core === null) return done({ kind: 'rejected', reason: 'node down', leader: 0 });
    const read: PendingRead = { key, done };
    if (mode === 'lease') {
      if (!core.leaseValid()) return done({ kind: 'rejected', reason: 'no lease', leader: core.status().leader });
      const index = core.status().commitIndex;
      this.ctx.trace.add(this.ctx.now(), `n${this.id} lease read ${key} at ${index}`);
      this.waitingReads.push({ index, read });
      this.serveReads();
      return;
    }
    if (this.pendingReads.size >= MAX_PENDING) return done({ kind: 'rejected', reason: 'busy', leader: 0 });
    const context = this.ctx.nextReadContext();
    if (!core.readIndex(context)) return done({ kind: 'rejected', reason: 'no leader', leader: 0 });
    this.pendingReads.set(context, read);
    this.afterStep();
  }

  /** Applies what the core produced, then records role and term for the checkers. */
  private afterStep(): void {
    const core = this.core;
    if (core === null) return;
    for (let round = 0; core.hasReady(); round++) {
      if (round >= MAX_READY_ROUNDS) throw new Error(`sim: node ${this.id} produced ready() ${round} times in one step`);
      if (!this.handleReady(core)) return; // crashed
    }
    const status = core.status();
    this.role = status.role;
    this.term = status.term;
    const checker = this.ctx.checker;
    checker.observeRole(this.id, status.role, status.term);
    checker.observeCommit(this.id, this.incarnation, status.commitIndex);
    // Entries up to the commit index are committed, whether or not applied yet.
    const upTo = Math.min(status.commitIndex, this.disk.lastIndex);
    for (let i = Math.max(this.recordedCommit, this.disk.snapshotIndex) + 1; i <= upTo; i++) {
      const e = this.disk.entryAt(i)!;
      if (checker.observeCommitted(this.id, e)) this.ctx.onFirstApply(e, this.id);
    }
    this.recordedCommit = Math.max(this.recordedCommit, upTo);
    if (status.role === 'leader' && this.leaderTermChecked !== status.term) {
      this.leaderTermChecked = status.term;
      this.ctx.trace.add(this.ctx.now(), `n${this.id} LEADER term ${status.term} last ${status.lastIndex} commit ${status.commitIndex}`);
      checker.observeLeaderLog(this.id, status.term, this.disk);
    }
  }

  /** One ready() cycle. Returns false when an armed crash hit. */
  private handleReady(core: RaftCore): boolean {
    const rd: Ready = core.ready();
    this.stats.readies++;
    const now = this.ctx.now();
    const { checker, trace, network } = this.ctx;
    if (this.armedCrash === 'beforePersist') {
      this.crash('before persisting a ready');
      return false;
    }

    // 1. Persist.
    if (rd.hardState !== null) {
      this.disk.saveHardState(rd.hardState);
      checker.observeHardState(this.id, rd.hardState);
    }
    if (rd.snapshot !== null) {
      this.disk.installSnapshot(rd.snapshot);
      this.stats.snapshotsReceived++;
      trace.add(now, `n${this.id} persist snapshot ${rd.snapshot.meta.index}@${rd.snapshot.meta.term}`);
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      this.disk.append(rd.entries);
      checker.observeDurableEntries(this.id, this.disk, first);
      trace.add(now, `n${this.id} persist ${first}..${rd.entries[rd.entries.length - 1]!.index} last term ${rd.entries[rd.entries.length - 1]!.term}`);
    }
    if (this.armedCrash === 'afterPersist') {
      this.crash('after persisting, before sending');
      return false;
    }

    // 2. Send.
    const cut = this.armedCrash === 'midSend' ? this.ctx.rng.int(0, rd.messages.length) : rd.messages.length;
    for (let i = 0; i < rd.messages.length; i++) {
      if (i === cut) {
        this.crash(`while sending, after ${cut} of ${rd.messages.length} messages`);
        return false;
      }
      const m = rd.messages[i]!;
      checker.observeSend(m, this.disk);
      const outcome = network.send(m, now);
      trace.add(now, `send ${describeMessage(m)} ${outcome.kind === 'queued' ? `@${outcome.deliverAt.join(',')}` : outcome.kind}`);
    }
    if (this.armedCrash === 'midSend') {
      this.crash('after sending');
      return false;
    }

    // 3. Apply.
    if (rd.snapshot !== null) {
      const { index, term } = rd.snapshot.meta;
      if (index > this.kv.applied) {
        this.kv.restore(rd.snapshot);
        this.stats.snapshotsInstalled++;
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
      this.kv.apply(e);
      this.stats.applied++;
      if (checker.observeApplied(this.id, e)) this.ctx.onFirstApply(e, this.id);
      const w = this.pendingWrites.get(e.index);
      if (w !== undefined) {
        this.pendingWrites.delete(e.index);
        if (e.term === w.term && sameBytes(e.data, w.data)) w.done({ kind: 'ok', index: e.index });
        else w.done({ kind: 'rejected', reason: `index ${e.index} holds term ${e.term}, not ${w.term}`, leader: 0 });
      }
    }
    if (rd.committedEntries.length > 0) {
      const last = rd.committedEntries[rd.committedEntries.length - 1]!;
      trace.add(now, `n${this.id} apply ..${last.index}@${last.term}`);
    }

    // 4. Reads.
    for (const rs of rd.readStates) {
      const read = this.pendingReads.get(rs.context);
      if (read === undefined) continue; // a duplicate answer, or a read from before a restart
      this.pendingReads.delete(rs.context);
      this.waitingReads.push({ index: rs.index, read });
    }
    this.serveReads();

    // 5. Advance, then maybe snapshot what has been applied.
    core.advance();
    const every = this.ctx.snapshotEvery;
    if (every > 0 && this.kv.applied - this.disk.snapshotIndex >= every) {
      const snap = this.kv.snapshot();
      this.disk.compact(snap);
      core.snapshotTaken(snap);
      this.stats.snapshotsTaken++;
      trace.add(now, `n${this.id} snapshot taken at ${snap.meta.index}@${snap.meta.term}`);
    }
    return true;
  }

  private serveReads(): void {
    if (this.waitingReads.length === 0) return;
    const applied = this.kv.applied;
    const still: { index: number; read: PendingRead }[] = [];
    for (const w of this.waitingReads) {
      if (w.index <= applied) {
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
