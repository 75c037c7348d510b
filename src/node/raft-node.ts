// RaftNode drives the pure Raft core with real time, a real disk and real peers:
// a timer ticks the core; messages from the transport are stepped in; each
// ready() is persisted (fsync before any vote or ack leaves), sent, applied to
// the store in log order, and acknowledged with advance(). Proposals resolve
// with their command's result once applied here; followers forward writes to
// the leader. It implements DatabaseBackend, so the HTTP server can serve it.
//
// A RaftNode is only ever built whole, its core made from the recovered log: a cluster
// node is opened, and its bootstrap voters learned, by a ClusterNode (cluster-node.ts)
// before RaftNode.start() builds it; the embedded database's RaftNode.standalone() needs
// neither.
//
// This file holds the Ready loop and the wiring; the parts it drives live beside it:
// node-startup (opening, bootstrap, the core), node-writes (the write path),
// node-reads (ReadIndex), node-membership, node-forwarding, node-snapshots,
// node-status and node-waiting.
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { LogStorage } from '../log/types.ts';
import { readyDurability, ticksFirst, type RaftCore } from '../raft/index.ts';
import type { Entry, Message, RaftStatus, Ready, Snapshot } from '../raft/types.ts';
import { NewerApplyRulesError, type Command, type CommandResult } from '../store/commands.ts';
import { assert } from '../assert.ts';
import { StoreError } from '../store/errors.ts';
import { createIdGenerator } from '../store/ids.ts';
import { Store } from '../store/store.ts';
import type { IdempotencyTag, SessionLookup } from '../store/sessions.ts';
import { pooledRandomBytes } from './random-pool.ts';
import type { ChangeEvent, DatabaseBackend, ExecuteOptions, NodeStatus, ReadConsistency } from './backend.ts';
import { ChangeFeed } from './change-log.ts';
import { decodeCommand } from './command-codec.ts';
import { releaseMsgpackSource } from '../msgpack-source.ts';
import { PeerIncarnations } from './peer-incarnations.ts';
import { MessageSanity, NoPeers, type LocalRaftView, type PeerNetwork } from './peer-network.ts';
import { PendingProposals } from './pending-proposals.ts';
import { ApplyPacing } from './apply-pacing.ts';
import { InsertCoalescer } from './insert-coalescer.ts';
import { LeaderContact } from './leader-contact.ts';
import { LOOP_PROBE_MS, LoopStalls, threadClocks, type LoopStall } from './loop-stalls.ts';
import { throttledWarning } from './warning-throttle.ts';
import { lostEntriesIn } from './lost-entries.ts';
import { forwardToLeader, serveForwarded, type ForwardedReply, type ForwardedRequest, type ForwardedServer } from './node-forwarding.ts';
import { ClusterMembership } from './node-membership.ts';
import { ReadIndexReads } from './node-reads.ts';
import { FOLLOWER_LAG_ENTRIES_MAX } from './catch-up.ts';
import { NodeSnapshots } from './node-snapshots.ts';
import { createRaftCore, recoveredStore, standaloneSetup, type PeerHandlers } from './node-startup.ts';
import { describeNode } from './node-status.ts';
import type { ClusterEvents } from './cluster-events.ts';
import { NodeMetrics, type RaftMetricsReport } from './node-metrics.ts';
import { AppliedWaiters, LeaderWaiters, nextTurn, sleep, unlessReadTimeout } from './node-waiting.ts';
import { MAX_PENDING_PROPOSALS, WritePath } from './node-writes.ts';
import type { WriteTrace } from './write-trace.ts';
import { TICK_MS, type RaftNodeOptions, type StandaloneOptions } from './raft-node-options.ts';

export { STANDALONE_NODE_ID, type RaftNodeOptions, type StandaloneOptions } from './raft-node-options.ts';

/** How long close() waits at most for the Ready cycle under way (its log write) to finish. */
export const CLOSE_WAIT_MS_MAX = 10_000;

// The ticker drives the loop-stall probe (startTicking).
assert(LOOP_PROBE_MS === TICK_MS, 'the loop-stall probe samples on the tick timer');

/** Longest stretch of applying committed entries without yielding to the event loop. */
export const APPLY_SLICE_MS = 10;

/** Everything a RaftNode is made of, ready before it is built. */
export interface RaftNodeParts {
  readonly options: RaftNodeOptions;
  readonly log: LogStorage;
  /** The peers: in a cluster, the transport opened (and started) before the node. */
  readonly transport: PeerNetwork;
  /** Points what the transport receives at the node; called once, by the constructor. */
  readonly bindPeers: (handlers: PeerHandlers) => void;
  readonly incarnations: PeerIncarnations;
  readonly logger: Logger;
  /** The voters to bootstrap the membership with when the log holds none. */
  readonly voters: readonly number[];
  /** The store recovered from the log's snapshot (see recoveredStore). */
  readonly store: Store;
  /** The retained change log and its listeners (some may have subscribed before the node was built). */
  readonly changes: ChangeFeed;
  readonly nextId: () => string;
}

export class RaftNode implements DatabaseBackend {
  readonly transport: PeerNetwork;
  private readonly core: RaftCore;
  private readonly options: RaftNodeOptions;
  private readonly log: LogStorage;
  private readonly incarnations: PeerIncarnations;
  private readonly logger: Logger;
  private currentStore: Store;
  private readonly proposals = new PendingProposals(MAX_PENDING_PROPOSALS);
  private readonly pacing = new ApplyPacing();
  private readonly inserts = new InsertCoalescer(MAX_PENDING_PROPOSALS);
  /** Gaps between the messages the leader sends this node (GET /cluster/status). */
  private readonly leaderContact = new LeaderContact();
  /** How long this node's own work holds its event loop, apart from waiting for a core. */
  private readonly loopStalls: LoopStalls;
  /** Drops members' messages no honest member sends (peer-network.ts), before the core. */
  private readonly messageSanity: MessageSanity;
  private readonly localView: LocalRaftView = { term: () => this.core.currentTerm(), lastIndex: () => this.core.lastIndex() };
  /** Event-loop utilization at the end of the last Ready cycle (for pacing). */
  private cycleMark: EventLoopUtilization = performance.eventLoopUtilization();
  private readonly applyWaiters = new AppliedWaiters(() => this.currentStore.lastApplied);
  private readonly leaderWaiters = new LeaderWaiters(() => this.closed);
  readonly changes: ChangeFeed;
  private readonly fatalListeners: Array<(error: Error) => void> = [];
  private readonly nextId: () => string;
  private readonly writes: WritePath;
  private readonly reads: ReadIndexReads;
  private readonly membership: ClusterMembership;
  private readonly snapshots: NodeSnapshots;
  /** Raft metrics and cluster events (GET /cluster/metrics, /cluster/events, /metrics). */
  private readonly metrics: NodeMetrics;
  /** What a follower's forwarded requests are served with. */
  private readonly forwardedServer: ForwardedServer;
  private ticker: NodeJS.Timeout | null = null;
  /** performance.now() up to which real time has been turned into core ticks. */
  private tickedUntil = 0;
  /** Beyond a few election timeouts, more ticks change nothing: bounds the catch-up loop. */
  private readonly maxCatchUpTicks: number;
  private lastExpirySweep = 0;
  private readyScheduled = false;
  private processing = false;
  private closed = false;
  private fatal: Error | null = null;
  private knownLeader = 0;
  /** Entries of this Ready were decoded from the log (not applied from their proposal). */
  private decodedCommands = false;
  /** Where sampled writes spend their time (RaftNodeOptions.writeTrace); null: off. */
  private readonly trace: WriteTrace | null;

  private constructor(parts: RaftNodeParts) {
    const { options, log, incarnations, logger } = parts;
    this.options = options;
    this.trace = options.writeTrace ?? null;
    this.log = log;
    this.incarnations = incarnations;
    this.logger = logger;
    this.loopStalls = new LoopStalls(threadClocks(), options.warnLoopStalls === true ? this.loopStallWarner() : undefined);
    this.messageSanity = new MessageSanity(logger);
    this.transport = parts.transport;
    this.currentStore = parts.store;
    this.changes = parts.changes;
    // The changes inside the recovered snapshot are unknown: the retained log starts after it.
    this.changes.restartAt(parts.store.lastApplied);
    // The recovered log is applied again: only its last entries' changes can stay retained.
    this.changes.skipReplayedBefore(log.lastIndex());
    this.nextId = parts.nextId;
    const { core, electionTicks } = createRaftCore(options, log, parts.voters);
    this.core = core;
    this.maxCatchUpTicks = electionTicks * 4;
    const snapshot = log.snapshot();
    if (snapshot !== null) core.snapshotTaken(snapshot);
    // What the parts beside this file use of the node: each takes the few members its own
    // interface names.
    const host = {
      nodeId: options.nodeId,
      url: this.url,
      peers: options.peers,
      requestTimeoutMs: options.requestTimeoutMs,
      logTimeMs: (): number => this.currentStore.logTimeMs,
      sessionLookup: (tag: IdempotencyTag): SessionLookup => this.currentStore.sessions.lookup(tag),
      electionTimeoutMs: options.electionTimeoutMs,
      snapshotThreshold: options.snapshotThreshold,
      transport: this.transport,
      incarnations,
      proposals: this.proposals,
      log,
      logger,
      trace: this.trace,
      core: (): RaftCore => core,
      coreStatus: (): RaftStatus => this.coreStatus(),
      store: (): Store => this.currentStore,
      isClosed: (): boolean => this.closed,
      hasFailed: (): boolean => this.fatal !== null,
      isProcessing: (): boolean => this.processing,
      assertUsable: (): void => this.assertUsable(),
      guarded: <T>(call: () => T): T => this.guarded(call),
      snapshotTaken: (index: number, bytes: number): void => this.metrics.snapshotTaken(index, bytes),
      scheduleReady: (): void => this.scheduleReady(),
      stopOnFatal: (error: unknown): void => this.stopOnFatal(error),
      forward: (leader: number, request: ForwardedRequest, deadline: number): Promise<ForwardedReply> =>
        forwardToLeader(this.transport, leader, request, deadline),
      waitApplied: (index: number, deadline: number): Promise<void> => this.applyWaiters.wait(index, deadline),
      waitForLeaderChange: (deadline: number): Promise<void> => this.leaderWaiters.wait(deadline),
      // Serving a follower's forwarded requests:
      isLeader: (): boolean => this.coreStatus().role === 'leader',
      propose: (command: Command, deadline: number, validated: boolean) => this.writes.propose(command, deadline, validated),
      addMember: (id: number, url: string, learner: boolean): Promise<void> => this.addMember(id, url, learner),
      removeMember: (id: number): Promise<void> => this.removeMember(id),
      setMemberAddress: (id: number, address: string): Promise<void> => this.setMemberAddress(id, address),
      transferLeadership: (to?: number): Promise<void> => this.transferLeadership(to),
    };
    this.forwardedServer = host;
    this.writes = new WritePath(host, this.proposals, this.inserts, this.pacing);
    this.reads = new ReadIndexReads(host);
    this.membership = new ClusterMembership(host);
    this.snapshots = new NodeSnapshots(host, snapshot?.meta.index ?? 0, log.lastIndex());
    this.metrics = new NodeMetrics({ nodeId: options.nodeId, logger, status: () => this.status(), currentTerm: () => core.currentTerm() });
    parts.bindPeers({
      onMessage: (message) => this.onMessage(message),
      onRequest: (_from, body) => serveForwarded(this.forwardedServer, body),
      isKnownPeer: (id, address, incarnation) => this.membership.admitPeer(id, address, incarnation),
    });
  }

  /** Builds a node from its parts, and starts it: ticking, and campaigning at once when it is the only voter. */
  static start(parts: RaftNodeParts): RaftNode {
    const node = new RaftNode(parts);
    node.startTicking(parts.voters);
    // Dial every member where the replicated configuration says it is, and record this
    // node's own address there if it differs (a group of one has no peers to tell).
    node.membership.syncPeers();
    if (!(parts.transport instanceof NoPeers)) node.membership.registerOwnAddress();
    return node;
  }

  /**
   * A group of one over an already open log, with no peers: the embedded database, started.
   * It bootstraps as its only voter and becomes leader at once; every write still goes
   * through the Raft log, the one write path.
   */
  static standalone(log: LogStorage, options: StandaloneOptions): RaftNode {
    const { nodeOptions, voters } = standaloneSetup(options);
    const store = recoveredStore(log, nodeOptions.limits);
    // A group of one never sends its snapshot, and its store holds the state the snapshot
    // describes: the snapshot's bytes stay in their file (half the memory of a database).
    log.releaseSnapshotData?.();
    return RaftNode.start({
      options: nodeOptions,
      log,
      transport: new NoPeers(),
      bindPeers: () => {},
      incarnations: PeerIncarnations.inMemory(),
      logger: options.logger,
      voters,
      store,
      changes: new ChangeFeed(),
      nextId: createIdGenerator(Date.now, pooledRandomBytes()),
    });
  }

  get store(): Store {
    return this.currentStore;
  }

  /** The durable log's extent, and warnings from its recovery at open. */
  logInfo(): { firstIndex: number; lastIndex: number; snapshotIndex: number; warnings: readonly string[] } {
    return {
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      snapshotIndex: this.snapshots.lastIndex,
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
      if (Date.now() >= deadline) throw new StoreError('NO_LEADER', 'the node did not become leader and catch up in time');
      // Replaying: woken by the apply that reaches the commit index, not by polling. At the
      // deadline the wait gives up (READ_TIMEOUT) and the check above says what happened.
      if (raft.role === 'leader' && raft.commitIndex >= target) await this.applyWaiters.wait(raft.commitIndex, deadline).catch(unlessReadTimeout);
      else await sleep(1);
    }
  }

  get url(): string {
    return `${this.options.urlScheme ?? 'http'}://${this.options.advertise}`;
  }

  /** Starts ticking the core (once, by start()); the only voter campaigns at once. */
  private startTicking(voters: readonly number[]): void {
    assert(this.ticker === null, 'the node ticks already');
    this.tickedUntil = performance.now();
    // setImmediate: after a stall, the messages already received are stepped in the poll
    // phase before the elapsed time is ticked, so a stall alone does not make a leader step
    // down (its followers' acks count first). A node that does not lead ticks the stall before
    // it steps them (onMessage): its promise to a leader starts at the heartbeat.
    // The loop-stall probe samples on the same timer (LOOP_PROBE_MS = TICK_MS): one wakeup of
    // the process per tick instead of two, which a busy 2-core machine feels.
    this.ticker = setInterval(() => {
      this.loopStalls.sample();
      setImmediate(() => this.catchUpTicks());
    }, TICK_MS);
    // The ticker alone must not keep a process alive (an embedded database left open).
    this.ticker.unref();
    this.loopStalls.start('caller');
    // The only voter needs no election timeout: it wins at once.
    if (voters.length === 1 && voters[0] === this.options.nodeId) {
      this.guarded(() => this.core.campaign());
      this.scheduleReady();
    }
    this.metrics.start();
    this.logger.info({ voters, url: this.url }, 'raft node started');
  }

  /**
   * Stops the node: fails what waits on it, lets the Ready cycle under way finish (its
   * writes are in the log's hands), then closes the transport, the peers' incarnations and
   * the log. Bounded: when that cycle does not finish within `closeWaitMsMax` (a stalled
   * disk), the transport is closed, the log is left to the write that still holds it, and
   * close() rejects with NODE_FAILED; the process should exit then.
   */
  async close(closeWaitMsMax: number = CLOSE_WAIT_MS_MAX): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ticker !== null) clearInterval(this.ticker);
    this.loopStalls.stop();
    this.metrics.stop();
    this.proposals.failAll(new StoreError('COMMIT_UNKNOWN', 'the node is shutting down; the outcome of this write is unknown'));
    this.writes.failQueuedInserts(new StoreError('NO_LEADER', 'the node is shutting down; this write was not made'));
    const closing = new StoreError('NO_LEADER', 'the node is shutting down');
    this.reads.rejectAll(closing);
    this.applyWaiters.rejectAll(closing);
    this.leaderWaiters.wakeAll();
    const waitedUntil = performance.now() + closeWaitMsMax;
    while (this.processing && performance.now() < waitedUntil) await sleep(5);
    await this.transport.close();
    if (this.processing)
      throw new StoreError('NODE_FAILED', `the node did not finish its log write within ${closeWaitMsMax} ms of close (a stalled disk?)`);
    await this.incarnations.flush();
    await this.log.close();
  }

  // -- DatabaseBackend ------------------------------------------------------------------

  execute(command: Command, options: ExecuteOptions = {}): Promise<CommandResult> {
    return this.writes.execute(command, options);
  }

  async readBarrier(consistency: ReadConsistency): Promise<void> {
    if (consistency === 'local') return;
    const deadline = Date.now() + this.options.requestTimeoutMs;
    // The lease is counted in ticks: when the core has not been ticked for the real time
    // elapsed (the event loop stalled: GC, SIGSTOP), an expired lease would look valid, so
    // confirm through ReadIndex instead.
    const ticksBehind = (performance.now() - this.tickedUntil) / TICK_MS;
    if (consistency === 'lease' && ticksBehind < 1 && this.core.leaseValid()) {
      await this.applyWaiters.wait(this.core.status().commitIndex, deadline);
      return;
    }
    await this.reads.confirm(deadline);
  }

  generateId(): string {
    return this.nextId();
  }

  status(): NodeStatus {
    const described = describeNode({
      nodeId: this.options.nodeId,
      url: this.url,
      raft: this.coreStatus(),
      peerStats: this.transport.stats(),
      appliedIndex: this.currentStore.lastApplied,
      snapshotIndex: this.snapshots.lastIndex,
      snapshot: this.snapshots.health(),
      urlOf: (id) => this.membership.urlOf(id),
    });
    return {
      ...described,
      leaderContact: this.leaderContact.status(),
      loopStalls: this.loopStalls.status(),
      slowLogWrites: this.log.stats?.().slowWrites ?? [],
      entriesBehindLeader: this.entriesBehindLeader(),
    };
  }

  isReady(): boolean {
    // A node stopped by a failed write or a broken invariant is frozen: never ready.
    if (this.closed || this.fatal !== null) return false;
    const raft = this.core.status();
    return raft.leader !== 0 && this.currentStore.lastApplied >= raft.commitIndex && this.entriesBehindLeader() <= FOLLOWER_LAG_ENTRIES_MAX;
  }

  /** A follower: entries the leader has committed (as far as it told this node in this term)
   * that this node has not applied yet; 0 on a leader or when no leader has spoken. */
  entriesBehindLeader(): number {
    return Math.max(0, this.core.leaderCommitIndex() - this.currentStore.lastApplied);
  }

  subscribe(listener: (change: ChangeEvent) => void): () => void {
    return this.changes.subscribe(listener);
  }

  addMember(id: number, url: string, learner: boolean): Promise<void> {
    return this.membership.addMember(id, url, learner);
  }

  removeMember(id: number): Promise<void> {
    return this.membership.removeMember(id);
  }

  setMemberAddress(id: number, address: string): Promise<void> {
    return this.membership.setMemberAddress(id, address);
  }

  transferLeadership(to?: number): Promise<void> {
    return this.membership.transferLeadership(to);
  }

  raftMetrics(): RaftMetricsReport {
    const logStats = this.log.stats?.();
    const status = this.status();
    return {
      metrics: this.metrics.raftMetrics({ status, firstIndex: this.log.firstIndex(), lastIndex: this.log.lastIndex(), logStats }),
      commitLatency: this.metrics.commits.latency,
      logSyncLatency: logStats?.syncLatency ?? null,
    };
  }

  clusterEvents(): ClusterEvents {
    return this.metrics.events;
  }

  async snapshot(): Promise<{ index: number; bytes: number }> {
    this.assertUsable();
    return this.snapshots.take();
  }

  /** Calls `listener` once if the node stops on a fatal error (failed fsync, broken invariant).
   * A process running one node should exit then, so that a supervisor restarts it. */
  onFatal(listener: (error: Error) => void): void {
    if (this.fatal !== null) listener(this.fatal);
    else this.fatalListeners.push(listener);
  }

  // -- the Ready loop ----------------------------------------------------------------------

  /**
   * Ticks the core once per TICK_MS of real (monotonic) time elapsed since the last tick.
   * setInterval fires late, never early, and not at all while the event loop is stalled:
   * ticking once per callback would let the core's clock fall behind real time, and with
   * it the leader's lease and check-quorum, which must expire after an election timeout of
   * real time (the followers' clocks kept running).
   *
   * The lease is safe across a catch-up (docs/found-bugs.md, 6): a heartbeat round is stamped
   * with the tick at which the core creates it (read-only.ts, sentTick) and its messages leave
   * with a later Ready. Rounds created in this loop get the intermediate ticks and all leave
   * after it, and a round created by a ReadIndex stepped before it gets the late tick: the
   * stamp is only ever earlier than the send, so the lease ends sooner than the followers'
   * promise, never later. readBarrier serves no lease read while a tick is owed.
   */
  private catchUpTicks(): void {
    if (this.closed || this.fatal !== null) return;
    const now = performance.now();
    if (now - this.lastExpirySweep >= 100) {
      this.lastExpirySweep = now;
      this.proposals.expire(Date.now());
      this.inserts.expire(
        Date.now(),
        () => new StoreError('NO_LEADER', 'the node could not propose this write in time (is its disk stalled?); it was not made'),
      );
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
    if (this.closed || this.fatal !== null) return;
    if (!this.messageSanity.admits(message, this.localView)) return;
    if (this.ticksFirst(message)) {
      this.catchUpTicks();
      if (this.fatal !== null) return;
    }
    this.leaderContact.observe(message);
    // A log that lost acknowledged entries stops the node with the remedy, before the core's assert.
    const lost = lostEntriesIn(message, this.options.nodeId, this.core);
    if (lost !== null) return this.stopOnFatal(lost);
    if (this.trace !== null) this.traceReceived(message);
    this.guarded(() => this.core.step(message));
    if (this.trace !== null) this.trace.committed(this.core.commitIndex());
    this.scheduleReady();
  }

  private traceReceived(message: Message): void {
    const trace = this.trace!;
    if (message.type === 'AppendEntries' && message.entries.length > 0) {
      trace.markRange('received', message.entries[0]!.index, message.entries[message.entries.length - 1]!.index);
    } else if (message.type === 'AppendEntriesResponse' && message.success) {
      trace.ackReceived(message.from, message.matchIndex);
    }
  }

  /** Whether ticks are owed (the event loop was stalled while `message` waited in the socket)
   * and must be ticked before it is stepped: raft/stalled-ticks.ts's rule. */
  private ticksFirst(message: Message): boolean {
    if ((performance.now() - this.tickedUntil) / TICK_MS < 1) return false;
    return ticksFirst(message, this.coreStatus().role, this.core.currentTerm());
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
    // The ticker drove the loop-stall probe: stop it too, or close() would count the time
    // since this stop as one stall.
    this.loopStalls.stop();
    this.logger.fatal({ err: this.fatal }, 'raft node stopped: a write to the log failed or an invariant broke');
    this.proposals.failAll(new StoreError('COMMIT_UNKNOWN', `the node failed; the outcome of this write is unknown: ${this.fatal.message}`));
    this.writes.failQueuedInserts(
      new StoreError('NO_LEADER', `the node failed before this write was proposed (it was not made): ${this.fatal.message}`),
    );
    // Readers and callers waiting for an entry to be applied here would otherwise wait
    // until their deadline for a node that will not move again.
    const stopped = new StoreError('NODE_FAILED', `the node failed: ${this.fatal.message}`);
    this.reads.rejectAll(stopped);
    this.applyWaiters.rejectAll(stopped);
    // Stop talking to peers: a frozen node must not look like a live member.
    void this.transport.close();
    for (const listener of this.fatalListeners) listener(this.fatal);
  }

  /** Feeds the pacing with how busy the event loop was during the Ready cycle just done. */
  private measureCycle(): void {
    const now = performance.eventLoopUtilization();
    const cycle = performance.eventLoopUtilization(now, this.cycleMark);
    this.cycleMark = now;
    this.pacing.cycle(cycle.active, cycle.idle);
  }

  private scheduleReady(): void {
    // A Ready is being written (its log write may take a while): the leader's heartbeats
    // leave now rather than after it (core.takeHeartbeats says when that is safe).
    if (this.processing && !this.closed && this.fatal === null) {
      for (const m of this.guarded(() => this.core.takeHeartbeats())) this.transport.send(m);
    }
    if (this.readyScheduled || this.closed) return;
    this.readyScheduled = true;
    // setImmediate: proposals and messages that arrive in the same turn share one append.
    setImmediate(() => {
      this.readyScheduled = false;
      void this.processReady();
    });
  }

  private async processReady(): Promise<void> {
    if (this.processing || this.fatal !== null) return;
    this.processing = true;
    try {
      // Under steady load this loop may never run dry: snapshots are checked and handed to the
      // core between two Ready cycles, not only once it stops.
      this.snapshots.maintain();
      this.writes.proposeQueuedInserts();
      while (!this.closed && this.core.hasReady()) {
        await this.handleReady(this.core.ready(this.pacing.budget(this.core.committedBacklog())));
        this.core.advance();
        // The leader counts its own write once advance() says it is durable: its commit may move here.
        if (this.trace !== null) this.trace.committed(this.core.commitIndex());
        this.measureCycle();
        this.snapshots.maintain();
        this.writes.proposeQueuedInserts();
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
    // Which messages may leave before this Ready is durable: the core's rule (src/raft/ready-durability.ts).
    const { hardStateMustSync, beforeSync, afterSync } = readyDurability(rd, this.log.hardState());
    this.metrics.ready(rd, this.core.currentTerm());
    for (const m of beforeSync) this.transport.send(m);
    if (this.trace !== null) this.traceSent(beforeSync, rd.entries);
    if (rd.snapshot !== null) {
      const snapshot = rd.snapshot;
      await this.snapshots.writeSnapshot(() => this.log.installSnapshot(snapshot.meta, snapshot.data));
      this.installSnapshot(snapshot);
    }
    const writes: Promise<void>[] = [];
    if (rd.entries.length > 0) {
      const appended = this.log.append(rd.entries);
      const trace = this.trace;
      writes.push(
        trace === null ? appended : appended.then(() => trace.markRange('synced', rd.entries[0]!.index, rd.entries[rd.entries.length - 1]!.index)),
      );
    }
    if (rd.hardState !== null) {
      // Term and vote must be durable before anything that depends on them leaves; a new
      // commit index need not be (after a crash it is learned again from the leader, or,
      // alone, by committing the new term's first entry), so it rides along with the next
      // write instead of costing a disk flush of its own, which the next entry's flush
      // would wait behind (measured with the write trace: docs/benchmarks.md).
      if (hardStateMustSync) writes.push(this.log.setHardState(rd.hardState));
      else this.log.setCommitWithNextWrite(rd.hardState).catch((error: unknown) => this.stopOnFatal(error));
    }

    // Committed entries are already durable here (the core hands out only stable ones), so
    // they are applied while this Ready's new entries are being written, not after: the log
    // starts its write (on the next turn of the event loop) before the CPU goes to applying.
    if (rd.entries.length > 0 && rd.committedEntries.length > 0) await nextTurn();
    // Applying yields to the event loop between entries once it has held it for
    // APPLY_SLICE_MS: a burst of heavy entries must not delay ticks, heartbeats and votes by
    // their sum (each entry is applied whole; its size is bounded by the request limits).
    let sliceStart = performance.now();
    for (const entry of rd.committedEntries) {
      if (performance.now() - sliceStart >= APPLY_SLICE_MS) {
        await nextTurn();
        // Stopped meanwhile (a failed write): nothing more may be applied.
        if (this.fatal !== null) return;
        sliceStart = performance.now();
      }
      this.apply(entry);
      if (this.trace !== null) this.trace.mark('applied', entry.index);
    }
    if (this.decodedCommands) {
      // msgpackr would keep the last entry's buffer: after a replay, a whole log segment.
      this.decodedCommands = false;
      releaseMsgpackSource();
    }
    // A follower far behind a read's index refuses it now rather than hold it (catch-up.ts).
    this.reads.confirmed(rd.readStates, rd.softState.role === 'follower' ? this.currentStore.lastApplied : Number.POSITIVE_INFINITY);
    this.reads.serve(this.currentStore.lastApplied);
    this.applyWaiters.wake();
    if (rd.softState.leader !== this.knownLeader) {
      this.knownLeader = rd.softState.leader;
      if (this.knownLeader === this.options.nodeId) this.leaderContact.restart();
      this.logger.info({ leader: rd.softState.leader, role: rd.softState.role }, 'leader changed');
      this.leaderWaiters.wakeAll();
      this.leaderWaiters.clear();
    }

    await Promise.all(writes);
    for (const m of afterSync) this.transport.send(m);
    if (this.trace !== null) {
      // A follower's ack covers the entries this Ready made durable.
      const acked = afterSync.some((m) => m.type === 'AppendEntriesResponse' && m.success);
      if (acked && rd.entries.length > 0) this.trace.markRange('ackSent', rd.entries[0]!.index, rd.entries[rd.entries.length - 1]!.index);
    }
  }

  private traceSent(sent: readonly Message[], entries: readonly Entry[]): void {
    const trace = this.trace!;
    for (const m of sent) {
      if (m.type === 'AppendEntries' && m.entries.length > 0) {
        trace.markRange('sent', m.entries[0]!.index, m.entries[m.entries.length - 1]!.index, m.to);
      }
    }
    if (entries.length > 0) trace.markRange('syncStart', entries[0]!.index, entries[entries.length - 1]!.index);
  }

  private installSnapshot(snapshot: Snapshot): void {
    this.currentStore = Store.restoreSnapshot(snapshot.data, this.options.limits);
    this.currentStore.useReadClock(Date.now);
    const restored = this.currentStore.lastApplied;
    assert(restored === snapshot.meta.index, `snapshot ${snapshot.meta.index} restored a store at ${restored}`);
    this.snapshots.installed(snapshot.meta.index);
    this.metrics.snapshotInstalled(snapshot.meta.index);
    this.changes.restartAt(snapshot.meta.index);
    this.membership.syncPeers();
    // Proposals at or below the snapshot were decided elsewhere; their outcome is unknown here.
    this.proposals.failUpTo(
      snapshot.meta.index,
      new StoreError('COMMIT_UNKNOWN', 'the outcome of this write is unknown (the node installed a snapshot past it)'),
    );
    this.logger.info({ index: snapshot.meta.index }, 'installed snapshot from the leader');
  }

  private apply(entry: Entry): void {
    let result: CommandResult = { ok: true, value: null };
    if (entry.type === 'normal') {
      const proposed = this.proposals.commandAt(entry);
      let command: Command;
      try {
        if (proposed === undefined) this.decodedCommands = true;
        command = proposed ?? decodeCommand(entry.data);
      } catch (error) {
        // Every replica fails the same way on the same bytes: deterministic.
        const message = error instanceof Error ? error.message : String(error);
        this.currentStore.apply({ type: 'noop' }, entry.index);
        this.proposals.settle(entry, { ok: false, error: { code: 'VALIDATION', message } });
        return;
      }
      // The entry's term goes into history records (store/history.ts).
      try {
        result = this.currentStore.apply(command, entry.index, { term: entry.term, documentsCopied: proposed !== undefined });
      } catch (error) {
        if (!(error instanceof NewerApplyRulesError)) throw error;
        // Replicas that know those rules apply the entry; refusing it here would make this
        // node's state differ from theirs. The node stops (processReady), naming the remedy.
        throw new Error(
          `log entry ${entry.index} was proposed under apply rules this binary does not have (${error.message}): ` +
            'run the binary the cluster runs (a node may not be downgraded below the version that wrote its log)',
          { cause: error },
        );
      }
      this.changes.applied(command, result, entry);
      this.metrics.opsApplied += command.type === 'batch' ? command.ops.length : 1;
    } else {
      this.currentStore.apply({ type: 'noop' }, entry.index);
      if (entry.type === 'conf') {
        this.membership.applyConf(entry);
        this.metrics.confApplied();
      }
    }
    this.proposals.settle(entry, result);
  }

  // -- helpers -------------------------------------------------------------------------------

  /** Warns of long event-loop stalls, at most once a second (RaftNodeOptions.warnLoopStalls):
   * what held the loop is in busyMs (this process's work, GC included) against coreWaitMs (the
   * machine made it wait for a core), so an operator can tell an overloaded box from a slow node. */
  private loopStallWarner(): (stall: LoopStall) => void {
    return throttledWarning<LoopStall>(
      (fields, message) => this.logger.warn(fields, message),
      'event loop stalled (heartbeats and writes waited that long)',
      (stall) => ({ wallMs: stall.wallMs, busyMs: stall.busyMs, coreWaitMs: stall.coreWaitMs, role: this.core.status().role }),
    );
  }

  private coreStatus(): RaftStatus {
    return this.core.status();
  }

  private assertUsable(): void {
    if (this.closed) throw new StoreError('NO_LEADER', 'the node is shutting down');
    if (this.fatal !== null) throw new StoreError('NODE_FAILED', `the node failed: ${this.fatal.message}`);
  }
}
