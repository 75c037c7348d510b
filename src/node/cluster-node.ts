// A cluster node from the opening of its data directory on. Its Raft core can be made
// only once the bootstrap voters are known, and on a fresh cluster whose --peers gave
// addresses only they are learned from the peers' handshakes: the peer transport, and
// the HTTP server it is attached to, must serve before the RaftNode can exist. This
// handle is what they serve. Until start() has built the RaftNode (whole: see
// RaftNode.start) it drops Raft messages, admits peers by their incarnation only, and
// answers clients that the node is still starting; then it passes everything on.
import { join } from 'node:path';
import { StoreError } from '../store/errors.ts';
import { createIdGenerator } from '../store/ids.ts';
import type { Store } from '../store/store.ts';
import { PeerTransport } from '../transport/index.ts';
import { assert } from '../assert.ts';
import type { ChangeEvent, DatabaseBackend, NodeStatus, ReadConsistency, ExecuteOptions } from './backend.ts';
import type { Command, CommandResult } from '../store/commands.ts';
import { writeJsonFileDurably } from './durable-json.ts';
import type { ForwardedReply } from './node-forwarding.ts';
import { learnBootstrapVoters, openNodeStorage, recoveredStore, type OpenedNodeStorage, type PeerHandlers } from './node-startup.ts';
import { pooledRandomBytes } from './random-pool.ts';
import type { RaftNodeOptions } from './raft-node-options.ts';
import { RaftNode } from './raft-node.ts';
import { ChangeFeed } from './change-log.ts';
import type { ClusterEvents } from './cluster-events.ts';
import type { RaftMetricsReport } from './node-metrics.ts';

const starting = (): StoreError => new StoreError('NO_LEADER', 'the node is still starting');

export class ClusterNode implements DatabaseBackend {
  readonly transport: PeerTransport;
  /** The node, once start() has built it. */
  private node: RaftNode | null = null;
  /** Where the transport delivers: the starting node's answers, then the RaftNode's. */
  private peers: PeerHandlers;
  /** The store recovered at open, served (local reads) until the node exists. */
  private readonly recovered: Store;
  /** The retained change log, made before the node so that streams may subscribe while it starts. */
  readonly changes = new ChangeFeed();
  private readonly nextId = createIdGenerator(Date.now, pooledRandomBytes());
  private started = false;
  private closed = false;

  private constructor(
    private readonly options: RaftNodeOptions,
    private readonly opened: OpenedNodeStorage,
  ) {
    this.recovered = recoveredStore(opened.log, options.limits);
    this.peers = {
      onMessage: () => {}, // no core to step them into yet (as after a restart: the peers resend)
      onRequest: async (): Promise<ForwardedReply> => ({ notLeader: true }),
      isKnownPeer: (id, _address, incarnation) => opened.incarnations.check(id, incarnation),
    };
    this.transport = new PeerTransport({
      nodeId: options.nodeId,
      clusterId: options.clusterId,
      ...(options.clusterSecret !== undefined ? { clusterSecret: options.clusterSecret } : {}),
      ...(options.peerTls !== undefined ? { tls: options.peerTls } : {}),
      advertiseAddress: options.advertise,
      peers: options.peers,
      incarnation: opened.identity.incarnation,
      logger: options.logger,
      onMessage: (message) => this.peers.onMessage(message),
      onRequest: (from, body) => this.peers.onRequest(from, body),
      isKnownPeer: (id, address, incarnation) => this.peers.isKnownPeer(id, address, incarnation),
    });
  }

  /** Opens the data directory (log, snapshot, identity) and the peer transport. Call start() to join the cluster. */
  static async open(options: RaftNodeOptions): Promise<ClusterNode> {
    const opened = await openNodeStorage(options);
    try {
      return new ClusterNode(options, opened);
    } catch (error) {
      await opened.log.close();
      throw error;
    }
  }

  get url(): string {
    return `${this.options.urlScheme ?? 'http'}://${this.options.advertise}`;
  }

  /** Starts the transport, learns the bootstrap voters if needed, then builds and starts the
   * RaftNode. Rejects with NO_LEADER when the node is closed meanwhile. */
  async start(): Promise<RaftNode> {
    assert(!this.started, 'ClusterNode.start() called twice');
    this.started = true;
    const { options, opened } = this;
    const { log } = opened;
    this.transport.start();
    let voters = opened.identity.bootstrapVoters;
    const fresh = log.lastIndex() === 0 && log.hardState().term === 0 && log.snapshot() === null;
    if (fresh && voters.length === 0 && !options.join) {
      voters = await learnBootstrapVoters({
        nodeId: options.nodeId,
        peers: options.peers,
        transport: this.transport,
        logger: opened.logger,
        isClosed: () => this.closed,
      });
      if (!this.closed) await writeJsonFileDurably(join(options.dataDir, 'node.json'), { ...opened.identity, bootstrapVoters: voters });
    }
    if (this.closed) throw new StoreError('NO_LEADER', 'the node was closed before it started');
    const node = RaftNode.start({
      options,
      log,
      transport: this.transport,
      bindPeers: (handlers) => (this.peers = handlers),
      incarnations: opened.incarnations,
      logger: opened.logger,
      voters,
      store: this.recovered,
      changes: this.changes,
      nextId: this.nextId,
    });
    this.node = node;
    return node;
  }

  /** Closes the node, or, before it was built, the transport and the data directory. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.node !== null) return this.node.close();
    await this.transport.close();
    await this.opened.incarnations.flush();
    await this.opened.log.close();
  }

  // -- DatabaseBackend: the node's, or "still starting" ------------------------------------

  get store(): Store {
    return this.node?.store ?? this.recovered;
  }

  execute(command: Command, options?: ExecuteOptions): Promise<CommandResult> {
    return this.node !== null ? this.node.execute(command, options) : Promise.reject(starting());
  }

  readBarrier(consistency: ReadConsistency): Promise<void> {
    if (this.node !== null) return this.node.readBarrier(consistency);
    return consistency === 'local' ? Promise.resolve() : Promise.reject(starting());
  }

  generateId(): string {
    return this.nextId();
  }

  status(): NodeStatus {
    if (this.node === null) throw starting();
    return this.node.status();
  }

  isReady(): boolean {
    return this.node !== null && this.node.isReady();
  }

  entriesBehindLeader(): number {
    return this.node === null ? 0 : this.node.entriesBehindLeader();
  }

  subscribe(listener: (change: ChangeEvent) => void): () => void {
    return this.changes.subscribe(listener);
  }

  addMember(id: number, url: string, learner: boolean): Promise<void> {
    return this.node !== null ? this.node.addMember(id, url, learner) : Promise.reject(starting());
  }

  removeMember(id: number): Promise<void> {
    return this.node !== null ? this.node.removeMember(id) : Promise.reject(starting());
  }

  setMemberAddress(id: number, address: string): Promise<void> {
    return this.node !== null ? this.node.setMemberAddress(id, address) : Promise.reject(starting());
  }

  transferLeadership(to?: number): Promise<void> {
    return this.node !== null ? this.node.transferLeadership(to) : Promise.reject(starting());
  }

  snapshot(): Promise<{ index: number; bytes: number }> {
    return this.node !== null ? this.node.snapshot() : Promise.reject(starting());
  }

  raftMetrics(): RaftMetricsReport {
    if (this.node === null) throw starting();
    return this.node.raftMetrics();
  }

  clusterEvents(): ClusterEvents {
    if (this.node === null) throw starting();
    return this.node.clusterEvents();
  }
}
