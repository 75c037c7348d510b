// Exponential backoff with "equal jitter": half the cap is waited for sure, the other
// half at random, so clients that failed together do not retry together, and no delay
// collapses to zero.

export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 50, maxMs: 1000 };

/** Delay before retry number `retry` (0 = the first retry); `random` in [0, 1). */
export function backoffDelay(retry: number, policy: BackoffPolicy, random: number): number {
  if (!(retry >= 0) || !(random >= 0 && random < 1)) throw new RangeError(`backoffDelay: bad retry ${retry} or random ${random}`);
  const cap = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(retry, 30));
  return cap / 2 + (random * cap) / 2;
}

export function validateBackoff(policy: BackoffPolicy): void {
  const { initialMs, maxMs } = policy;
  if (!Number.isFinite(initialMs) || !Number.isFinite(maxMs) || initialMs < 0 || maxMs < initialMs) {
    throw new RangeError(`backoff: need 0 <= initialMs <= maxMs, got initialMs=${initialMs} maxMs=${maxMs}`);
  }
}
