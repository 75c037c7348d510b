// How a RaftNode comes up: opening its data directory (log, identity, peers'
// incarnations), the store recovered from its snapshot, the settings of a group of
// one, learning the bootstrap voters from the peers, and the Raft core built from
// what the log recovered.
import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import { openFileLog } from '../log/file-log.ts';
import type { SlowLogWrite } from '../log/slow-writes.ts';
import type { LogStorage } from '../log/types.ts';
import { RaftCore } from '../raft/index.ts';
import { DEFAULT_SNAPSHOT_CATCH_UP_ENTRIES } from '../raft/core.ts';
import type { Message } from '../raft/types.ts';
import { Store } from '../store/store.ts';
import type { Limits } from '../store/types.ts';
import type { PeerAddress } from '../transport/index.ts';
import { checkIdentity, createIdentity, loadIdentity, type NodeIdentity } from './node-identity.ts';
import { sleep } from './node-waiting.ts';
import { PeerIncarnations } from './peer-incarnations.ts';
import { throttledWarning } from './warning-throttle.ts';
import type { PeerNetwork } from './peer-network.ts';
import { STANDALONE_NODE_ID, TICK_MS, type RaftNodeOptions, type StandaloneOptions } from './raft-node-options.ts';

/** What the peer transport hands to the node: Raft messages, forwarded requests, handshakes to admit. */
export interface PeerHandlers {
  onMessage(message: Message): void;
  onRequest(from: number, body: unknown): Promise<unknown>;
  /** true to accept the peer's handshake; otherwise the reason to refuse it. */
  isKnownPeer(id: number, address: string, incarnation: string): true | string;
}

/** The applied state recovered from the log's snapshot (empty without one); the log after it is replayed by the node. */
export function recoveredStore(log: LogStorage, limits: Partial<Limits> | undefined): Store {
  const snapshot = log.recovered.snapshot;
  const store = snapshot !== null ? Store.restoreSnapshot(snapshot.data, limits) : new Store(limits);
  // Reads of TTL collections hide what expired by this node's clock (the store has none).
  store.useReadClock(Date.now);
  return store;
}

/** Warns of log writes of LOG_WRITE_SLOW_MS or longer, at most once a second. */
function slowWriteWarner(logger: Logger): (write: SlowLogWrite) => void {
  return throttledWarning<SlowLogWrite>(
    (fields, message) => logger.warn(fields, message),
    'slow log write: the disk took that long to make a batch durable',
    (write) => ({ durationMs: write.durationMs, bytes: write.bytes }),
  );
}

/** A data directory opened for a node: its log, identity and peers' incarnations. */
export interface OpenedNodeStorage {
  readonly log: LogStorage;
  readonly identity: NodeIdentity;
  readonly incarnations: PeerIncarnations;
  readonly logger: Logger;
}

/** Opens the data directory (log, snapshot, identity). */
export async function openNodeStorage(options: RaftNodeOptions): Promise<OpenedNodeStorage> {
  const logger = options.logger.child({ component: 'raft-node', node: options.nodeId });
  await mkdir(options.dataDir, { recursive: true });
  const identity = await loadIdentity(options.dataDir);
  if (identity !== undefined) checkIdentity(identity, options.nodeId, options.clusterId, options.dataDir);
  const log = await openFileLog({
    dir: options.dataDir,
    sync: options.sync,
    onWarning: (message) => logger.warn(message),
    onSlowWrite: slowWriteWarner(logger),
  });
  if (identity === undefined && (log.lastIndex() > 0 || log.hardState().term > 0)) {
    await log.close();
    throw new Error(`data directory ${options.dataDir} holds a log but no node.json: refusing to guess its identity`);
  }
  const incarnations = await PeerIncarnations.load(options.dataDir);
  // A node without identity gets one now, so that its incarnation goes out in its handshakes.
  const created = identity ?? (await createIdentity(options.dataDir, { clusterId: options.clusterId, nodeId: options.nodeId, bootstrapVoters: [] }));
  return { log, identity: identity === undefined ? { ...created, bootstrapVoters: [] } : created, incarnations, logger };
}

/** The options and voters of a group of one (the embedded database): it is its only voter. */
export function standaloneSetup(options: StandaloneOptions): { readonly nodeOptions: RaftNodeOptions; readonly voters: readonly number[] } {
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
  return { nodeOptions, voters: [STANDALONE_NODE_ID] };
}

/** What learning the bootstrap voters needs from the node. */
export interface BootstrapPeers {
  readonly nodeId: number;
  readonly peers: readonly PeerAddress[];
  readonly transport: Pick<PeerNetwork, 'stats'>;
  readonly logger: Logger;
  isClosed(): boolean;
}

/** Waits until every configured peer told us its id (when --peers gave only addresses). */
export async function learnBootstrapVoters(node: BootstrapPeers): Promise<number[]> {
  const wanted = node.peers.length;
  let lastLog = 0;
  for (;;) {
    const ids = node.transport
      .stats()
      .map((s) => s.id)
      .filter((id) => id > 0);
    const known = [...new Set([...node.peers.flatMap((p) => (p.id !== undefined ? [p.id] : [])), ...ids])];
    if (known.length >= wanted) return [node.nodeId, ...known].sort((a, b) => a - b);
    if (node.isClosed()) return [];
    if (Date.now() - lastLog > 3000) {
      lastLog = Date.now();
      node.logger.info(`waiting for peers to answer (${known.length}/${wanted} known) to learn the cluster's members`);
    }
    await sleep(20);
  }
}

/** The Raft core over what the log recovered, and its election timeout in ticks. */
export function createRaftCore(
  options: RaftNodeOptions,
  log: LogStorage,
  voters: readonly number[],
): { readonly core: RaftCore; readonly electionTicks: number } {
  const electionTicks = Math.max(2, Math.round(options.electionTimeoutMs / TICK_MS));
  const heartbeatTicks = Math.max(1, Math.round(options.heartbeatIntervalMs / TICK_MS));
  const core = new RaftCore(
    {
      id: options.nodeId,
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
      snapshotCatchUpEntries: Math.min(DEFAULT_SNAPSHOT_CATCH_UP_ENTRIES, Math.max(0, options.snapshotThreshold)),
      snapshotChunkBytes: 1024 * 1024,
      random: Math.random,
    },
    {
      hardState: log.hardState(),
      snapshot: log.snapshot()?.meta ?? null,
      entries: log.restartEntries(),
      initialConf: { voters: [...voters], learners: [] },
    },
  );
  return { core, electionTicks };
}
