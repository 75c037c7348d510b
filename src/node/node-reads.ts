// Linearizable reads through ReadIndex: a read asks the core for a ReadIndex, waits
// for the ReadState naming the commit index a quorum confirmed, then for that index
// to be applied here. Reads that arrive together share one round.
import { assert } from '../assert.ts';
import type { RaftCore } from '../raft/index.ts';
import type { ReadState } from '../raft/types.ts';
import { StoreError } from '../store/errors.ts';
import { sleep } from './node-waiting.ts';
import { FOLLOWER_LAG_ENTRIES_MAX, notCaughtUp } from './catch-up.ts';

interface PendingRead {
  index: number; // -1 until the ReadState arrives
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** What ReadIndex rounds need from the node that drives the core. */
export interface ReadIndexHost {
  readonly electionTimeoutMs: number;
  /** The core (made with the node: never missing). */
  core(): Pick<RaftCore, 'readIndex'>;
  assertUsable(): void;
  guarded<T>(call: () => T): T;
  scheduleReady(): void;
  waitForLeaderChange(deadline: number): Promise<void>;
}

export class ReadIndexReads {
  private readonly reads = new Map<number, PendingRead>();
  /** The ReadIndex round that reads arriving now will share, and the last one started. */
  private nextReadRound: Promise<void> | null = null;
  private lastReadRound: Promise<void> = Promise.resolve();
  // Random start: a stale ReadIndexResponse from before a restart must not match a new read.
  private readContext = Math.floor(Math.random() * 2 ** 40);

  constructor(private readonly host: ReadIndexHost) {}

  /**
   * Reads share ReadIndex rounds: one round is in flight at a time, and every read that
   * arrives meanwhile joins the next one. The next round starts after those reads arrived,
   * so it still reflects every write acknowledged before them (linearizable), and a burst
   * of reads costs one heartbeat round instead of one each.
   */
  confirm(deadline: number): Promise<void> {
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
    const host = this.host;
    for (;;) {
      host.assertUsable();
      // Rounds run one at a time, and a round leaves no read behind when it retries or fails.
      assert(this.reads.size === 0, `${this.reads.size} ReadIndex reads pending when a round starts`);
      const context = ++this.readContext;
      const read = new Promise<void>((resolve, reject) => this.reads.set(context, { index: -1, resolve, reject }));
      if (!host.guarded(() => host.core().readIndex(context))) {
        this.reads.delete(context);
        await host.waitForLeaderChange(deadline);
        continue;
      }
      host.scheduleReady();
      // A ReadIndex can be lost with a message or a leader change: retry after two election timeouts.
      const retryAfter = Math.min(deadline - Date.now(), host.electionTimeoutMs * 2);
      const outcome = await Promise.race([read.then(() => 'done' as const), sleep(Math.max(0, retryAfter)).then(() => 'retry' as const)]);
      if (outcome === 'done') return;
      this.reads.delete(context);
      if (Date.now() >= deadline) throw new StoreError('READ_TIMEOUT', 'the read could not be confirmed by a quorum in time');
    }
  }

  /**
   * Records the commit indexes a Ready confirmed for pending reads. A read whose index is
   * more than FOLLOWER_LAG_ENTRIES_MAX past `applied` (a follower catching up; a leader
   * passes Infinity) is refused now instead of waiting for all of them to be applied.
   */
  confirmed(readStates: readonly ReadState[], applied: number): void {
    for (const rs of readStates) {
      const read = this.reads.get(rs.context);
      if (read === undefined) continue;
      if (rs.index - applied > FOLLOWER_LAG_ENTRIES_MAX) {
        this.reads.delete(rs.context);
        read.reject(notCaughtUp(rs.index - applied));
      } else {
        read.index = rs.index;
      }
    }
  }

  /** Resolves the reads whose confirmed index is applied now. */
  serve(applied: number): void {
    for (const [context, read] of this.reads) {
      if (read.index >= 0 && read.index <= applied) {
        this.reads.delete(context);
        read.resolve();
      }
    }
  }

  rejectAll(error: Error): void {
    for (const r of this.reads.values()) r.reject(error);
    this.reads.clear();
  }
}
