// Retry delays, for the client's retries and the transport's reconnects: exponential, with
// "equal jitter" (half the cap is waited for sure, the other half at random), so that
// clients that failed together do not retry together, nodes restarted together do not
// dial in lockstep, and no delay collapses to zero.
//
// Pure (no I/O, no timers, no randomness of its own): the client package imports it too.

export interface BackoffPolicy {
  /** The cap of the first retry's delay; it doubles with each retry after it. */
  readonly delayMsInitial: number;
  /** The cap no delay goes beyond. */
  readonly delayMsMax: number;
}

/**
 * Delay in whole ms before retry number `retry` (0 = the first retry), in [cap/2, cap]
 * with cap = min(delayMsMax, delayMsInitial * 2^retry); `random` in [0, 1).
 */
export function backoffDelay(retry: number, policy: BackoffPolicy, random: number): number {
  if (!(retry >= 0) || !(random >= 0 && random < 1)) throw new RangeError(`backoffDelay: bad retry ${retry} or random ${random}`);
  validateBackoff(policy);
  const cap = Math.min(policy.delayMsMax, policy.delayMsInitial * 2 ** Math.min(retry, 30));
  return Math.round(cap / 2 + (random * cap) / 2);
}

/** Throws a RangeError unless 0 <= delayMsInitial <= delayMsMax, both finite. */
export function validateBackoff(policy: BackoffPolicy): void {
  const { delayMsInitial, delayMsMax } = policy;
  if (!Number.isFinite(delayMsInitial) || !Number.isFinite(delayMsMax) || delayMsInitial < 0 || delayMsMax < delayMsInitial) {
    throw new RangeError(`backoff: need 0 <= delayMsInitial <= delayMsMax, got delayMsInitial=${delayMsInitial} delayMsMax=${delayMsMax}`);
  }
}
