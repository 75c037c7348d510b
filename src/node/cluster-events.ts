// Every change of the cluster's state that this node sees, as one structured event:
// a leader elected or lost, a member added, removed, promoted or readdressed, a snapshot
// taken or installed, a member reachable again or lost (node joined / left). Each event is
// logged (pino, one line) and handed to the listeners (GET /cluster/events); the last
// RECENT_EVENTS_MAX are kept so that a subscriber that connects, or reconnects with the
// last sequence number it saw, gets what it missed. Listeners are called synchronously and
// must not block (the SSE stream only queues, bounded).
import type { Logger } from 'pino';

/** Events kept for subscribers that (re)connect: the dashboard's timeline and a resume. */
export const RECENT_EVENTS_MAX = 256;

export type ClusterEventType =
  | 'leader_elected'
  | 'leader_lost'
  | 'member_added'
  | 'member_removed'
  | 'member_promoted'
  | 'member_address_changed'
  | 'snapshot_taken'
  | 'snapshot_installed'
  | 'node_joined'
  | 'node_left';

/** What the code that sees a change says about it; sequence, time, node and term are added. */
export interface ClusterEventDetails {
  readonly type: ClusterEventType;
  /** leader_elected: the new leader; leader_lost: the leader this node lost. */
  readonly leader?: number;
  /** leader_elected: how long this node was without a leader (null: it never saw none). */
  readonly election_duration_ms?: number | null;
  /** member_* and node_*: the member concerned. */
  readonly member?: number;
  /** member_added, member_address_changed: its address (URL). */
  readonly url?: string;
  readonly previous_url?: string;
  /** member_added: a voter (false: a learner). */
  readonly voter?: boolean;
  /** snapshot_*: its log index, and (taken) its size. */
  readonly index?: number;
  readonly bytes?: number;
}

export interface ClusterEvent extends ClusterEventDetails {
  /** Increasing per node from 1 (not across nodes, not across restarts). */
  readonly seq: number;
  /** ISO 8601 time on this node's clock. */
  readonly at: string;
  /** The node that saw the change. */
  readonly node: number;
  /** This node's term when it saw it. */
  readonly term: number;
}

export type ClusterEventListener = (event: ClusterEvent) => void;

export class ClusterEvents {
  private readonly recent: ClusterEvent[] = [];
  private readonly listeners = new Set<ClusterEventListener>();
  private nextSeq = 1;

  constructor(
    private readonly nodeId: number,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  emit(details: ClusterEventDetails, term: number): ClusterEvent {
    const event: ClusterEvent = { seq: this.nextSeq++, at: new Date(this.now()).toISOString(), node: this.nodeId, term, ...details };
    this.recent.push(event);
    if (this.recent.length > RECENT_EVENTS_MAX) this.recent.shift();
    this.logger.info({ clusterEvent: event }, `cluster event: ${event.type}`);
    for (const listener of this.listeners) listener(event);
    return event;
  }

  /** Calls `listener` for every event from now on; returns the unsubscribe. */
  subscribe(listener: ClusterEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The kept events with a sequence number above `seq` (all kept ones for 0), oldest first. */
  since(seq: number): ClusterEvent[] {
    return this.recent.filter((event) => event.seq > seq);
  }

  get subscribers(): number {
    return this.listeners.size;
  }
}
