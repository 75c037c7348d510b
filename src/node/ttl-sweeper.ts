// The leader's TTL sweep: every TTL_SWEEP_INTERVAL_MS, on the leader only, documents of
// collections whose model has a `ttlField` or that have a TTL index (`expireAfterSeconds`),
// and that expired by the leader's clock, are removed
// through an ordinary log entry (a transaction of removes, each guarded by the document's
// `_rev`, so a document changed since it was seen is left alone), so every node removes the
// same documents and history records the deletions. Reads hide expired documents before that
// (store/ttl.ts), so the delay only bounds how long they take memory. Each sweep takes the
// earliest-expiring documents of each collection off its order of expiry
// (store/ttl-order.ts, Store.expiredDocuments): O(log n) per collection plus the documents
// removed; live documents cost nothing, however many there are or wherever they sort.
import type { Command, CommandResult } from '../store/commands.ts';
import type { Store } from '../store/store.ts';

/** How often the leader sweeps (ms): an expired document is removed within about this long
 * (plus one commit), when there are no more than TTL_SWEEP_BATCH_DOCS_MAX to remove. */
export const TTL_SWEEP_INTERVAL_MS = 1_000;
/** Documents removed per entry, at most (per collection and sweep): the earliest expiries first. */
export const TTL_SWEEP_BATCH_DOCS_MAX = 500;

export interface SweepHost {
  store(): Store;
  isLeader(): boolean;
  execute(command: Command): Promise<CommandResult>;
}

export class TtlSweeper {
  private timer: ReturnType<typeof setInterval> | undefined;
  private running = false;

  constructor(
    private readonly host: SweepHost,
    private readonly intervalMs = TTL_SWEEP_INTERVAL_MS,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One sweep (never two at once); errors are left to the next sweep. */
  async sweep(): Promise<number> {
    if (this.running || !this.host.isLeader()) return 0;
    this.running = true;
    let removed = 0;
    try {
      const store = this.host.store();
      for (const collection of store.ttlCollections()) {
        const expired = store.expiredDocuments(collection, Date.now(), TTL_SWEEP_BATCH_DOCS_MAX);
        if (expired.length === 0) continue;
        const result = await this.host.execute({
          type: 'tx',
          if: [],
          ops: expired.map((d) => ({ type: 'remove', collection, filter: { _id: d._id, _rev: d._rev }, multi: false })),
        });
        if (result.ok) removed += expired.length;
      }
    } catch {
      // Not the leader any more, closing, or a timeout: the next sweep tries again.
    } finally {
      this.running = false;
    }
    return removed;
  }
}
