// Starts one cluster node in this process: the Raft node over its data
// directory, the HTTP API, and the peer transport on the same port (/raft).
import pino from 'pino';
import { RaftNode } from '../node/raft-node.ts';
import type { SyncMode } from '../log/types.ts';
import type { PeerAddress } from '../transport/index.ts';
import { dashboardHtml } from '../dashboard/index.ts';
import { createServer } from './create-server.ts';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface StartNodeOptions {
  /** This node's id, >= 1, unique in the cluster. */
  readonly nodeId: number;
  /** Bind address (default 127.0.0.1). */
  readonly host?: string;
  /** The node's one port: HTTP API, peers (/raft) and dashboard. 0 picks a free one. */
  readonly port: number;
  /** host:port that peers and clients use (default `${host}:${port}`). */
  readonly advertise?: string;
  readonly peers: readonly PeerAddress[];
  readonly dataDir: string;
  readonly clusterId?: string;
  /** Snapshot and compact the log every this many entries (default 10,000). */
  readonly snapshotThreshold?: number;
  /** Elections wait a random time in [t, 2t) ms (default 150). */
  readonly electionTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
  /** Joining an existing cluster (after POST /cluster/members): don't bootstrap a membership. */
  readonly join?: boolean;
  readonly logLevel?: LogLevel;
  /** How long a request may wait for a leader or a commit before 503 (default 5000 ms). */
  readonly requestTimeoutMs?: number;
  /** 'batch' (default): fsync before acknowledging. 'none' only for throwaway data. */
  readonly sync?: SyncMode;
}

export interface RunningNode {
  readonly url: string;
  readonly node: RaftNode;
  /** Stops accepting requests, finishes those in flight, closes peers and the log. */
  close(): Promise<void>;
}

export async function startNode(options: StartNodeOptions): Promise<RunningNode> {
  const host = options.host ?? '127.0.0.1';
  const electionTimeoutMs = options.electionTimeoutMs ?? 150;
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 50;
  if (!(heartbeatIntervalMs < electionTimeoutMs)) {
    throw new Error(`the heartbeat interval (${heartbeatIntervalMs} ms) must be shorter than the election timeout (${electionTimeoutMs} ms)`);
  }
  const logger = pino({ level: options.logLevel ?? 'info', base: { node: options.nodeId } });
  const common = {
    nodeId: options.nodeId,
    clusterId: options.clusterId ?? 'collection-store',
    dataDir: options.dataDir,
    peers: options.peers,
    join: options.join ?? false,
    heartbeatIntervalMs,
    electionTimeoutMs,
    snapshotThreshold: options.snapshotThreshold ?? 10_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 5000,
    sync: options.sync ?? 'batch',
    logger,
  };
  // The advertised address must be known before the transport says hello; with port 0
  // the real port is known only after listen(), so listen first on a bare server.
  const node = await RaftNode.open({ ...common, advertise: options.advertise ?? `${host}:${options.port}` }).catch((error: unknown) => {
    throw new Error(`cannot open data directory ${options.dataDir}: ${error instanceof Error ? error.message : String(error)}`);
  });
  const app = await createServer({ backend: node, logger: logger.child({ component: 'http' }), dashboardHtml: dashboardHtml() });
  node.transport.attach(app.server);
  try {
    await app.listen({ port: options.port, host });
  } catch (error) {
    await node.close();
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'EADDRINUSE' ? `port ${options.port} on ${host} is already in use` : `cannot listen on ${host}:${options.port}: ${String(error)}`,
    );
  }
  await node.start();
  let closing: Promise<void> | null = null;
  return {
    url: node.url,
    node,
    close() {
      closing ??= (async () => {
        await app.close();
        await node.close();
      })();
      return closing;
    },
  };
}
