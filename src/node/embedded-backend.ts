// The embedded database seen as a DatabaseBackend: a group of one that is always
// its own leader, so every read is already linearizable.
import type { Command, CommandResult } from '../store/commands.ts';
import type { Store } from '../store/store.ts';
import { StoreError } from '../store/errors.ts';
import type { ChangeEvent, DatabaseBackend, ExecuteOptions, NodeStatus, ReadConsistency } from './backend.ts';
import type { Database } from './embedded-database.ts';
import type { ChangeFeed } from './change-log.ts';
import type { ClusterEvents } from './cluster-events.ts';
import type { RaftMetricsReport } from './node-metrics.ts';

export class EmbeddedBackend implements DatabaseBackend {
  constructor(
    private readonly db: Database,
    private readonly url: string,
  ) {}

  get store(): Store {
    return this.db.store;
  }

  execute(command: Command, options?: ExecuteOptions): Promise<CommandResult> {
    return this.db.execute(command, options);
  }

  async readBarrier(_consistency: ReadConsistency): Promise<void> {}

  generateId(): string {
    return this.db.generateId();
  }

  status(): NodeStatus {
    // The node of an embedded database has no address of its own: report the URL it is served at.
    const status = this.db.raftNode.status();
    return {
      ...status,
      url: this.url,
      leader: status.leader === null ? null : { id: status.leader.id, url: this.url },
      members: status.members.map((m) => ({ ...m, url: this.url })),
    };
  }

  isReady(): boolean {
    return true;
  }

  entriesBehindLeader(): number {
    return 0;
  }

  subscribe(listener: (change: ChangeEvent) => void): () => void {
    return this.db.subscribe(listener);
  }

  get changes(): ChangeFeed {
    return this.db.raftNode.changes;
  }

  async addMember(): Promise<void> {
    throw new StoreError('BAD_REQUEST', 'an embedded database has no other members');
  }

  async removeMember(): Promise<void> {
    throw new StoreError('BAD_REQUEST', 'an embedded database has no other members');
  }

  async setMemberAddress(): Promise<void> {
    throw new StoreError('BAD_REQUEST', 'an embedded database has no members to address');
  }

  async transferLeadership(): Promise<void> {
    throw new StoreError('CONFLICT', 'an embedded database has no other member to lead');
  }

  snapshot(): Promise<{ index: number; bytes: number }> {
    return this.db.snapshot();
  }

  raftMetrics(): RaftMetricsReport {
    return this.db.raftNode.raftMetrics();
  }

  clusterEvents(): ClusterEvents {
    return this.db.raftNode.clusterEvents();
  }
}
