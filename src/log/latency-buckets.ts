// A latency histogram with fixed buckets, kept as plain counts: observing costs a short
// scan and two additions, and allocates nothing, so it may sit on a write path (one
// observation per durable write batch). The server exports it as a Prometheus histogram.

/** Upper bounds of the buckets in milliseconds; one more bucket, +Inf, follows the last. */
export const LATENCY_BUCKET_BOUNDS_MS: readonly number[] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10_000];

export class LatencyBuckets {
  readonly boundsMs: readonly number[];
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  private readonly counts: Float64Array;
  private total = 0;
  private totalMs = 0;

  constructor(boundsMs: readonly number[] = LATENCY_BUCKET_BOUNDS_MS) {
    for (let i = 1; i < boundsMs.length; i++) {
      if (!(boundsMs[i]! > boundsMs[i - 1]!)) throw new RangeError('bucket bounds must increase');
    }
    this.boundsMs = boundsMs;
    this.counts = new Float64Array(boundsMs.length + 1);
  }

  observe(ms: number): void {
    const value = ms > 0 ? ms : 0;
    let i = 0;
    while (i < this.boundsMs.length && value > this.boundsMs[i]!) i++;
    this.counts[i]!++;
    this.total++;
    this.totalMs += value;
  }

  get count(): number {
    return this.total;
  }

  get sumMs(): number {
    return this.totalMs;
  }

  /** Observations at or below each bound, then the total (+Inf): Prometheus's `le` buckets. */
  cumulative(): number[] {
    const out: number[] = [];
    let running = 0;
    for (const c of this.counts) {
      running += c;
      out.push(running);
    }
    return out;
  }

  /** The upper bound of the bucket that holds the q-quantile (0 < q <= 1): an estimate
   * never below the true value, null with no observations, Infinity past the last bound. */
  quantileMs(q: number): number | null {
    if (this.total === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let running = 0;
    for (let i = 0; i < this.counts.length; i++) {
      running += this.counts[i]!;
      if (running >= rank) return i < this.boundsMs.length ? this.boundsMs[i]! : Infinity;
    }
    return Infinity;
  }
}
