// Starts one cluster node in this process: the Raft node over its data
// directory, the HTTP API, and the peer transport on the same port (/raft).
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { ClusterNode } from '../node/cluster-node.ts';
import { TtlSweeper } from '../node/ttl-sweeper.ts';
import { forceNewCluster } from '../node/force-new-cluster.ts';
import type { RaftNode } from '../node/raft-node.ts';
import type { SyncMode } from '../log/types.ts';
import type { PeerAddress } from '../transport/index.ts';
import type { PeerFaults } from '../transport/peer-faults.ts';
import { dashboardHtml } from '../dashboard/index.ts';
import type { AuthEnabledMarker, AuthOptions } from './auth/auth-plugin.ts';
import { createServer } from './create-server.ts';
import { blockThread, type FaultInjectionTarget, type PlantedBug } from './routes-fault-injection.ts';
import { makeDataDirPrivate } from './private-data-dir.ts';
import type { WriteTrace } from '../node/write-trace.ts';

/** PEM bytes of a node's TLS material (see start's --tls-cert-file, --tls-key-file, --tls-ca-file). */
export interface NodeTls {
  /** This node's certificate (chain), served to clients and peers and presented when dialing peers. */
  readonly cert: Buffer;
  readonly key: Buffer;
  /** The CA that signs every member's certificate: with it, peers must present one (mutual TLS) and are dialed over wss://. */
  readonly ca?: Buffer;
}

/** Time a client has to complete the TLS handshake (tls.Server's default: 120 s). */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

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
  /** Shared secret (>= 32 bytes) that peers must prove they know (see TransportOptions.clusterSecret); none: unauthenticated. */
  readonly clusterSecret?: Uint8Array;
  /** Serve HTTPS and wss:// on the port; with `ca`, peer links are mutual TLS. None: plain HTTP. */
  readonly tls?: NodeTls;
  /** Time a client has to complete the TLS handshake (default TLS_HANDSHAKE_TIMEOUT_MS). */
  readonly tlsHandshakeTimeoutMs?: number;
  /** Users, roles and tokens: a root password turns authentication on (docs/security.md). */
  readonly auth?: AuthOptions;
  /** Snapshot and compact the log every this many entries (default 10,000). */
  readonly snapshotThreshold?: number;
  /** Elections wait a random time in [t, 2t) ms (default 150). */
  readonly electionTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
  /** Joining an existing cluster (after POST /cluster/members): don't bootstrap a membership. */
  readonly join?: boolean;
  /** After a majority is lost for good: make this node's data a cluster of one, keeping
   * every entry it holds (src/node/force-new-cluster.ts, docs/operations.md). */
  readonly forceNewCluster?: boolean;
  readonly logLevel?: LogLevel;
  /** How long a request may wait for a leader or a commit before 503 (default 5000 ms). */
  readonly requestTimeoutMs?: number;
  /** 'batch' (default): fsync before acknowledging. 'none' only for throwaway data. */
  readonly sync?: SyncMode;
  /** Serve POST /cluster/fault-injection (crash, pause, drop or delay peer traffic) for chaos testing; default false. */
  readonly faultInjection?: boolean;
  /** Records when sampled entries pass each stage of the write path (`npm run bench -- cluster --trace`); none: off. */
  readonly writeTrace?: WriteTrace;
  /** Test-only planted bug (see routes-fault-injection.ts); never set in production. */
  readonly plantedBug?: PlantedBug;
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
  const tls = options.tls;
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
    warnLoopStalls: true,
    ...(options.clusterSecret !== undefined ? { clusterSecret: options.clusterSecret } : {}),
    ...(options.writeTrace !== undefined ? { writeTrace: options.writeTrace } : {}),
    ...(tls !== undefined ? { urlScheme: 'https' as const } : {}),
    // With a CA, peers are dialed over wss:// presenting this node's certificate and must present one the CA signed.
    ...(tls?.ca !== undefined ? { peerTls: { ca: tls.ca, cert: tls.cert, key: tls.key } } : {}),
  };
  // The advertised address must be known before the transport says hello; with port 0
  // the real port is known only after listen(), so pick a free port first (a bare
  // server on port 0, closed at once; another process could take it before our
  // listen, which then fails with a clear EADDRINUSE message).
  const port = options.port === 0 ? await pickFreePort(host) : options.port;
  await makeDataDirPrivate(options.dataDir, logger);
  // The HTTP API serves the opened node, which answers "still starting" until start() built its RaftNode.
  if (options.forceNewCluster === true)
    await forceNewCluster({ dataDir: options.dataDir, nodeId: options.nodeId, clusterId: common.clusterId, logger });
  const opened = await ClusterNode.open({ ...common, advertise: options.advertise ?? `${host}:${port}` }).catch((error: unknown) => {
    throw new Error(`cannot open data directory ${options.dataDir}: ${error instanceof Error ? error.message : String(error)}`);
  });
  const app = await createServer({
    backend: opened,
    logger: httpLogger(logger),
    dashboardHtml: dashboardHtml(),
    auth: { ...options.auth, enabledMarker: authEnabledMarker(options.dataDir, logger) },
    ...(tls !== undefined ? { https: httpsOptions(tls, options.tlsHandshakeTimeoutMs ?? TLS_HANDSHAKE_TIMEOUT_MS) } : {}),
    ...(options.faultInjection === true ? { faultInjection: faultTarget(opened.transport.faults, logger) } : {}),
    ...(options.plantedBug !== undefined ? { plantedBug: options.plantedBug } : {}),
  });
  let inFlight = 0;
  app.addHook('onRequest', async () => {
    inFlight++;
  });
  app.addHook('onResponse', async () => {
    inFlight--;
  });
  app.addHook('onRequestAbort', (_request, done) => {
    inFlight--;
    done();
  });
  opened.transport.attach(app.server);
  try {
    await app.listen({ port, host });
  } catch (error) {
    await opened.close();
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(code === 'EADDRINUSE' ? `port ${port} on ${host} is already in use` : `cannot listen on ${host}:${port}: ${String(error)}`, {
      cause: error,
    });
  }
  let node: RaftNode;
  try {
    node = await opened.start();
  } catch (error) {
    // Nothing may stay behind a node that did not start: not the port, the peer links or the log.
    await opened.transport.close().catch(() => {});
    await app.close().catch(() => {});
    await opened.close().catch(() => {});
    throw error;
  }
  // Expired documents of TTL collections are removed by the leader through the log (docs/models.md).
  const sweeper = new TtlSweeper({
    store: () => node.store,
    isLeader: () => node.status().role === 'leader',
    execute: (command) => node.execute(command),
  });
  sweeper.start();
  let closing: Promise<void> | null = null;
  return {
    url: node.url,
    node,
    close() {
      closing ??= (async () => {
        sweeper.stop();
        // Stop accepting requests, let those in flight finish (writes need the peers to
        // commit), then close the peer WebSockets: they count as open connections of the
        // HTTP server, so app.close() would otherwise wait for them.
        const appClosed = app.close();
        const deadline = Date.now() + common.requestTimeoutMs + 1000;
        while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        await node.transport.close();
        await appClosed;
        await node.close();
      })();
      return closing;
    },
  };
}

/**
 * One port serves the HTTP API and /raft. HTTP clients need no certificate, so the
 * handshake asks for one (with a CA) but never fails for lack of it: the transport admits
 * a /raft upgrade only over a connection whose certificate the CA verified
 * (req.socket.authorized).
 */
function httpsOptions(tls: NodeTls, handshakeTimeoutMs: number): HttpsServerOptions {
  return {
    cert: tls.cert,
    key: tls.key,
    ...(tls.ca !== undefined ? { ca: tls.ca, requestCert: true } : {}),
    rejectUnauthorized: false,
    // A connection that never completes its handshake is not a request yet, so the request
    // timeouts do not bound it; Node's default would let it hold a socket for 120 s.
    handshakeTimeout: handshakeTimeoutMs,
  };
}

/** What POST /cluster/fault-injection does to this process. */
function faultTarget(faults: PeerFaults, logger: Logger): FaultInjectionTarget {
  return {
    crash() {
      logger.warn('fault injection: crashing (SIGKILL to self)');
      process.kill(process.pid, 'SIGKILL');
    },
    pause(durationMs) {
      logger.warn({ durationMs }, 'fault injection: pausing the whole process');
      blockThread(durationMs);
    },
    setNetwork(rules) {
      logger.warn({ rules }, 'fault injection: peer traffic rules set');
      faults.set(rules);
    },
    network: () => faults.rules(),
  };
}

function pickFreePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => (port > 0 ? resolve(port) : reject(new Error(`could not pick a free port on ${host}`))));
    });
  });
}

/** Fastify logs two lines per request at info: at warn, a busy node's log keeps only what matters. */
function httpLogger(logger: pino.Logger): pino.Logger {
  const level = logger.levelVal > pino.levels.values['warn']! ? logger.level : 'warn';
  return logger.child({ component: 'http' }, { level });
}

/** The file that says this node has seen authentication on (docs/security.md). */
export const AUTH_ENABLED_FILE = 'auth-enabled';

function authEnabledMarker(dataDir: string, logger: Logger): AuthEnabledMarker {
  const path = join(dataDir, AUTH_ENABLED_FILE);
  return {
    present: existsSync(path),
    write(): void {
      try {
        writeFileSync(path, 'authentication is on in this cluster: this node requires it from its start\n', { mode: 0o600 });
      } catch (error) {
        // Without it a restart falls back to answering 503 until the node has caught up.
        logger.warn({ err: error, path }, 'could not record that authentication is on');
      }
    },
  };
}
