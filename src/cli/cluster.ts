// `collection-store cluster`: a local cluster of N node processes for development. Starts
// them, prefixes their output, says when they are ready, and stops them all on Ctrl-C.
// It restarts nothing: a node that dies stays dead (and is reported).
import { Option, type Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { ClusterChild, describeExit } from './cluster-child.ts';
import { waitForCluster } from './cluster-readiness.ts';
import { ensureUsableDataDir } from './data-dir.ts';
import { DEFAULT_HOST, parseHostFlag, parseIntegerFlag, parsePortFlag, parseTuning, tuningArgs, type NodeTuning, type RawTuning } from './flags.ts';
import { portsInUse } from './ports.ts';
import { ensureLocalTls, TLS_DIR_NAME, type LocalTls } from './local-ca.ts';
import { createClusterSecretFile, GENERATED_SECRET_NAME, readClusterSecretFile, SECRET_FLAG } from './secret-file.ts';
import { onShutdownSignal } from './signals.ts';
import { readPasswordFile, ROOT_PASSWORD_FLAG } from './password-file.ts';
import { TLS_CA_FLAG, TLS_CERT_FLAG, TLS_KEY_FLAG } from './tls-files.ts';
import { addTuningOptions } from './tuning-options.ts';
import { EXIT_FAILURE, EXIT_OK, printError, UsageError } from './usage-error.ts';

export const MAX_LOCAL_NODES = 7;
const DEFAULT_NODES = 3;
const DEFAULT_BASE_PORT = 8080;
const DEFAULT_DATA_DIR = './data';
/** How long a node may take to stop after SIGTERM before it is killed. */
const STOP_GRACE_MS = 5000;

interface RawClusterOptions extends RawTuning {
  readonly nodes?: unknown;
  readonly basePort?: unknown;
  readonly dataDir?: unknown;
  readonly host?: unknown;
  readonly clusterSecretFile?: unknown;
  readonly rootPasswordFile?: unknown;
  readonly tls?: unknown;
}

export interface ClusterOptions {
  readonly nodes: number;
  readonly basePort: number;
  /** Address the nodes bind. */
  readonly host: string;
  /** Address used to reach them (the bind address, or loopback for a wildcard). */
  readonly contactHost: string;
  readonly dataDir: string;
  /** The secret file every node is started with: the one given, else <dataDir>/cluster.secret. */
  readonly secretFile: string;
  /** The secret file was made by this run (it did not exist). */
  readonly secretCreated: boolean;
  /** --tls: the private CA and node certificates in <dataDir>/tls; null: plain HTTP. */
  readonly tls: LocalTls | null;
  /** --root-password-file, resolved, and the password it holds (to probe the nodes as root); null: none. */
  readonly rootPassword: { readonly file: string; readonly password: string } | null;
  readonly tuning: NodeTuning;
}

export async function parseClusterOptions(raw: RawClusterOptions): Promise<ClusterOptions> {
  const nodes = parseIntegerFlag('--nodes', raw.nodes ?? DEFAULT_NODES, 1, MAX_LOCAL_NODES);
  const basePort = parsePortFlag('--base-port', raw.basePort ?? DEFAULT_BASE_PORT);
  if (basePort + nodes - 1 > 65535) {
    throw new UsageError(`--base-port ${basePort} leaves no room for ${nodes} consecutive ports (the last would be ${basePort + nodes - 1})`);
  }
  const host = parseHostFlag('--host', raw.host ?? DEFAULT_HOST);
  const wildcard = host === '0.0.0.0' || host === '::';
  const contactHost = wildcard ? '127.0.0.1' : host;
  const tuning = parseTuning(raw);
  const dataDir = await ensureUsableDataDir('--data-dir', raw.dataDir ?? DEFAULT_DATA_DIR);
  // Without a secret file, one is generated once into the data dir: a restart reuses it.
  const given = raw.clusterSecretFile !== undefined;
  const secretFile = given ? resolve(String(raw.clusterSecretFile)) : join(dataDir, GENERATED_SECRET_NAME);
  const secretCreated = given ? false : await createClusterSecretFile(secretFile);
  // Checked here too, so that a bad file is one line from `cluster` rather than one per node.
  await readClusterSecretFile(SECRET_FLAG, given ? raw.clusterSecretFile : secretFile);
  // Certificates name the host the nodes are reached at (peers dial it and verify the name).
  const tls =
    raw.tls === true
      ? await ensureLocalTls(
          dataDir,
          Array.from({ length: nodes }, (_, i) => i + 1),
          [contactHost],
        )
      : null;
  const rootPassword =
    raw.rootPasswordFile === undefined
      ? null
      : { file: resolve(String(raw.rootPasswordFile)), password: await readPasswordFile(ROOT_PASSWORD_FLAG, raw.rootPasswordFile) };
  return { nodes, basePort, host, contactHost, dataDir, secretFile, secretCreated, tls, rootPassword, tuning };
}

export function registerCluster(program: Command): void {
  const command = program
    .command('cluster')
    .description('run a local cluster of N node processes (Ctrl-C stops them all)')
    .addOption(new Option('--nodes <n>', `number of nodes, 1 to ${MAX_LOCAL_NODES}`).default(DEFAULT_NODES))
    .addOption(new Option('--base-port <port>', 'port of node 1; node i gets base-port + i - 1').default(DEFAULT_BASE_PORT))
    .addOption(new Option('--data-dir <dir>', 'parent directory; node i keeps its data in <dir>/node<i>').default(DEFAULT_DATA_DIR))
    .addOption(new Option('--host <address>', 'address the nodes bind').default(DEFAULT_HOST))
    .option(
      `${SECRET_FLAG} <path>`,
      `secret file the nodes authenticate each other with (hex, at least 32 bytes, mode 0600; see start --help) (default: <dir>/${GENERATED_SECRET_NAME}, a random 32-byte secret generated when missing)`,
    )
    .option(
      '--tls',
      `serve HTTPS and wss:// with mutual TLS between the nodes: a private CA and one certificate per node are made in <dir>/${TLS_DIR_NAME}/ with the openssl command (keys mode 0600) and reused on later runs; clients trust <dir>/${TLS_DIR_NAME}/ca.crt (e.g. status --ca-file)`,
      false,
    )
    .option(
      `${ROOT_PASSWORD_FLAG} <path>`,
      'file holding the password of user root (8 to 1,024 characters, one line, mode 0600), given to every node: turns on authentication (docs/security.md) (default: none)',
    );
  addTuningOptions(command);
  command.action(async (raw: RawClusterOptions) => {
    await runCluster(await parseClusterOptions(raw));
  });
}

function say(line: string): void {
  process.stdout.write(`[cluster] ${line}\n`);
}

function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

async function runCluster(options: ClusterOptions): Promise<void> {
  const ids = Array.from({ length: options.nodes }, (_, i) => i + 1);
  const portOf = (id: number): number => options.basePort + id - 1;
  const busy = await portsInUse(options.host, ids.map(portOf));
  if (busy.length > 0) {
    const which = busy.map((port) => `${port} (node ${port - options.basePort + 1})`).join(', ');
    printError(`port${busy.length > 1 ? 's' : ''} ${which} already in use on ${options.host}; choose another --base-port`);
    process.exit(EXIT_FAILURE);
  }
  // A reader that went away (| head) must not crash the cluster with EPIPE.
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});

  let stopping = false;
  const children = ids.map((id) => {
    const peers = ids.filter((other) => other !== id).map((other) => `${other}=${hostPort(options.contactHost, portOf(other))}`);
    const args = [
      '--node-id',
      String(id),
      '--host',
      options.host,
      '--port',
      String(portOf(id)),
      ...(options.contactHost !== options.host ? ['--advertise', hostPort(options.contactHost, portOf(id))] : []),
      '--data-dir',
      join(options.dataDir, `node${id}`),
      ...(peers.length > 0 ? ['--peers', peers.join(',')] : []),
      SECRET_FLAG,
      options.secretFile,
      ...tlsArgs(options.tls, id),
      ...(options.rootPassword !== null ? [ROOT_PASSWORD_FLAG, options.rootPassword.file] : []),
      ...tuningArgs(options.tuning),
    ];
    const url = `${options.tls !== null ? 'https' : 'http'}://${hostPort(options.contactHost, portOf(id))}`;
    return new ClusterChild(
      id,
      url,
      args,
      (l) => process.stdout.write(`${l}\n`),
      (l) => process.stderr.write(`${l}\n`),
    );
  });
  if (options.secretCreated) say(`generated a cluster secret in ${options.secretFile} (mode 0600)`);
  if (options.tls !== null) {
    const { createdCa, createdNodes, dir } = options.tls;
    const nodes = createdNodes.length === 1 ? `node ${createdNodes[0]}` : `nodes ${createdNodes.join(', ')}`;
    if (createdCa) say(`made a private CA and certificates for ${nodes} in ${dir} (keys mode 0600)`);
    else if (createdNodes.length > 0) say(`made certificates for ${nodes} in ${dir} (keys mode 0600), reusing its CA`);
    else say(`reusing the CA and node certificates in ${dir}`);
  }
  say(`started ${children.length} node${children.length > 1 ? 's' : ''} (data in ${options.dataDir})`);

  for (const child of children) {
    void child.exited.then((exit) => {
      if (stopping) return;
      say(`node ${child.nodeId} exited unexpectedly (${describeExit(exit)}); the other nodes keep running`);
      if (children.every((c) => !c.running)) {
        say('every node has exited');
        process.exit(EXIT_FAILURE);
      }
    });
  }

  onShutdownSignal(
    () => {
      stopping = true;
      void stopAll(children);
    },
    () => {
      say('second signal: killing every node');
      for (const child of children) child.kill();
    },
  );

  const ca = options.tls !== null ? await readFile(options.tls.caCert) : undefined;
  // With authentication on, /cluster/status needs root: the readiness probes log in with Basic.
  const authorization =
    options.rootPassword === null ? undefined : `Basic ${Buffer.from(`root:${options.rootPassword.password}`).toString('base64')}`;
  const leader = await waitForCluster(children, () => stopping, say, ca, authorization);
  if (leader === null) return; // stopping, or every node died (reported above)
  say(`ready: ${children.length} node${children.length > 1 ? 's' : ''}, leader is node ${leader}`);
  const width = Math.max(...children.map((c) => c.url.length));
  for (const child of children) {
    const state = child.running ? '' : '  (exited)';
    const pid = String(child.pid ?? '-').padEnd(7);
    process.stdout.write(`  node ${child.nodeId}  pid ${pid}  API ${child.url.padEnd(width)}  dashboard ${child.url}/dashboard${state}\n`);
  }
  if (options.tls !== null) say(`clients trust the CA in ${options.tls.caCert} (status --ca-file, connect(urls, { tls: { ca } }), curl --cacert)`);
  say('press Ctrl-C to stop every node');
}

function tlsArgs(tls: LocalTls | null, id: number): string[] {
  const files = tls?.nodes.get(id);
  if (tls === null || files === undefined) return [];
  return [TLS_CERT_FLAG, files.cert, TLS_KEY_FLAG, files.key, TLS_CA_FLAG, tls.caCert];
}

async function stopAll(children: readonly ClusterChild[]): Promise<void> {
  const running = children.filter((c) => c.running);
  say(`stopping ${running.length} node${running.length === 1 ? '' : 's'}...`);
  const exits = await Promise.all(running.map((child) => child.stop(STOP_GRACE_MS)));
  const killed = running.filter((_, i) => exits[i]!.signal === 'SIGKILL').map((c) => c.nodeId);
  say(killed.length > 0 ? `stopped (killed after ${STOP_GRACE_MS / 1000} s: node ${killed.join(', node ')})` : 'stopped');
  process.exit(EXIT_OK);
}
