// The status a node reports (GET /cluster/status): its role, term, leader, indexes
// and, per member, its address, replication progress and connection; and how its snapshots fare.
import type { RaftStatus } from '../raft/types.ts';
import type { PeerStats } from '../transport/index.ts';
import type { MemberStatus, NodeStatus, SnapshotHealth } from './backend.ts';

/** What the status is made of, read from the node when it is asked. */
export interface NodeStatusSources {
  readonly nodeId: number;
  readonly url: string;
  readonly raft: RaftStatus;
  readonly peerStats: readonly PeerStats[];
  readonly appliedIndex: number;
  readonly snapshotIndex: number;
  readonly snapshot: SnapshotHealth;
  urlOf(id: number): string | null;
}

export function describeNode(sources: NodeStatusSources): NodeStatus {
  const raft = sources.raft;
  const leaderUrl = raft.leader === 0 ? null : sources.urlOf(raft.leader);
  const peerStats = new Map(sources.peerStats.map((s) => [s.id, s]));
  const progress = new Map(raft.progress.map((p) => [p.id, p]));
  const members: MemberStatus[] = [...raft.conf.voters.map((id) => [id, true] as const), ...raft.conf.learners.map((id) => [id, false] as const)].map(
    ([id, voter]) => {
      const self = id === sources.nodeId;
      const match = self ? raft.lastIndex : (progress.get(id)?.matchIndex ?? 0);
      return {
        id,
        url: sources.urlOf(id) ?? '',
        voter,
        matchIndex: match,
        lag: raft.role === 'leader' ? Math.max(0, raft.lastIndex - match) : 0,
        connected: self || (peerStats.get(id)?.connected ?? false),
      };
    },
  );
  const isLearner = raft.conf.learners.includes(sources.nodeId);
  return {
    nodeId: sources.nodeId,
    url: sources.url,
    role: isLearner ? 'learner' : raft.role,
    term: raft.term,
    leader: leaderUrl === null ? null : { id: raft.leader, url: leaderUrl },
    commitIndex: raft.commitIndex,
    appliedIndex: sources.appliedIndex,
    snapshotIndex: sources.snapshotIndex,
    lastLogIndex: raft.lastIndex,
    members,
    snapshot: sources.snapshot,
  };
}
