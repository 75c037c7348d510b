// What the chaos runner does to a cluster, whoever runs it: a local cluster of child
// processes (local-cluster.ts: signals) or running nodes started with
// --enable-fault-injection (remote-cluster.ts: the endpoint).
import { FAULT_INJECTION_PATH } from '../server/routes-fault-injection.ts';
import type { NodeClient } from './node-client.ts';

export interface ChaosCluster {
  readonly ids: readonly number[];
  url(id: number): string;
  /** False while the runner holds the node crashed or stopped. */
  reachable(id: number): boolean;
  /** Kills the node's process at once (SIGKILL, or the endpoint's crash). */
  crash(id: number): Promise<void>;
  /** Stops the node cleanly (SIGTERM; remote: the endpoint's crash, as no clean stop is offered). */
  stop(id: number): Promise<void>;
  /** Brings a crashed node back (a new process; remote: waits for its supervisor to restart it). */
  restart(id: number): Promise<void>;
  /** Freezes the whole process for `ms` (SIGSTOP then SIGCONT, or the endpoint's pause). */
  pause(id: number, ms: number): Promise<void>;
  /** Cuts Raft traffic between the groups (each node keeps talking to its own group). */
  partition(groups: readonly (readonly number[])[]): Promise<void>;
  heal(): Promise<void>;
  close(): Promise<void>;
}

/** Sets the network rules of every node so that only nodes of the same group talk. */
export async function partitionThroughEndpoint(
  client: NodeClient,
  ids: readonly number[],
  url: (id: number) => string,
  groups: readonly (readonly number[])[],
): Promise<void> {
  await Promise.all(
    ids.map(async (id) => {
      const own = groups.find((g) => g.includes(id)) ?? [id];
      const drop = ids.filter((other) => other !== id && !own.includes(other));
      await faultRequest(client, url(id), { fault: 'network', drop });
    }),
  );
}

export async function healThroughEndpoint(client: NodeClient, ids: readonly number[], url: (id: number) => string): Promise<void> {
  await Promise.all(ids.map((id) => faultRequest(client, url(id), { fault: 'heal' }).catch(() => {})));
}

export async function faultRequest(client: NodeClient, url: string, body: Record<string, unknown>): Promise<void> {
  const outcome = await client.call(url, 'POST', FAULT_INJECTION_PATH, body);
  if (outcome.kind !== 'ok') {
    const hint = outcome.status === 404 ? ' (was the node started with --enable-fault-injection?)' : '';
    throw new Error(`fault injection at ${url} failed: ${outcome.code}: ${outcome.message}${hint}`);
  }
}
