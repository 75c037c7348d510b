// How a RaftNode is configured: a cluster node from its command line, or the
// embedded database's group of one.
import type { Logger } from 'pino';
import type { SyncMode } from '../log/types.ts';
import type { Limits } from '../store/types.ts';
import type { PeerAddress, PeerTls } from '../transport/index.ts';
import type { WriteTrace } from './write-trace.ts';

export const STANDALONE_NODE_ID = 1;

/** Real time per tick of the Raft core. */
export const TICK_MS = 10;

export interface StandaloneOptions {
  readonly snapshotThreshold: number;
  readonly requestTimeoutMs: number;
  readonly logger: Logger;
  readonly limits?: Partial<Limits>;
}

export interface RaftNodeOptions {
  readonly nodeId: number;
  readonly clusterId: string;
  /** Shared secret that authenticates peers (TransportOptions.clusterSecret); none: unauthenticated. */
  readonly clusterSecret?: Uint8Array;
  /** Mutual TLS between peers (TransportOptions.tls): dial wss://, admit only certificates the CA signed. */
  readonly peerTls?: PeerTls;
  readonly dataDir: string;
  /** host:port that peers and clients use to reach this node. */
  readonly advertise: string;
  /** Scheme of this node's URL and its peers' (every node of a cluster serves the same): 'https' when the port serves TLS. Default 'http'. */
  readonly urlScheme?: 'http' | 'https';
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
  /** Records when sampled entries pass each stage of the write path (benchmarks' --trace); none: off. */
  readonly writeTrace?: WriteTrace;
  /** Warn in the log (at most once a second) of each event-loop stall of LOOP_STALL_WARN_MS or
   * longer. A server's node does; an embedded database does not (its application's own work
   * holds the same loop, and the application's log is not ours to fill). Default false. */
  readonly warnLoopStalls?: boolean;
}
