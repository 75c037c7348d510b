// `collection-store start`: runs one cluster node in this process until SIGTERM/SIGINT.
import { Option, type Command } from 'commander';
import type { RunningNode, StartNodeOptions } from '../server/start-node.ts';
import { ensureUsableDataDir } from './data-dir.ts';
import {
  DEFAULT_HOST,
  parseAdvertiseFlag,
  parseDurationFlag,
  parseHostFlag,
  parseIntegerFlag,
  parsePeersFlag,
  parsePortFlag,
  parseTuning,
  MAX_NODE_ID,
  type RawTuning,
} from './flags.ts';
import { isLoopbackHost, readClusterSecretFile, SECRET_FLAG } from './secret-file.ts';
import { readPasswordFile, ROOT_PASSWORD_FLAG } from './password-file.ts';
import { readTlsFlags, TLS_CA_FLAG, TLS_CERT_FLAG, TLS_KEY_FLAG, type RawTlsFlags } from './tls-files.ts';
import { onShutdownSignal } from './signals.ts';
import { addTuningOptions } from './tuning-options.ts';
import { EXIT_FAILURE, EXIT_OK, messageOf, printError, UsageError } from './usage-error.ts';

/** Bind addresses that name no host a certificate could be checked against. */
const WILDCARD_HOSTS: ReadonlySet<string> = new Set(['0.0.0.0', '::', '[::]']);

/** Bounds of --token-ttl: a second (tests) to a day (a stolen token must expire). */
const TOKEN_TTL_MS_MIN = 1000;
const TOKEN_TTL_MS_MAX = 24 * 3_600_000;

/** How long a node whose parent `cluster` process died may take to stop. */
const ORPHAN_STOP_DEADLINE_MS = 10_000;

interface RawStartOptions extends RawTuning, RawTlsFlags {
  readonly nodeId?: unknown;
  readonly host?: unknown;
  readonly port?: unknown;
  readonly advertise?: unknown;
  readonly peers?: unknown;
  readonly dataDir?: unknown;
  readonly join?: unknown;
  readonly forceNewCluster?: unknown;
  readonly clusterSecretFile?: unknown;
  readonly rootPasswordFile?: unknown;
  readonly tokenTtl?: unknown;
  readonly insecure?: unknown;
  readonly stopOnStdinClose?: unknown;
  readonly enableFaultInjection?: unknown;
}

/** Test-only: the environment variable that plants a bug in the node (chaos tests; routes-fault-injection.ts). */
export const PLANTED_BUG_ENV = 'COLLECTION_STORE_PLANTED_BUG';

/** Turns the raw flags into StartNodeOptions; throws a UsageError naming the first bad flag. */
export async function parseStartOptions(raw: RawStartOptions): Promise<StartNodeOptions> {
  if (raw.nodeId === undefined) throw new UsageError('--node-id is required');
  const nodeId = parseIntegerFlag('--node-id', raw.nodeId, 1, MAX_NODE_ID);
  if (raw.port === undefined) throw new UsageError('--port is required');
  const port = parsePortFlag('--port', raw.port);
  const host = parseHostFlag('--host', raw.host ?? DEFAULT_HOST);
  const advertise = raw.advertise === undefined ? undefined : parseAdvertiseFlag('--advertise', raw.advertise);
  const peers = parsePeersFlag('--peers', raw.peers);
  const ownAddress = (advertise ?? `${host.includes(':') ? `[${host}]` : host}:${port}`).toLowerCase();
  for (const peer of peers) {
    if (peer.id === nodeId) throw new UsageError(`--peers lists this node's own id ${nodeId}`);
    if (peer.address === ownAddress) throw new UsageError(`--peers lists this node's own address ${ownAddress}`);
  }
  if (raw.forceNewCluster === true && raw.join === true) throw new UsageError('--force-new-cluster and --join exclude each other');
  const tuning = parseTuning(raw);
  const clusterSecret = raw.clusterSecretFile === undefined ? undefined : await readClusterSecretFile(SECRET_FLAG, raw.clusterSecretFile);
  // The certificate must name the host that peers and clients dial (unknowable for a wildcard bind without --advertise).
  const advertisedHost = advertise === undefined ? host : advertise.slice(0, advertise.lastIndexOf(':'));
  const tls = await readTlsFlags(raw, WILDCARD_HOSTS.has(advertisedHost) ? null : advertisedHost);
  if (tls !== undefined && tls.ca === undefined && (peers.length > 0 || raw.join === true)) {
    // The port serves only TLS, so peers must be dialed over wss://, which verifies them against the CA.
    throw new UsageError(
      `${TLS_CA_FLAG} is needed with --peers or --join when ${TLS_CERT_FLAG} is given: peers are dialed over wss:// and must present a certificate signed by it`,
    );
  }
  // Peers are authenticated by the secret, or by mutual TLS (a certificate signed by the CA).
  if (clusterSecret === undefined && tls?.ca === undefined && raw.insecure !== true && !isLoopbackHost(host)) {
    throw new UsageError(
      `--host ${host} is not a loopback address: peers must then authenticate, so give ${SECRET_FLAG} or ${TLS_CERT_FLAG}, ${TLS_KEY_FLAG} and ${TLS_CA_FLAG} (or --insecure to run unauthenticated anyway)`,
    );
  }
  const rootPassword = raw.rootPasswordFile === undefined ? undefined : await readPasswordFile(ROOT_PASSWORD_FLAG, raw.rootPasswordFile);
  const tokenTtlMs = raw.tokenTtl === undefined ? undefined : parseDurationFlag('--token-ttl', raw.tokenTtl, TOKEN_TTL_MS_MIN, TOKEN_TTL_MS_MAX);
  if (raw.dataDir === undefined) throw new UsageError('--data-dir is required');
  const dataDir = await ensureUsableDataDir('--data-dir', raw.dataDir);
  return {
    nodeId,
    host,
    port,
    ...(advertise !== undefined ? { advertise } : {}),
    peers,
    dataDir,
    ...(clusterSecret !== undefined ? { clusterSecret } : {}),
    ...(tls !== undefined ? { tls } : {}),
    ...(rootPassword !== undefined || tokenTtlMs !== undefined
      ? { auth: { ...(rootPassword !== undefined ? { rootPassword } : {}), ...(tokenTtlMs !== undefined ? { tokenTtlMs } : {}) } }
      : {}),
    clusterId: tuning.clusterId,
    snapshotThreshold: tuning.snapshotThreshold,
    electionTimeoutMs: tuning.electionTimeoutMs,
    heartbeatIntervalMs: tuning.heartbeatIntervalMs,
    join: raw.join === true,
    ...(raw.forceNewCluster === true ? { forceNewCluster: true } : {}),
    logLevel: tuning.logLevel,
    ...(raw.enableFaultInjection === true ? { faultInjection: true } : {}),
    ...(process.env[PLANTED_BUG_ENV] === 'stale-reads' ? { plantedBug: 'stale-reads' as const } : {}),
  };
}

export function registerStart(program: Command): void {
  const command = program
    .command('start')
    .description('run one node of a cluster in this process (stops on SIGTERM or Ctrl-C)')
    .option('--node-id <id>', "this node's id, an integer >= 1 unique in the cluster (required)")
    .option('--port <port>', "the node's one port: HTTP API, peer transport (/raft) and dashboard (required)")
    .option('--data-dir <dir>', 'directory of the log and snapshots, created when missing (required)')
    .option('--peers <list>', 'the other nodes, "host:port,host:port" or "2=host:port,3=host:port" (default: none, a cluster of one)')
    .addOption(new Option('--host <address>', 'address to bind').default(DEFAULT_HOST))
    .option('--advertise <host:port>', 'address peers and clients use to reach this node (default: <host>:<port>)')
    .option('--join', 'join an existing cluster (after POST /cluster/members) instead of bootstrapping one', false)
    .option(
      '--force-new-cluster',
      'after a majority of the members is lost for good: start a new cluster of one from this data directory, keeping every entry it holds; use once, then remove the flag (docs/operations.md)',
      false,
    )
    .option(
      `${SECRET_FLAG} <path>`,
      'file holding the secret shared by every node, as hex (at least 64 digits = 32 bytes; e.g. `openssl rand -hex 32`), mode 0600: peers must prove they know it (default: none, peers unauthenticated, --host loopback only)',
    )
    .option(
      `${TLS_CERT_FLAG} <path>`,
      `PEM certificate (chain) of this node: with ${TLS_KEY_FLAG}, the port serves HTTPS, and wss:// for peers; it must name the advertised host (subjectAltName) (default: none, plain HTTP)`,
    )
    .option(`${TLS_KEY_FLAG} <path>`, `PEM private key of ${TLS_CERT_FLAG}, unencrypted, mode 0600 (default: none)`)
    .option(
      `${TLS_CA_FLAG} <path>`,
      `PEM CA certificate(s) that sign every member's certificate: peers must present one (mutual TLS) and are dialed over wss:// and verified against it; needed with --peers or --join when TLS is on (default: none, peers present no certificate)`,
    )
    .option(
      `${ROOT_PASSWORD_FLAG} <path>`,
      'file holding the password of user root (8 to 1,024 characters, one line, mode 0600): turns on authentication for the whole cluster (users, roles, tokens; docs/security.md); used once, when the cluster has no users yet (default: none, the HTTP API answers anyone unless another node turned authentication on)',
    )
    .option('--token-ttl <duration>', 'lifetime of the tokens this node issues at POST /auth/login: 3600, 90s, 30m, 1h (1 s to 24 h)', '1h')
    .option(
      '--insecure',
      `allow a --host other than loopback without ${SECRET_FLAG} or ${TLS_CA_FLAG}: anyone who reaches the port can act as a peer`,
      false,
    )
    .option(
      '--enable-fault-injection',
      'serve POST /cluster/fault-injection (root only with authentication): crash this process, pause it, or drop or delay its traffic with chosen peers, for `collection-store chaos --cluster` (docs/operations.md); never on a production cluster (default: off, the route does not exist)',
      false,
    )
    // Set by `cluster` for its children: when the parent dies, the pipe closes, the node stops.
    .addOption(new Option('--stop-on-stdin-close').hideHelp());
  addTuningOptions(command);
  command.action(async (raw: RawStartOptions) => {
    const options = await parseStartOptions(raw);
    if (
      options.clusterSecret === undefined &&
      options.tls?.ca === undefined &&
      raw.insecure === true &&
      !isLoopbackHost(options.host ?? DEFAULT_HOST)
    ) {
      printError(
        `warning: --insecure: peers are not authenticated; anyone who can reach ${options.host}:${options.port} can act as a member of the cluster (give ${SECRET_FLAG} or ${TLS_CA_FLAG} to prevent it)`,
      );
    }
    if (options.plantedBug !== undefined) {
      printError(`warning: ${PLANTED_BUG_ENV}=${options.plantedBug}: this node has a planted bug (tests only): reads are not linearizable`);
    }
    if (options.forceNewCluster === true) {
      printError(
        `WARNING: --force-new-cluster: node ${options.nodeId} starts a NEW cluster of one from ${options.dataDir}, removing every other member; ` +
          'use it only when a majority is lost for good, never start the old members again with their data, and remove the flag after this start',
      );
    }
    await runStart(options, raw.stopOnStdinClose === true);
  });
}

async function runStart(options: StartNodeOptions, stopOnStdinClose: boolean): Promise<void> {
  let node: RunningNode | null = null;
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    // Before startNode resolves there is nothing to close yet; the code below does it.
    if (node !== null) void closeAndExit(node);
  };
  onShutdownSignal(stop);
  if (stopOnStdinClose) {
    // The parent is gone, so nobody would send a second signal: bound the shutdown.
    const orphaned = (): void => {
      setTimeout(() => {
        printError(`node ${options.nodeId} did not stop within ${ORPHAN_STOP_DEADLINE_MS / 1000} s of its parent exiting; exiting anyway`);
        process.exit(EXIT_FAILURE);
      }, ORPHAN_STOP_DEADLINE_MS).unref();
      stop();
    };
    process.stdin.once('end', orphaned);
    process.stdin.once('close', orphaned);
    process.stdin.resume();
  }
  try {
    // Loaded here, not at the top: `status` and `--help` need not load the whole server.
    const { startNode } = await import('../server/start-node.ts');
    node = await startNode(options);
  } catch (error) {
    printError(`node ${options.nodeId} failed to start: ${messageOf(error)}`);
    process.exit(EXIT_FAILURE);
  }
  node.node.onFatal((error) => {
    printError(`node ${options.nodeId} stopped on a fatal error: ${messageOf(error)}`);
    process.exit(EXIT_FAILURE);
  });
  process.stdout.write(`node ${options.nodeId} (pid ${process.pid}) listening at ${node.url} (dashboard ${node.url}/dashboard)\n`);
  if (stopping) await closeAndExit(node);
}

async function closeAndExit(node: RunningNode): Promise<void> {
  try {
    await node.close();
  } catch (error) {
    printError(`error while stopping: ${messageOf(error)}`);
    process.exit(EXIT_FAILURE);
  }
  process.exit(EXIT_OK);
}
