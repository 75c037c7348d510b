// A group commit written by hand for a synchronous store (better-sqlite3): inserts that arrive
// while a commit is pending wait for the next event-loop turn and are committed together, in
// one transaction (one fsync), then all resolve. With 64 writers each batch carries every
// writer that was waiting, which is what our database and lmdb-js do on their own.

export class GroupCommit<T> {
  private pending: { item: T; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private scheduled = false;
  /** Transactions committed and items they carried, to report the batch size. */
  commits = 0;
  items = 0;

  /** `commit` writes and syncs every item in one transaction, or throws (then all fail). */
  constructor(private readonly commit: (items: readonly T[]) => void) {}

  submit(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // setImmediate, not a microtask: the writers resolved by the previous commit queue
        // their next insert in microtasks first, so they all make this batch.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    try {
      this.commit(batch.map((p) => p.item));
    } catch (error) {
      for (const p of batch) p.reject(error);
      return;
    }
    this.commits++;
    this.items += batch.length;
    for (const p of batch) p.resolve();
  }
}
