// Waits until every node of a local cluster answers /healthz and knows the same leader,
// reporting progress meanwhile. Only observes: it restarts nothing.
import { Agent, request, type Dispatcher } from 'undici';

export interface NodeProbe {
  readonly healthy: boolean;
  readonly leaderId: number | null;
}

const PROBE_TIMEOUT_MS = 1000;
const POLL_INTERVAL_MS = 200;
const PROGRESS_INTERVAL_MS = 2000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function getJson(url: string, dispatcher: Dispatcher | undefined, authorization?: string): Promise<unknown> {
  const response = await request(url, {
    signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    ...(dispatcher !== undefined ? { dispatcher } : {}),
    ...(authorization !== undefined ? { headers: { authorization } } : {}),
  });
  const body: unknown = await response.body.json().catch(() => null);
  return response.statusCode >= 200 && response.statusCode < 300 ? body : null;
}

/** /healthz, then /cluster/status's leader; never throws. `dispatcher`: one that trusts the nodes' CA, for https:// URLs;
 * `authorization`: root's credentials when authentication is on (before it is set up, the leader stays unknown). */
export async function probeNode(url: string, dispatcher?: Dispatcher, authorization?: string): Promise<NodeProbe> {
  try {
    if ((await getJson(`${url}/healthz`, dispatcher)) === null) return { healthy: false, leaderId: null };
    const status = await getJson(`${url}/cluster/status`, dispatcher, authorization);
    const leader = (status as { leader?: { id?: unknown } | null } | null)?.leader;
    return { healthy: true, leaderId: typeof leader?.id === 'number' ? leader.id : null };
  } catch {
    return { healthy: false, leaderId: null };
  }
}

export interface ReadinessTarget {
  readonly url: string;
  readonly running: boolean;
}

/**
 * Polls until every running node is healthy and all name one leader; returns its id, or
 * null when `cancelled()` turns true or no node is running any more. `ca`: the PEM CA that
 * signed the nodes' certificates, for https:// URLs.
 */
export async function waitForCluster(
  nodes: readonly ReadinessTarget[],
  cancelled: () => boolean,
  progress: (line: string) => void,
  ca?: Buffer,
  authorization?: string,
): Promise<number | null> {
  const dispatcher = ca === undefined ? undefined : new Agent({ connect: { ca } });
  try {
    return await pollCluster(nodes, cancelled, progress, dispatcher, authorization);
  } finally {
    await dispatcher?.close();
  }
}

async function pollCluster(
  nodes: readonly ReadinessTarget[],
  cancelled: () => boolean,
  progress: (line: string) => void,
  dispatcher: Dispatcher | undefined,
  authorization: string | undefined,
): Promise<number | null> {
  let lastLine = '';
  let lastPrinted = 0;
  for (;;) {
    if (cancelled()) return null;
    const live = nodes.filter((n) => n.running);
    if (live.length === 0) return null;
    const probes = await Promise.all(live.map((n) => probeNode(n.url, dispatcher, authorization)));
    if (cancelled()) return null;
    const healthy = probes.filter((p) => p.healthy).length;
    const leaders = new Set(probes.map((p) => p.leaderId));
    const [leader] = leaders;
    if (healthy === live.length && leaders.size === 1 && leader !== null && leader !== undefined) return leader;
    const known = [...leaders].filter((id): id is number => id !== null);
    const leaderText =
      known.length === 0
        ? 'no leader yet'
        : known.length === 1
          ? `leader: node ${known[0]} (not yet known to all)`
          : `nodes disagree on the leader (${known.join(', ')})`;
    const line = `waiting: ${healthy}/${live.length} nodes answer /healthz, ${leaderText}`;
    const now = performance.now();
    if ((line !== lastLine && now - lastPrinted >= POLL_INTERVAL_MS * 2) || now - lastPrinted >= PROGRESS_INTERVAL_MS) {
      progress(line);
      lastLine = line;
      lastPrinted = now;
    }
    await sleep(POLL_INTERVAL_MS);
  }
}
