// Whether a node should split its writers into two alternating groups.
//
// Writers that wait for their write to be applied send their next one as soon as
// it is. If every waiting entry is applied at once (and every concurrent insert
// goes into one entry), all writers form one group: the CPU idles while the disk
// writes the group's batch, then the disk idles while the CPU applies it and the
// writers prepare the next. With two groups, one group's batch is on its way to
// disk while the other group is applied and prepares its next batch.
//
// For W writers costing c of CPU each and a disk write of D: one group cycles in
// D + W·c for W writes, two groups in max(D, W·c/2) for W/2 writes each, so two
// groups are faster exactly when W·c > D: when the event loop is busy for more of
// a cycle than it waits for the disk. That is measured, not guessed: with few
// writers or a slow disk the node stays with one group.

/** Weight of the newest cycle in the moving average. */
const SMOOTHING = 0.125;

export class ApplyPacing {
  /** Moving average of the share of a Ready cycle the event loop was busy (0..1). */
  private busyShare = 0;

  /** One Ready cycle took `busyMs` of work and `idleMs` of waiting (event-loop utilization). */
  cycle(busyMs: number, idleMs: number): void {
    const total = busyMs + idleMs;
    if (!(total > 0)) return;
    this.busyShare += SMOOTHING * (busyMs / total - this.busyShare);
  }

  /** Whether two alternating groups pay off now. */
  get splitting(): boolean {
    return this.busyShare > 0.5;
  }

  /** Committed entries to apply in the next Ready, given how many wait: half when splitting. */
  budget(backlog: number): number {
    return backlog >= 2 && this.splitting ? Math.ceil(backlog / 2) : Math.max(1, backlog);
  }

  /** The most concurrent inserts to coalesce into one entry: half of those in flight when
   * splitting (see InsertCoalescer), else no limit. */
  groupLimit(inFlight: number): number {
    return inFlight >= 2 && this.splitting ? Math.ceil(inFlight / 2) : Infinity;
  }
}
