// Port probing: `cluster` checks every port it will hand out before starting anything, so
// a clash gives one clear error rather than one child dying among others that started.
import { createServer } from 'node:net';

/** Resolves true when `port` can be bound on `host` right now. */
export function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

/** The ports among `ports` that cannot be bound on `host`, in the given order. */
export async function portsInUse(host: string, ports: readonly number[]): Promise<number[]> {
  const free = await Promise.all(ports.map((port) => isPortFree(host, port)));
  return ports.filter((_, i) => !free[i]);
}

/** Lowest and highest base of a random search, below Linux's default ephemeral range
 * (32768-60999), whose ports the kernel hands out to outgoing connections and port-0 listeners
 * meanwhile: a port found free there can be taken before a node binds it (CI lost a node so). */
const RANDOM_BASE_PORT_MIN = 20_000;
const RANDOM_BASE_PORT_END = 32_768;
/** Random bases tried, at most. */
const RANDOM_BASE_ATTEMPTS_MAX = 50;

/** The first of `count` consecutive ports free on `host` now, from a random base; null when
 * none of RANDOM_BASE_ATTEMPTS_MAX bases had them all free. */
export async function freeConsecutivePorts(host: string, count: number): Promise<number | null> {
  for (let attempt = 0; attempt < RANDOM_BASE_ATTEMPTS_MAX; attempt++) {
    const base = RANDOM_BASE_PORT_MIN + Math.floor(Math.random() * (RANDOM_BASE_PORT_END - RANDOM_BASE_PORT_MIN - count));
    const free = await Promise.all(Array.from({ length: count }, (_, i) => isPortFree(host, base + i)));
    if (free.every(Boolean)) return base;
  }
  return null;
}
