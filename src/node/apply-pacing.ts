// How many committed entries a node applies per Ready. Writers that wait for their
// write to be applied propose their next one as soon as it is: if every waiting
// entry is applied at once, all the new proposals land in one batch, and the CPU
// sits idle while the disk writes it, then the disk idles while the CPU applies
// it. Applying half of the entries per Ready splits the writers into two groups
// whose batches alternate: one group's batch is on its way to disk while the
// other group's entries are applied and its next writes proposed.
//
// Splitting pays only when applying half a batch takes longer than half a disk
// write (two halves then cost max(write, apply half) each instead of write +
// apply all for both); with few writers or a slow disk it costs throughput, so
// the choice follows moving averages of both times.

/** Weight of the newest sample in the moving averages. */
const SMOOTHING = 0.125;

export class ApplyPacing {
  /** Moving average of a log write's duration, in ms (0: none measured yet). */
  private writeMs = 0;
  /** Moving average of the time to apply one entry, in ms. */
  private applyMsPerEntry = 0;

  /** Committed entries to take in the next Ready, given how many are waiting. */
  budget(backlog: number): number {
    if (backlog < 2 || this.writeMs === 0) return Math.max(1, backlog);
    const half = Math.ceil(backlog / 2);
    return half * this.applyMsPerEntry > this.writeMs / 2 ? half : backlog;
  }

  /** A write of log entries took `ms` from being handed to the log to being durable. */
  wrote(ms: number): void {
    this.writeMs = this.writeMs === 0 ? ms : this.writeMs + SMOOTHING * (ms - this.writeMs);
  }

  /** Applying `entries` entries took `ms`. */
  applied(entries: number, ms: number): void {
    if (entries === 0) return;
    const perEntry = ms / entries;
    this.applyMsPerEntry = this.applyMsPerEntry === 0 ? perEntry : this.applyMsPerEntry + SMOOTHING * (perEntry - this.applyMsPerEntry);
  }
}
