// What the HTTP server needs from a database node. A Raft cluster node implements
// it (writes replicated through consensus, forwarded to the leader), and so does
// the embedded database (a group of one), which keeps the server testable alone.
import type { Command, CommandResult } from '../store/commands.ts';
import type { Store } from '../store/store.ts';
import type { RaftEvent } from '../store/raft-event.ts';
import type { ChangeFeed } from './change-log.ts';
import type { LeaderContactStatus } from './leader-contact.ts';
import type { LoopStallStatus } from './loop-stalls.ts';
import type { SlowLogWrite } from '../log/slow-writes.ts';
import type { ClusterEvents } from './cluster-events.ts';
import type { RaftMetricsReport } from './node-metrics.ts';

export type ReadConsistency = 'linearizable' | 'lease' | 'local';

export interface MemberStatus {
  readonly id: number;
  readonly url: string;
  readonly voter: boolean;
  /** Highest log index known replicated on the member (leader's view; 0 elsewhere). */
  readonly matchIndex: number;
  /** Entries the member is behind the leader's last index (leader's view). */
  readonly lag: number;
  /** Whether this node currently has a peer connection to the member (itself: true). */
  readonly connected: boolean;
}

export interface NodeStatus {
  readonly nodeId: number;
  readonly url: string;
  readonly role: 'leader' | 'follower' | 'candidate' | 'pre-candidate' | 'learner';
  readonly term: number;
  readonly leader: { readonly id: number; readonly url: string } | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly snapshotIndex: number;
  readonly lastLogIndex: number;
  readonly members: readonly MemberStatus[];
  /** This node's own snapshots: whether the last one failed (a read-only or full disk). Every
   * node reports it; optional for backends that take none. */
  readonly snapshot?: SnapshotHealth;
  /** A cluster node: the gaps between the messages its leader sent it (leader-contact.ts). */
  readonly leaderContact?: LeaderContactStatus;
  /** A cluster node: how long its own work held its event loop (loop-stalls.ts). */
  readonly loopStalls?: LoopStallStatus;
  /** Its newest log write batches of LOG_WRITE_SLOW_MS or longer, oldest first
   * (log/slow-writes.ts); always empty for a log in memory. */
  readonly slowLogWrites?: readonly SlowLogWrite[];
  /** A cluster follower: entries the leader has committed that it has not applied yet (as
   * far as the leader has told it); past FOLLOWER_LAG_ENTRIES_MAX it refuses the data API. */
  readonly entriesBehindLeader?: number;
}

/** How this node's snapshots fare. A failure does not stop the node: its log only grows. */
export interface SnapshotHealth {
  /** The latest failure since the last snapshot written (null: none); `at` is an ISO 8601 time. */
  readonly lastError: { readonly message: string; readonly at: string } | null;
  /** Failures in a row since the last snapshot written (0 once one succeeds). */
  readonly failures: number;
  /** The index of the last snapshot written or installed (0: none yet). */
  readonly lastSuccessIndex: number;
}

/** One change to one document, as applied on this node (change streams, `watch()`): the
 * seeds' RaftEvent record (store/raft-event.ts), the same on every node for the same entry. */
export type ChangeEvent = RaftEvent;

export interface ExecuteOptions {
  /** The command was fully validated (validateCommand, or copyNewDocument for each document
   * of an insert) and nobody else holds or will change its objects: the node that proposes
   * it may apply this object instead of decoding it again from its log bytes, and store an
   * insert's frozen copyNewDocument documents without copying them again. */
  readonly validated?: boolean;
}

export interface DatabaseBackend {
  /** Applied state of this node. Read it after readBarrier(). Never mutate. */
  readonly store: Store;
  /** Replicates a command (forwarded to the leader when this node is not it) and resolves
   * with its result once applied here. Rejects with a StoreError of a 503 code when it
   * cannot (NO_LEADER: not made; COMMIT_UNKNOWN: outcome unknown; NODE_FAILED). */
  execute(command: Command, options?: ExecuteOptions): Promise<CommandResult>;
  /** Resolves when this node's store may serve a read at this consistency level.
   * Rejects with StoreError NO_LEADER, READ_TIMEOUT or NODE_FAILED. */
  readBarrier(consistency: ReadConsistency): Promise<void>;
  /** A new unique, time-ordered document id. */
  generateId(): string;
  status(): NodeStatus;
  /** Knows a leader, has applied the commit index it knows, and is not more than
   * FOLLOWER_LAG_ENTRIES_MAX entries behind the leader's. */
  isReady(): boolean;
  /** A follower: entries the leader has committed that this node has not applied (0 on a
   * leader, embedded, or before a leader spoke); client requests are refused past
   * FOLLOWER_LAG_ENTRIES_MAX (catch-up.ts). */
  entriesBehindLeader(): number;
  /** Calls `listener` for every document change applied on this node; returns an unsubscribe. */
  subscribe(listener: (change: ChangeEvent) => void): () => void;
  /** The changes this node retains (resumable change streams) and their live listeners. */
  readonly changes: ChangeFeed;
  addMember(id: number, url: string, learner: boolean): Promise<void>;
  removeMember(id: number): Promise<void>;
  /** Records where member `id` is reached (`host:port` or an http(s) URL) in the replicated
   * configuration, through the leader. */
  setMemberAddress(id: number, address: string): Promise<void>;
  transferLeadership(to?: number): Promise<void>;
  snapshot(): Promise<{ index: number; bytes: number }>;
  /** Raft metrics (GET /cluster/metrics, /metrics); absent for a backend without them.
   * Throws NO_LEADER while the node is starting. */
  raftMetrics?(): RaftMetricsReport;
  /** The cluster events this node sees (GET /cluster/events). Throws NO_LEADER while starting. */
  clusterEvents?(): ClusterEvents;
}
