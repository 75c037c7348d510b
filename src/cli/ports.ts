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
