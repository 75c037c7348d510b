// Graceful shutdown on SIGTERM / SIGINT: the first signal runs `stop` once; a second one
// means the user has lost patience, so the process exits 1 at once.
import { EXIT_FAILURE } from './usage-error.ts';

const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** Calls `stop(signal)` on the first SIGTERM/SIGINT; exits 1 on the second. */
export function onShutdownSignal(stop: (signal: NodeJS.Signals) => void, onSecond?: () => void): void {
  let received = false;
  for (const signal of SHUTDOWN_SIGNALS) {
    process.on(signal, () => {
      if (received) {
        onSecond?.();
        process.exit(EXIT_FAILURE);
      }
      received = true;
      stop(signal);
    });
  }
}
