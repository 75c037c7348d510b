// RaftNode drives the pure Raft core with real time, a real disk and real peers:
// a timer ticks the core; messages from the transport are stepped in; each
// ready() is persisted (fsync before any vote or ack leaves), sent, applied to
// the store in log order, and acknowledged with advance(). Proposals resolve
// with their command's result once applied here; followers forward writes to
// the leader. It implements DatabaseBackend, so the HTTP server can serve it.
import { mkdir } from 'node:fs/promises';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { openFileLog } from '../log/file-log.ts';
import type { LogStorage, SyncMode } from '../log/types.ts';
import { decodeConfEntry, RaftCore } from '../raft/index.ts';
import { DEFAULT_SNAPSHOT_CATCH_UP_ENTRIES } from '../raft/core.ts';
import type { ConfChange, Entry, Message, RaftStatus, Ready, Snapshot } from '../raft/types.ts';
import type { Command, CommandResult } from '../store/commands.ts';
import { StoreError, ValidationError } from '../store/errors.ts';
import { createIdGenerator } from '../store/ids.ts';
import { snapshotParts } from '../store/snapshot.ts';
import { Store, type ApplyOptions } from '../store/store.ts';
import type { Limits } from '../store/types.ts';
import { validateCommand } from '../store/validate.ts';
import { PeerTransport, type PeerAddress } from '../transport/index.ts';
import { pooledRandomBytes } from './random-pool.ts';
import type { ChangeEvent, DatabaseBackend, ExecuteOptions, MemberStatus, NodeStatus, ReadConsistency } from './backend.ts';
import { changesOf } from './change-events.ts';
import { decodeCommand, encodeCommand } from './command-codec.ts';
import { writeJsonFileDurably } from './durable-json.ts';
import { checkIdentity, createIdentity, loadIdentity, type NodeIdentity } from './node-identity.ts';
import { PeerIncarnations } from './peer-incarnations.ts';
import { NoPeers, type PeerNetwork } from './peer-network.ts';
import { PendingProposals } from './pending-proposals.ts';
import { ApplyPacing } from './apply-pacing.ts';
import { InsertCoalescer } from './insert-coalescer.ts';

export const STANDALONE_NODE_ID = 1;

export interface StandaloneOptions {
  readonly snapshotThreshold: number;
  readonly requestTimeoutMs: number;
  readonly logger: Logger;
  readonly limits?: Partial<Limits>;
}

export interface RaftNodeOptions {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly dataDir: string;
  /** host:port that peers and clients use to reach this node. */
  readonly advertise: string;
  readonly peers: readonly PeerAddress[];
  /** Joining an existing cluster (added through POST /cluster/members): start with no membership. */
  readonly join: boolean;
  readonly heartbeatIntervalMs: number;
  /** Elections wait a random time in [electionTimeoutMs, 2 * electionTimeoutMs). */
  readonly electionTimeoutMs: number;
  readonly snapshotThreshold: number;
  /** How long a write or read may wait for a leader and for its entry to apply. */
  readonly requestTimeoutMs: number;
  readonly sync: SyncMode;
  readonly logger: Logger;
  readonly limits?: Partial<Limits>;
}

const TICK_MS = 10;
/** Writes appended and not yet applied, at most; more wait (bounded memory under overload). */
const MAX_PENDING_PROPOSALS = 65_536;

interface PendingRead {
  index: number; // -1 until the ReadState arrives
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** A request a follower forwards to the leader over the peer connection. */
type ForwardedRequest =
  | { readonly type: 'execute'; readonly command: unknown }
  | { readonly type: 'addMember'; readonly id: number; readonly url: string; readonly learner: boolean }
  | { readonly type: 'removeMember'; readonly id: number };

/** Resolves on the next turn of the event loop, after the I/O callbacks queued before it. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The proposer's own insert commands carry copyNewDocument copies (ExecuteOptions.validated). */
const DOCUMENTS_COPIED: ApplyOptions = { documentsCopied: true };

interface Proposed {
  readonly index: number;
  readonly result: Promise<CommandResult>;
}

type ForwardedReply = { readonly notLeader: true } | { readonly result: CommandResult; readonly index: number } | { readonly done: true };

export class RaftNode implements DatabaseBackend {
  readonly transport: PeerNetwork;
  private core!: RaftCore;
  private currentStore: Store;
  private readonly proposals = new PendingProposals(MAX_PENDING_PROPOSALS);
  private readonly pacing = new ApplyPacing();
  private readonly inserts = new InsertCoalescer();
  /** Event-loop utilization at the end of the last Ready cycle (for pacing). */
  private cycleMark: EventLoopUtilization = performance.eventLoopUtilization();
  private readonly reads = new Map<number, PendingRead>();
  private readonly applyWaiters: Array<{ index: number; resolve: () => void }> = [];
  private readonly leaderWaiters = new Set<() => void>();
  private readonly listeners = new Set<(change: ChangeEvent) => void>();
  private readonly fatalListeners: Array<(error: Error) => void> = [];
  /** The ReadIndex round that reads arriving now will share, and the last one started. */
  private nextReadRound: Promise<void> | null = null;
  private lastReadRound: Promise<void> = Promise.resolve();
  private readonly nextId = createIdGenerator(Date.now, pooledRandomBytes());
  private readonly pendingAddresses = new Map<number, string>();
  // Random start: a stale ReadIndexResponse from before a restart must not match a new read.
  private readContext = Math.floor(Math.random() * 2 ** 40);
  private ticker: NodeJS.Timeout | null = null;
  /** performance.now() up to which real time has been turned into core ticks. */
  private tickedUntil = 0;
  private maxCatchUpTicks = 0;
  private lastExpirySweep = 0;
  /** The snapshot being encoded and written in the background, if any. */
  private snapshotJob: Promise<number> | null = null;
  private snapshotWrites: Promise<void> = Promise.resolve();
  /** A snapshot written to disk, waiting to be handed to the core between two Ready cycles. */
  private snapshotForCore: Snapshot | null = null;
  /** The last log index found at start: entries up to it are replayed, not snapshotted along the way. */
  private readonly recoveredLastIndex: number;
  private readyScheduled = false;
  private processing = false;
  private closed = false;
  private fatal: Error | null = null;
  private lastSnapshotIndex: number;
  private knownLeader = 0;

  private constructor(
    private readonly options: RaftNodeOptions,
    private readonly log: LogStorage,
    private identity: NodeIdentity,
    private readonly incarnations: PeerIncarnations,
    private readonly logger: Logger,
    standalone: boolean,
  ) {
    const snapshot = log.recovered.snapshot;
    this.currentStore = snapshot !== null ? Store.restoreSnapshot(snapshot.data, options.limits) : new Store(options.limits);
    this.lastSnapshotIndex = snapshot?.meta.index ?? 0;
    this.recoveredLastIndex = log.lastIndex();
    this.transport = standalone ? new NoPeers() : new PeerTransport({
      nodeId: options.nodeId,
      clusterId: options.clusterId,
      advertiseAddress: options.advertise,
      peers: options.peers,
      incarnation: identity.incarnation,
      logger: options.logger,
      onMessage: (message) => this.onMessage(message),
      onRequest: (from, body) => this.onForwarded(from, body),
      isKnownPeer: (id, address, incarnation) => this.admitPeer(id, address, incarnation),
    });
  }

  /** Opens the data directory (log, snapshot, identity). Call start() to join the cluster. */
  static async open(options: RaftNodeOptions): Promise<RaftNode> {
    const logger = options.logger.child({ component: 'raft-node', node: options.nodeId });
    await mkdir(options.dataDir, { recursive: true });
    const identity = await loadIdentity(options.dataDir);
    if (identity !== undefined) checkIdentity(identity, options.nodeId, options.clusterId, options.dataDir);
    const log = await openFileLog({
      dir: options.dataDir,
      sync: options.sync,
      onWarning: (message) => logger.warn(message),
    });
    if (identity === undefined && (log.lastIndex() > 0 || log.hardState().term > 0)) {
      await log.close();
      throw new Error(`data directory ${options.dataDir} holds a log but no node.json: refusing to guess its identity`);
    }
    const incarnations = await PeerIncarnations.load(options.dataDir);
    // A node without identity gets one now, so that its incarnation goes out in its handshakes.
    const created =
      identity ??
      (await createIdentity(options.dataDir, { clusterId: options.clusterId, nodeId: options.nodeId, bootstrapVoters: [] }));
    return new RaftNode(options, log, identity === undefined ? { ...created, bootstrapVoters: [] } : created, incarnations, logger, false);
  }

  /**
   * A group of one over an already open log, with no peers: the embedded database. It
   * bootstraps as its only voter and becomes leader at once; every write still goes
   * through the Raft log, the one write path.
   */
  static standalone(log: LogStorage, options: StandaloneOptions): RaftNode {
    const nodeOptions: RaftNodeOptions = {
      nodeId: STANDALONE_NODE_ID,
      clusterId: 'embedded',
      dataDir: '',
      advertise: 'embedded:0',
      peers: [],
      join: false,
      heartbeatIntervalMs: 50,
      electionTimeoutMs: 150,
      snapshotThreshold: options.snapshotThreshold,
      requestTimeoutMs: options.requestTimeoutMs,
      sync: 'none',
      logger: options.logger,
      ...(options.limits !== undefined ? { limits: options.limits } : {}),
    };
    const identity: NodeIdentity = {
      clusterId: 'embedded',
      nodeId: STANDALONE_NODE_ID,
      incarnation: '',
      bootstrapVoters: [STANDALONE_NODE_ID],
    };
    return new RaftNode(nodeOptions, log, identity, PeerIncarnations.inMemory(), options.logger, true);
  }

  get store(): Store {
    return this.currentStore;
  }

  /** The durable log's extent, and warnings from its recovery at open. */
  logInfo(): { firstIndex: number; lastIndex: number; snapshotIndex: number; warnings: readonly string[] } {
    return {
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      snapshotIndex: this.lastSnapshotIndex,
      warnings: this.log.recovered.warnings,
    };
  }

  /** Resolves once this node leads and has applied every entry it had at start (a group of
   * one: everything it recovered from disk). */
  async leadingAndCaughtUp(timeoutMs: number): Promise<void> {
    const target = this.log.lastIndex();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.assertUsable();
      const raft = this.coreStatus();
      if (raft.role === 'leader' && raft.commitIndex >= target && this.currentStore.lastApplied >= raft.commitIndex) return;
      if (Date.now() >= deadline) throw new StoreError('TIMEOUT', 'the node did not become leader and catch up in time');
      // Replaying: woken by the apply that reaches the commit index, not by polling.
      if (raft.role === 'leader' && raft.commitIndex >= target) await this.waitApplied(raft.commitIndex, deadline);
      else await sleep(1);
    }
  }

  get url(): string {
    return `http://${this.options.advertise}`;
  }

  /** Decides whether a peer's handshake is accepted: members, peers from the command line
   * and nodes being added may connect, and only with the data directory they had before. */
  private admitPeer(id: number, address: string, incarnation: string): true | string {
    if (this.core !== undefined) {
      const conf = this.core.status().conf;
      const configured = this.options.peers.some((p) => p.id === id || (p.id === undefined && p.address === address));
      const member = conf.voters.includes(id) || conf.learners.includes(id);
      if (!member && !configured && !this.pendingAddresses.has(id)) {
        return `node ${id} is not a member of this cluster: add it first (POST /cluster/members on the leader)`;
      }
    }
    return this.incarnations.check(id, incarnation);
  }

  /** Starts the transport, learns the bootstrap membership if needed, and starts ticking. */
  async start(): Promise<void> {
    this.transport.start();
    const identity = this.identity;
    let voters = identity.bootstrapVoters;
    const fresh = this.log.lastIndex() === 0 && this.log.hardState().term === 0 && this.log.snapshot() === null;
    if (fresh && voters.length === 0 && !this.options.join) {
      voters = await this.learnBootstrapVoters();
      this.identity = { ...identity, bootstrapVoters: voters };
      await writeJsonFileDurably(join(this.options.dataDir, 'node.json'), this.identity);
    }
    if (this.closed) return;
    const electionTicks = Math.max(2, Math.round(this.options.electionTimeoutMs / TICK_MS));
    const heartbeatTicks = Math.max(1, Math.round(this.options.heartbeatIntervalMs / TICK_MS));
    this.core = new RaftCore(
      {
        id: this.options.nodeId,
        heartbeatTicks,
        electionTicks,
        preVote: true,
        checkQuorum: true,
        maxEntriesPerMessage: 4096,
        maxBytesPerMessage: 4 * 1024 * 1024,
        maxInflight: 256,
        // Entries kept after a snapshot so that a follower a little behind catches up from
        // the log: at most one snapshot threshold's worth (the operator's bound on the log),
        // else a small threshold would never make a lagging follower take a snapshot.
        snapshotCatchUpEntries: Math.min(DEFAULT_SNAPSHOT_CATCH_UP_ENTRIES, Math.max(0, this.options.snapshotThreshold)),
        snapshotChunkBytes: 1024 * 1024,
        random: Math.random,
      },
      {
        hardState: this.log.hardState(),
        snapshot: this.log.snapshot()?.meta ?? null,
        entries: this.log.entries(this.log.firstIndex(), this.log.lastIndex() + 1),
        initialConf: { voters: [...voters], learners: [] },
      },
    );
    const snapshot = this.log.snapshot();
    if (snapshot !== null) this.core.snapshotTaken(snapshot);
    this.tickedUntil = performance.now();
    // Beyond a few election timeouts, more ticks change nothing: bound the catch-up loop.
    this.maxCatchUpTicks = electionTicks * 4;
    // setImmediate: after a stall, the messages already received (heartbeats, acks) are
    // stepped in the poll phase before the elapsed time is ticked, so a stall alone does
    // not make a follower campaign or a leader step down.
    this.ticker = setInterval(() => setImmediate(() => this.catchUpTicks()), TICK_MS);
    // The ticker alone must not keep a process alive (an embedded database left open).
    this.ticker.unref();
    // The only voter needs no election timeout: it wins at once.
    if (voters.length === 1 && voters[0] === this.options.nodeId) {
      this.guarded(() => this.core.campaign());
      this.scheduleReady();
    }
    this.logger.info({ voters, url: this.url }, 'raft node started');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ticker !== null) clearInterval(this.ticker);
    const closing = new StoreError('TIMEOUT', 'the node is shutting down; the outcome of this write is unknown');
    this.proposals.failAll(closing);
    this.failQueuedInserts(new StoreError('NO_LEADER', 'the node is shutting down; this write was not made'));
    for (const r of this.reads.values()) r.reject(closing);
    this.reads.clear();
    for (const wake of this.leaderWaiters) wake();
    while (this.processing) await new Promise((r) => setTimeout(r, 5));
    await this.transport.close();
    await this.incarnations.flush();
    await this.log.close();
  }

  // -- DatabaseBackend ------------------------------------------------------------------

  execute(command: Command, options: ExecuteOptions = {}): Promise<CommandResult> {
    // The common case, a leader with room for one more write, proposes at once; inserts
    // join the next shared entry (proposed when the next Ready is cut).
    if (!this.closed && this.fatal === null && this.core !== undefined && this.core.acceptsProposals() && this.proposals.hasRoom()) {
      if (options.validated === true && command.type === 'insert' && this.inserts.inFlight < MAX_PENDING_PROPOSALS) {
        const result = this.inserts.add(command, Date.now() + this.options.requestTimeoutMs);
        this.scheduleReady();
        return result;
      }
      const proposed = this.proposeNow(command, Date.now() + this.options.requestTimeoutMs, options.validated === true);
      if (proposed !== null) return proposed.result;
    }
    return this.executeEventually(command, options);
  }

  /** Proposes the inserts queued so far, in order, a group per entry. A group that cannot
   * be proposed here now (leadership lost, no room) takes the slow path as one command. */
  private proposeQueuedInserts(): void {
    if (!this.inserts.hasWork()) return;
    const deadline = Date.now() + this.options.requestTimeoutMs;
    for (const group of this.inserts.take(this.pacing.groupLimit(this.inserts.inFlight))) {
      try {
        const here = this.fatal === null && !this.closed && this.core.acceptsProposals() && this.proposals.hasRoom();
        const proposed = here ? this.proposeNow(group.command, deadline, true) : null;
        group.settle(proposed !== null ? proposed.result : this.executeEventually(group.command, { validated: true }));
      } catch (error) {
        // A broken invariant in the core (the node stops) or an unencodable command: this
        // group fails, the ones after it are still proposed or failed in turn.
        group.settle(Promise.reject(error instanceof Error ? error : new Error(String(error))));
      }
    }
  }

  /** Waits for room, a leader, or forwards to the leader, until the request times out. */
  private async executeEventually(command: Command, options: ExecuteOptions): Promise<CommandResult> {
    const deadline = Date.now() + this.options.requestTimeoutMs;
    for (;;) {
      this.assertUsable();
      const status = this.coreStatus();
      if (status.role === 'leader') {
        const proposed = await this.propose(command, deadline, options.validated === true);
        if (proposed !== null) return proposed.result;
      } else if (status.leader !== 0) {
        const reply = await this.forward(status.leader, { type: 'execute', command }, deadline);
        if ('result' in reply) {
          // Read-your-writes on this node: wait (bounded) until it has applied the entry too.
          await this.waitApplied(reply.index, deadline).catch(() => {});
          return reply.result;
        }
      }
      await this.waitForLeaderChange(deadline);
    }
  }

  async readBarrier(consistency: ReadConsistency): Promise<void> {
    if (consistency === 'local') return;
    const deadline = Date.now() + this.options.requestTimeoutMs;
    // The lease is counted in ticks: when the core has not been ticked for the real time
    // elapsed (the event loop stalled: GC, SIGSTOP), an expired lease would look valid, so
    // confirm through ReadIndex instead.
    const ticksBehind = (performance.now() - this.tickedUntil) / TICK_MS;
    if (consistency === 'lease' && this.core !== undefined && ticksBehind < 1 && this.core.leaseValid()) {
      await this.waitApplied(this.core.status().commitIndex, deadline);
      return;
    }
    await this.confirmRead(deadline);
  }

  /**
   * Reads share ReadIndex rounds: one round is in flight at a time, and every read that
   * arrives meanwhile joins the next one. The next round starts after those reads arrived,
   * so it still reflects every write acknowledged before them (linearizable), and a burst
   * of reads costs one heartbeat round instead of one each.
   */
  private confirmRead(deadline: number): Promise<void> {
    if (this.nextReadRound !== null) return this.nextReadRound;
    const previous = this.lastReadRound;
    const round = (async () => {
      await previous.catch(() => {});
      this.nextReadRound = null; // reads arriving from now on need a later round
      await this.readIndexRound(deadline);
    })();
    this.nextReadRound = round;
    this.lastReadRound = round;
    return round;
  }

  private async readIndexRound(deadline: number): Promise<void> {
    for (;;) {
      this.assertUsable();
      const context = ++this.readContext;
      const read = new Promise<void>((resolve, reject) => this.reads.set(context, { index: -1, resolve, reject }));
      if (this.core === undefined || !this.guarded(() => this.core.readIndex(context))) {
        this.reads.delete(context);
        await this.waitForLeaderChange(deadline);
        continue;
      }
      this.scheduleReady();
      // A ReadIndex can be lost with a message or a leader change: retry after two election timeouts.
      const retryAfter = Math.min(deadline - Date.now(), this.options.electionTimeoutMs * 2);
      const outcome = await Promise.race([read.then(() => 'done' as const), sleep(Math.max(0, retryAfter)).then(() => 'retry' as const)]);
      if (outcome === 'done') return;
      this.reads.delete(context);
      if (Date.now() >= deadline) throw new StoreError('TIMEOUT', 'the read could not be confirmed by a quorum in time');
    }
  }

  generateId(): string {
    return this.nextId();
  }

  status(): NodeStatus {
    const raft = this.coreStatus();
    const leaderUrl = raft.leader === 0 ? null : this.urlOf(raft.leader);
    const peerStats = new Map(this.transport.stats().map((s) => [s.id, s]));
    const progress = new Map(raft.progress.map((p) => [p.id, p]));
    const members: MemberStatus[] = [...raft.conf.voters.map((id) => [id, true] as const), ...raft.conf.learners.map((id) => [id, false] as const)].map(
      ([id, voter]) => {
        const self = id === this.options.nodeId;
        const match = self ? raft.lastIndex : (progress.get(id)?.matchIndex ?? 0);
        return {
          id,
          url: this.urlOf(id) ?? '',
          voter,
          matchIndex: match,
          lag: raft.role === 'leader' ? Math.max(0, raft.lastIndex - match) : 0,
          connected: self || (peerStats.get(id)?.connected ?? false),
        };
      },
    );
    const isLearner = raft.conf.learners.includes(this.options.nodeId);
    return {
      nodeId: this.options.nodeId,
      url: this.url,
      role: isLearner ? 'learner' : raft.role,
      term: raft.term,
      leader: leaderUrl === null ? null : { id: raft.leader, url: leaderUrl },
      commitIndex: raft.commitIndex,
      appliedIndex: this.currentStore.lastApplied,
      snapshotIndex: this.lastSnapshotIndex,
      lastLogIndex: raft.lastIndex,
      members,
    };
  }

  isReady(): boolean {
    // A node stopped by a failed write or a broken invariant is frozen: never ready.
    if (this.core === undefined || this.closed || this.fatal !== null) return false;
    const raft = this.core.status();
    return raft.leader !== 0 && this.currentStore.lastApplied >= raft.commitIndex;
  }

  subscribe(listener: (change: ChangeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async addMember(id: number, url: string, learner: boolean): Promise<void> {
    const address = addressOfUrl(url);
    if (!Number.isSafeInteger(id) || id <= 0) throw new ValidationError('id: a member id must be a positive integer');
    await this.onLeader({ type: 'addMember', id, url: address, learner }, async () => {
      this.pendingAddresses.set(id, address);
      this.transport.addPeer(id, address);
      const conf = this.core.status().conf;
      const deadline = Date.now() + this.options.requestTimeoutMs * 6;
      if (!conf.voters.includes(id) && !conf.learners.includes(id)) {
        await this.changeMembership({ type: 'addLearner', node: id }, deadline);
      }
      if (learner) return;
      // Promote only once the learner has caught up, so the new quorum can commit at once.
      await this.waitCaughtUp(id, deadline);
      await this.changeMembership({ type: 'addVoter', node: id }, deadline);
    });
  }

  async removeMember(id: number): Promise<void> {
    await this.onLeader({ type: 'removeMember', id }, async () => {
      const conf = this.core.status().conf;
      if (!conf.voters.includes(id) && !conf.learners.includes(id)) throw new StoreError('NOT_FOUND', `node ${id} is not a member`);
      await this.changeMembership({ type: 'remove', node: id }, Date.now() + this.options.requestTimeoutMs);
    });
  }

  async transferLeadership(to?: number): Promise<void> {
    const raft = this.coreStatus();
    if (raft.role !== 'leader') throw new StoreError('CONFLICT', 'only the leader can transfer leadership; send this to the leader');
    const target =
      to ??
      raft.progress
        .filter((p) => !p.learner)
        .sort((a, b) => b.matchIndex - a.matchIndex)[0]?.id;
    if (target === undefined || target === this.options.nodeId) throw new StoreError('CONFLICT', 'no other voter to transfer leadership to');
    if (!raft.conf.voters.includes(target)) throw new StoreError('CONFLICT', `node ${target} is not a voter`);
    if (!this.core.transferLeadership(target)) throw new StoreError('CONFLICT', `cannot transfer leadership to node ${target} now`);
    this.scheduleReady();
    const deadline = Date.now() + this.options.electionTimeoutMs * 4;
    while (this.coreStatus().leader !== target) {
      if (Date.now() >= deadline) throw new StoreError('CONFLICT', `node ${target} did not take over leadership in time`);
      await sleep(TICK_MS);
    }
  }

  async snapshot(): Promise<{ index: number; bytes: number }> {
    this.assertUsable();
    while (this.snapshotJob !== null) await this.snapshotJob.catch(() => 0);
    const bytes = await this.startSnapshot();
    return { index: this.lastSnapshotIndex, bytes };
  }

  // -- the Ready loop ----------------------------------------------------------------------

  /**
   * Ticks the core once per TICK_MS of real (monotonic) time elapsed since the last tick.
   * setInterval fires late, never early, and not at all while the event loop is stalled:
   * ticking once per callback would let the core's clock fall behind real time, and with
   * it the leader's lease and check-quorum, which must expire after an election timeout of
   * real time (the followers' clocks kept running).
   */
  private catchUpTicks(): void {
    if (this.core === undefined || this.closed || this.fatal !== null) return;
    const now = performance.now();
    if (now - this.lastExpirySweep >= 100) {
      this.lastExpirySweep = now;
      this.proposals.expire(Date.now());
      this.inserts.expire(Date.now(), () => new StoreError('NO_LEADER', 'the node could not propose this write in time (is its disk stalled?); it was not made'));
    }
    const due = Math.floor((now - this.tickedUntil) / TICK_MS);
    if (due <= 0) return;
    this.tickedUntil = due > this.maxCatchUpTicks ? now : this.tickedUntil + due * TICK_MS;
    this.guarded(() => {
      for (let i = Math.min(due, this.maxCatchUpTicks); i > 0; i--) this.core.tick();
    });
    this.scheduleReady();
  }

  private onMessage(message: Message): void {
    if (this.core === undefined || this.closed || this.fatal !== null) return;
    this.guarded(() => this.core.step(message));
    this.scheduleReady();
  }

  /** Runs a call into the core. The core throws only when an invariant broke: then its
   * state cannot be trusted and the node stops, rather than carry on half-updated. */
  private guarded<T>(call: () => T): T {
    try {
      return call();
    } catch (error) {
      this.stopOnFatal(error);
      throw error;
    }
  }

  private stopOnFatal(error: unknown): void {
    if (this.fatal !== null) return;
    this.fatal = error instanceof Error ? error : new Error(String(error));
    if (this.ticker !== null) clearInterval(this.ticker);
    this.logger.fatal({ err: this.fatal }, 'raft node stopped: a write to the log failed or an invariant broke');
    this.proposals.failAll(new StoreError('TIMEOUT', `node failed: ${this.fatal.message}`));
    this.failQueuedInserts(new StoreError('NO_LEADER', `the node failed before this write was proposed (it was not made): ${this.fatal.message}`));
    // Stop talking to peers: a frozen node must not look like a live member.
    void this.transport.close();
    for (const listener of this.fatalListeners) listener(this.fatal);
  }

  /** Calls `listener` once if the node stops on a fatal error (failed fsync, broken invariant).
   * A process running one node should exit then, so that a supervisor restarts it. */
  onFatal(listener: (error: Error) => void): void {
    if (this.fatal !== null) listener(this.fatal);
    else this.fatalListeners.push(listener);
  }

  /** Inserts queued and never proposed: they were not made. */
  private failQueuedInserts(error: Error): void {
    for (const group of this.inserts.take(Infinity)) group.settle(Promise.reject(error));
  }

  /** Feeds the pacing with how busy the event loop was during the Ready cycle just done. */
  private measureCycle(): void {
    const now = performance.eventLoopUtilization();
    const cycle = performance.eventLoopUtilization(now, this.cycleMark);
    this.cycleMark = now;
    this.pacing.cycle(cycle.active, cycle.idle);
  }

  private scheduleReady(): void {
    if (this.readyScheduled || this.closed) return;
    this.readyScheduled = true;
    // setImmediate: proposals and messages that arrive in the same turn share one append.
    setImmediate(() => {
      this.readyScheduled = false;
      void this.processReady();
    });
  }

  private async processReady(): Promise<void> {
    if (this.processing || this.core === undefined || this.fatal !== null) return;
    this.processing = true;
    try {
      // Under steady load this loop may never run dry: snapshots are checked and handed to the
      // core between two Ready cycles, not only once it stops.
      this.maintainSnapshots();
      this.proposeQueuedInserts();
      while (!this.closed && this.core.hasReady()) {
        await this.handleReady(this.core.ready(this.pacing.budget(this.core.committedBacklog())));
        this.core.advance();
        this.measureCycle();
        this.maintainSnapshots();
        this.proposeQueuedInserts();
      }
    } catch (error) {
      // A failed fsync or a broken invariant: nothing about this node's state can be trusted.
      this.stopOnFatal(error);
    } finally {
      this.processing = false;
    }
    if (!this.closed && this.fatal === null && (this.core.hasReady() || this.inserts.hasWork())) this.scheduleReady();
  }

  private async handleReady(rd: Ready): Promise<void> {
    // Thesis 10.2.1: the leader may send AppendEntries while it writes the same entries
    // itself (it counts itself for commit only once durable). Everything else (votes,
    // acks) leaves only after the state it depends on is durable.
    // Only when this Ready does not change the term or vote: a single voter becomes leader
    // in the same Ready that raises its term, and must not replicate before that is durable.
    const durable = this.log.hardState();
    const termDurable = rd.hardState === null || (rd.hardState.term === durable.term && rd.hardState.vote === durable.vote);
    const early: Message[] = [];
    const late: Message[] = [];
    for (const m of rd.messages) {
      const replication = m.type === 'AppendEntries' || m.type === 'Heartbeat';
      (termDurable && rd.softState.role === 'leader' && replication ? early : late).push(m);
    }
    for (const m of early) this.transport.send(m);
    if (rd.snapshot !== null) {
      const snapshot = rd.snapshot;
      await this.writeSnapshot(() => this.log.installSnapshot(snapshot.meta, snapshot.data));
      this.installSnapshot(snapshot);
    }
    const writes: Promise<void>[] = [];
    if (rd.entries.length > 0) writes.push(this.log.append(rd.entries));
    if (rd.hardState !== null) {
      const written = this.log.setHardState(rd.hardState);
      // Term and vote must be durable before anything that depends on them leaves; a new
      // commit index need not be (after a crash it is learned again from the leader, or,
      // alone, by committing the new term's first entry), so it rides along with the next
      // write instead of costing a disk flush of its own.
      if (termDurable) written.catch((error: unknown) => this.stopOnFatal(error));
      else writes.push(written);
    }

    // Committed entries are already durable here (the core hands out only stable ones), so
    // they are applied while this Ready's new entries are being written, not after: the log
    // starts its write (on the next turn of the event loop) before the CPU goes to applying.
    if (rd.entries.length > 0 && rd.committedEntries.length > 0) await nextTurn();
    for (const entry of rd.committedEntries) this.apply(entry);
    for (const rs of rd.readStates) {
      const read = this.reads.get(rs.context);
      if (read !== undefined) read.index = rs.index;
    }
    this.serveReads();
    this.wakeAppliedWaiters();
    if (rd.softState.leader !== this.knownLeader) {
      this.knownLeader = rd.softState.leader;
      this.logger.info({ leader: rd.softState.leader, role: rd.softState.role }, 'leader changed');
      for (const wake of this.leaderWaiters) wake();
      this.leaderWaiters.clear();
    }

    await Promise.all(writes);
    for (const m of late) this.transport.send(m);
  }

  private installSnapshot(snapshot: Snapshot): void {
    this.currentStore = Store.restoreSnapshot(snapshot.data, this.options.limits);
    this.lastSnapshotIndex = snapshot.meta.index;
    this.syncPeers(snapshot.meta.conf.voters.concat(snapshot.meta.conf.learners));
    // Proposals at or below the snapshot were decided elsewhere; their outcome is unknown here.
    this.proposals.failUpTo(
      snapshot.meta.index,
      new StoreError('TIMEOUT', 'the outcome of this write is unknown (the node installed a snapshot past it)'),
    );
    this.logger.info({ index: snapshot.meta.index }, 'installed snapshot from the leader');
  }

  private apply(entry: Entry): void {
    let result: CommandResult = { ok: true, value: null };
    if (entry.type === 'normal') {
      const proposed = this.proposals.commandAt(entry);
      let command: Command;
      try {
        command = proposed ?? decodeCommand(entry.data);
      } catch (error) {
        // Every replica fails the same way on the same bytes: deterministic.
        const message = error instanceof Error ? error.message : String(error);
        this.currentStore.apply({ type: 'noop' }, entry.index);
        this.proposals.settle(entry, { ok: false, error: { code: 'VALIDATION', message } });
        return;
      }
      result = this.currentStore.apply(command, entry.index, proposed !== undefined ? DOCUMENTS_COPIED : undefined);
      if (this.listeners.size > 0) {
        for (const change of changesOf(command, result, entry.index)) for (const listener of this.listeners) listener(change);
      }
    } else {
      this.currentStore.apply({ type: 'noop' }, entry.index);
      if (entry.type === 'conf') this.applyConf(entry);
    }
    this.proposals.settle(entry, result);
  }

  private applyConf(entry: Entry): void {
    const { change, conf } = decodeConfEntry(entry.data);
    if (change.type === 'remove') {
      this.incarnations.forget(change.node);
      if (change.node !== this.options.nodeId) this.transport.removePeer(change.node);
      else this.logger.warn('this node was removed from the cluster');
    }
    this.syncPeers(conf.voters.concat(conf.learners));
    this.logger.info({ change, conf }, 'membership changed');
  }

  /** Makes sure the transport dials every member whose address we know. */
  private syncPeers(members: readonly number[]): void {
    const known = new Set(this.transport.peerIds());
    for (const id of members) {
      if (id === this.options.nodeId || known.has(id)) continue;
      const address = this.pendingAddresses.get(id);
      if (address !== undefined) this.transport.addPeer(id, address);
    }
  }

  private serveReads(): void {
    const applied = this.currentStore.lastApplied;
    for (const [context, read] of this.reads) {
      if (read.index >= 0 && read.index <= applied) {
        this.reads.delete(context);
        read.resolve();
      }
    }
  }

  private wakeAppliedWaiters(): void {
    const applied = this.currentStore.lastApplied;
    for (let i = this.applyWaiters.length - 1; i >= 0; i--) {
      const waiter = this.applyWaiters[i]!;
      if (waiter.index <= applied) {
        this.applyWaiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  /**
   * A snapshot every `snapshotThreshold` applied entries keeps the log short. Not while
   * replaying the log found at start: those entries are on disk already, and a snapshot
   * every threshold of a growing state would cost more than the replay (one is taken at the end).
   */
  private snapshotDue(): boolean {
    const applied = this.currentStore.lastApplied;
    return (
      !this.closed &&
      this.options.snapshotThreshold > 0 &&
      applied >= this.recoveredLastIndex &&
      applied - this.lastSnapshotIndex >= this.options.snapshotThreshold
    );
  }

  /**
   * Takes a snapshot of the applied state in the background: the capture is instant (it
   * holds references to immutable documents), the encoding yields to the event loop between
   * parts, so heartbeats, votes and writes go on meanwhile (a 1,000,000-document encoding in
   * one piece would stall the node for longer than an election timeout).
   */
  /** Snapshot files are written one at a time: ours in the background, the leader's in a Ready. */
  private writeSnapshot<T>(write: () => Promise<T>): Promise<T> {
    const result = this.snapshotWrites.then(write);
    this.snapshotWrites = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private startSnapshot(): Promise<number> {
    if (this.snapshotJob !== null) return this.snapshotJob;
    const job = this.takeSnapshot().finally(() => {
      this.snapshotJob = null;
    });
    this.snapshotJob = job;
    return job;
  }

  private async takeSnapshot(): Promise<number> {
    // Captured on the next turn of the event loop, not inside the Ready cycle that made it
    // due: whoever waits for that cycle (open() after a replay) goes on first.
    await nextTurn();
    if (this.closed) return 0;
    const capture = this.currentStore.captureSnapshot();
    const index = capture.lastApplied;
    if (index <= this.lastSnapshotIndex) return 0;
    const meta = this.core.snapshotMeta(index);
    const parts: Uint8Array[] = [];
    let bytes = 0;
    for (const part of snapshotParts(capture)) {
      parts.push(part);
      bytes += part.byteLength;
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.closed) return 0;
    }
    const data = Buffer.concat(parts, bytes);
    const written = await this.writeSnapshot(async () => {
      // Closing, or a snapshot received from the leader meanwhile is newer (compared with what
      // is on disk, not with a field another continuation updates): this one is not needed.
      if (this.closed || index <= (this.log.snapshot()?.meta.index ?? 0)) return false;
      await this.log.installSnapshot(meta, data);
      return true;
    });
    if (!written) return 0;
    this.lastSnapshotIndex = index;
    this.logger.info({ index, bytes: data.byteLength }, 'snapshot taken, log compacted');
    // The core takes it between two Ready cycles, never in the middle of one.
    this.snapshotForCore = { meta, data };
    if (!this.processing) this.maintainSnapshots();
    return data.byteLength;
  }

  /** Between Ready cycles: hands a written snapshot to the core (which then compacts its
   * in-memory log and can send it to followers), and starts the next one when due. */
  private maintainSnapshots(): void {
    const taken = this.snapshotForCore;
    if (taken !== null) {
      this.snapshotForCore = null;
      this.guarded(() => this.core.snapshotTaken(taken));
    }
    if (this.snapshotDue() && this.snapshotJob === null) {
      this.startSnapshot().catch((error: unknown) => {
        if (!this.closed) this.stopOnFatal(error);
      });
    }
  }

  // -- helpers -------------------------------------------------------------------------------

  /** Appends the command if this node leads (null otherwise); `result` settles once the
   * entry is applied here, or fails. */
  private async propose(command: Command, deadline: number, validated: boolean): Promise<Proposed | null> {
    // Bound the writes in flight: beyond, callers wait for a slot instead of growing memory.
    await this.proposals.room();
    this.assertUsable();
    return this.proposeNow(command, deadline, validated);
  }

  /** Appends the command if this node leads (null otherwise); `result` settles once the
   * entry is applied here, or fails. */
  private proposeNow(command: Command, deadline: number, validated: boolean): Proposed | null {
    // Queued inserts were asked for first: they go into the log first.
    if (this.inserts.hasWork()) this.proposeQueuedInserts();
    const data = encodeCommand(command);
    if (!this.core.acceptsProposals()) return null;
    const index = this.guarded(() => this.core.propose(data));
    if (index === null) return null;
    this.scheduleReady();
    // An insert whose documents were validated and copied for this write is applied here as
    // the object it is (its bytes decode to an equal one on every replica); anything else
    // is decoded from the log like on every other node.
    const reuse = validated && (command.type === 'insert' || command.type === 'batch') ? command : undefined;
    return { index, result: this.proposals.track(index, this.core.currentTerm(), deadline, reuse) };
  }

  private async forward(leader: number, request: ForwardedRequest, deadline: number): Promise<ForwardedReply> {
    try {
      return (await this.transport.request(leader, request, Math.max(1, deadline - Date.now()))) as ForwardedReply;
    } catch (error) {
      const code = (error as { remoteCode?: string; code?: string }).remoteCode;
      const message = error instanceof Error ? error.message : String(error);
      if (code !== undefined && code !== 'TIMEOUT' && code !== 'NO_LEADER') {
        throw new StoreError(isErrorCode(code) ? code : 'BAD_REQUEST', message);
      }
      throw new StoreError('TIMEOUT', `forwarding to the leader (node ${leader}) failed, the outcome is unknown: ${message}`);
    }
  }

  /** Handles a request a follower forwarded to us (we are, or were, the leader). */
  private async onForwarded(_from: number, body: unknown): Promise<ForwardedReply> {
    const request = body as ForwardedRequest;
    if (this.core === undefined || this.coreStatus().role !== 'leader') return { notLeader: true };
    switch (request.type) {
      case 'execute': {
        validateCommand(request.command);
        // Validated above; decoded from the peer's bytes, so nobody else holds it.
        const proposed = await this.propose(request.command, Date.now() + this.options.requestTimeoutMs, true);
        if (proposed === null) return { notLeader: true };
        return { result: await proposed.result, index: proposed.index };
      }
      case 'addMember':
        await this.addMember(request.id, `http://${request.url}`, request.learner);
        return { done: true };
      case 'removeMember':
        await this.removeMember(request.id);
        return { done: true };
      default:
        throw new ValidationError('unknown forwarded request');
    }
  }

  /** Runs `work` here if we lead; otherwise forwards `request` to the leader. */
  private async onLeader(request: ForwardedRequest, work: () => Promise<void>): Promise<void> {
    const deadline = Date.now() + this.options.requestTimeoutMs;
    for (;;) {
      this.assertUsable();
      const status = this.coreStatus();
      if (status.role === 'leader') return work();
      if (status.leader !== 0) {
        const reply = await this.forward(status.leader, request, deadline + this.options.requestTimeoutMs * 6);
        if (!('notLeader' in reply)) return;
      }
      await this.waitForLeaderChange(deadline);
    }
  }

  private async changeMembership(change: ConfChange, deadline: number): Promise<void> {
    for (;;) {
      const term = this.core.status().term;
      const index = this.core.proposeConfChange(change);
      if (index !== null) {
        this.scheduleReady();
        await this.proposals.track(index, term, deadline);
        return;
      }
      if (this.coreStatus().role !== 'leader') throw new StoreError('NO_LEADER', 'lost leadership during a membership change; retry');
      if (Date.now() >= deadline) throw new StoreError('CONFLICT', 'another membership change is still in progress');
      await sleep(TICK_MS * 5);
    }
  }

  private async waitCaughtUp(id: number, deadline: number): Promise<void> {
    for (;;) {
      const raft = this.coreStatus();
      const match = raft.progress.find((p) => p.id === id)?.matchIndex ?? 0;
      if (match >= raft.commitIndex) return;
      if (Date.now() >= deadline) throw new StoreError('TIMEOUT', `node ${id} did not catch up in time; it stays a learner`);
      await sleep(TICK_MS * 5);
    }
  }

  private waitApplied(index: number, deadline: number): Promise<void> {
    if (this.currentStore.lastApplied >= index) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new StoreError('TIMEOUT', 'this node did not apply the entry in time')), Math.max(0, deadline - Date.now()));
      this.applyWaiters.push({
        index,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  private async waitForLeaderChange(deadline: number): Promise<void> {
    const remaining = deadline - Date.now();
    if (remaining <= 0 || this.closed) {
      throw new StoreError('NO_LEADER', 'no leader is available; retry later');
    }
    await new Promise<void>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.leaderWaiters.delete(wake);
        resolve();
      };
      // Poll too: a leader can be known without a change event (e.g. this node became a follower of the same leader).
      const timer = setTimeout(wake, Math.min(remaining, 50));
      this.leaderWaiters.add(wake);
    });
  }

  private coreStatus(): RaftStatus {
    if (this.core === undefined) throw new StoreError('NO_LEADER', 'the node is still starting');
    return this.core.status();
  }

  private assertUsable(): void {
    if (this.closed) throw new StoreError('NO_LEADER', 'the node is shutting down');
    if (this.fatal !== null) throw new StoreError('TIMEOUT', `the node failed: ${this.fatal.message}`);
  }

  private urlOf(id: number): string | null {
    if (id === this.options.nodeId) return this.url;
    const address = this.transport.addressOf(id) ?? this.pendingAddresses.get(id);
    return address === undefined ? null : `http://${address}`;
  }

  /** Waits until every configured peer told us its id (when --peers gave only addresses). */
  private async learnBootstrapVoters(): Promise<number[]> {
    const wanted = this.options.peers.length;
    let lastLog = 0;
    for (;;) {
      const ids = this.transport
        .stats()
        .map((s) => s.id)
        .filter((id) => id > 0);
      const known = [...new Set([...this.options.peers.flatMap((p) => (p.id !== undefined ? [p.id] : [])), ...ids])];
      if (known.length >= wanted) return [this.options.nodeId, ...known].sort((a, b) => a - b);
      if (this.closed) return [];
      if (Date.now() - lastLog > 3000) {
        lastLog = Date.now();
        this.logger.info(`waiting for peers to answer (${known.length}/${wanted} known) to learn the cluster's members`);
      }
      await sleep(20);
    }
  }

}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function addressOfUrl(url: string): string {
  try {
    const parsed = new URL(url.includes('://') ? url : `http://${url}`);
    if (parsed.port === '') throw new Error('no port');
    return `${parsed.hostname}:${parsed.port}`;
  } catch {
    throw new ValidationError(`url: ${JSON.stringify(url)} is not a node address such as http://127.0.0.1:8083`);
  }
}

const ERROR_CODES = new Set(['BAD_REQUEST', 'VALIDATION', 'NOT_FOUND', 'CONFLICT', 'PRECONDITION_FAILED', 'NO_LEADER', 'TIMEOUT', 'PAYLOAD_TOO_LARGE', 'UNAUTHORIZED']);
function isErrorCode(code: string): code is StoreError['code'] {
  return ERROR_CODES.has(code);
}
