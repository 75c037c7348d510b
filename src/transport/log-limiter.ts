// Warnings an attacker (or a broken peer) can cause at will are rate-limited: at most
// `linesMax` per window, then one line saying how many were left out.
import type { Logger } from 'pino';

export const LOG_LINES_PER_WINDOW_MAX = 20;
export const LOG_WINDOW_MS = 10_000;

export class LogLimiter {
  private windowStartMs = -Infinity;
  private lines = 0;
  private suppressed = 0;

  constructor(
    private readonly logger: Logger,
    private readonly linesMax = LOG_LINES_PER_WINDOW_MAX,
    private readonly windowMs = LOG_WINDOW_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  warn(fields: Record<string, unknown>, message: string): void {
    const now = this.now();
    if (now - this.windowStartMs >= this.windowMs) {
      if (this.suppressed > 0) {
        this.logger.warn({ suppressed: this.suppressed }, `${this.suppressed} similar warnings left out in the last ${this.windowMs} ms`);
      }
      this.windowStartMs = now;
      this.lines = 0;
      this.suppressed = 0;
    }
    if (this.lines < this.linesMax) {
      this.lines += 1;
      this.logger.warn(fields, message);
    } else {
      this.suppressed += 1;
      this.logger.debug(fields, message);
    }
  }
}
