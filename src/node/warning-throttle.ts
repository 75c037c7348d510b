// Bounds how often one kind of warning reaches the log: a disk that stays slow or a machine
// that stays overloaded must not turn the node's log into a second load on it. The first
// warning goes out; then at most one per interval, saying how many were held back meanwhile.
// The count held back after the last warning is never logged: it shows only in the status
// lists (loopStalls, slowLogWrites) the warnings come from.

/** One warning of a kind per this many ms, at most. */
export const WARNING_INTERVAL_MS = 1000;

/** A warning function for one kind of event, throttled: `fields` says what each event puts
 * in the line; a line after a pause adds `heldBack`, the events not logged meanwhile. */
export function throttledWarning<T>(
  warn: (fields: Record<string, unknown>, message: string) => void,
  message: string,
  fields: (event: T) => Record<string, unknown>,
  throttle: WarningThrottle = new WarningThrottle(),
): (event: T) => void {
  return (event) => {
    const held = throttle.take();
    if (held === null) return;
    warn({ ...fields(event), ...(held > 0 ? { heldBack: held } : {}) }, message);
  };
}

export class WarningThrottle {
  private lastAtMs = Number.NEGATIVE_INFINITY;
  private held = 0;

  constructor(
    private readonly intervalMs: number = WARNING_INTERVAL_MS,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  /** Whether a warning may go out now: the number held back since the last one (0 or more),
   * or null when this one is held back too (and counted). */
  take(): number | null {
    const now = this.nowMs();
    if (now - this.lastAtMs < this.intervalMs) {
      this.held += 1;
      return null;
    }
    const held = this.held;
    this.held = 0;
    this.lastAtMs = now;
    return held;
  }
}
