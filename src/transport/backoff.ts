// Reconnect delays: exponential with "equal jitter" (half fixed, half random), so that
// nodes restarted together do not dial in lockstep, capped at maxMs.

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
}

export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number): number {
  if (!(attempt >= 0 && options.initialMs > 0 && options.maxMs >= options.initialMs)) {
    throw new Error('backoff: invalid attempt or options');
  }
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  const half = ceiling / 2;
  return Math.round(half + half * random());
}
