// How regularly a follower hears from its leader: the gaps between the messages a leader
// sends it (AppendEntries, Heartbeat, InstallSnapshot), measured when this node's event
// loop steps them in. A gap near the election timeout means an election is close: the
// leader's loop (or this node's) was stalled, or the link was. Issue #11's target is that
// no client request makes a gap over half the election timeout.
//
// Measured where the message is stepped, not where it is read from the socket: a stall of
// this node's own loop delays both, and counts, since a follower acts on what it steps.

import { NewestRecords } from '../newest-records.ts';
import { isFromLeader } from '../raft/stalled-ticks.ts';
import type { Message } from '../raft/types.ts';

/** A gap at least this long is kept in the recent list (shorter ones only count in the max). */
export const LEADER_GAP_RECORD_MS_MIN = 20;
/** The recent list holds at most this many gaps (the newest). */
export const LEADER_GAPS_KEPT_MAX = 64;

export interface LeaderGap {
  /** Date.now() when the message that ended the gap was stepped. */
  readonly endedAt: number;
  readonly gapMs: number;
  /** The leader that ended it, and its term. */
  readonly leader: number;
  readonly term: number;
}

export interface LeaderContactStatus {
  /** The longest gap since the node started (ms, rounded to 0.1). */
  readonly gapMsMax: number;
  /** Messages from a leader stepped since the node started. */
  readonly messages: number;
  /** The newest gaps of at least LEADER_GAP_RECORD_MS_MIN, oldest first. */
  readonly recentGaps: readonly LeaderGap[];
}

export class LeaderContact {
  private lastAt = -1;
  private gapMsMax = 0;
  private messages = 0;
  private readonly recent = new NewestRecords<LeaderGap>(LEADER_GAPS_KEPT_MAX);

  constructor(private readonly clock: () => number = () => performance.now()) {}

  /** Called for every message this node steps. */
  observe(message: Message): void {
    if (!isFromLeader(message)) return;
    const now = this.clock();
    // Across a change of leader too: the time without any leader (a stalled leader, then an
    // election) is what a follower saw.
    if (this.lastAt >= 0) {
      const gapMs = Math.round((now - this.lastAt) * 10) / 10;
      if (gapMs > this.gapMsMax) this.gapMsMax = gapMs;
      if (gapMs >= LEADER_GAP_RECORD_MS_MIN) {
        this.recent.add({ endedAt: Date.now(), gapMs, leader: message.from, term: message.term });
      }
    }
    this.lastAt = now;
    this.messages++;
  }

  /** This node became leader (or stopped following): the next message from a leader starts
   * a new count, not a gap spanning the time this node led. */
  restart(): void {
    this.lastAt = -1;
  }

  status(): LeaderContactStatus {
    return { gapMsMax: this.gapMsMax, messages: this.messages, recentGaps: this.recent.list() };
  }
}
