// `collection-store chaos`: fault injection under load, with a report and a consistency
// verdict (docs/operations.md, "Chaos testing"). Without --cluster it runs its own local
// cluster of child processes in a temporary directory; with --cluster, running nodes started
// with --enable-fault-injection.
import { Option, type Command } from 'commander';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LocalCluster } from '../chaos/local-cluster.ts';
import { NodeClient } from '../chaos/node-client.ts';
import { REMOTE_RESTART_WAIT_MS, RemoteCluster } from '../chaos/remote-cluster.ts';
import { CHECK_BUDGET_STEPS_PER_KEY } from '../chaos/checker.ts';
import { reportText, type ChaosResult } from '../chaos/report.ts';
import { reportHtml } from '../chaos/report-html.ts';
import { runChaos, type RunOptions } from '../chaos/runner.ts';
import { parseScenario, SCENARIOS, type ScenarioName } from '../chaos/scenarios.ts';
import type { ChaosCluster } from '../chaos/chaos-cluster.ts';
import {
  LOG_LEVELS,
  parseDurationFlag,
  parseIntegerFlag,
  parseLogLevelFlag,
  parseNodeUrlFlag,
  parsePortFlag,
  TUNING_DEFAULTS,
  type LogLevel,
} from './flags.ts';
import { MAX_LOCAL_NODES } from './cluster.ts';
import { readPasswordFile, PASSWORD_FLAG } from './password-file.ts';
import { freeConsecutivePorts } from './ports.ts';
import { EXIT_FAILURE, EXIT_OK, UsageError } from './usage-error.ts';

const DURATION_MS_MAX = 24 * 3_600_000;
/** The local nodes log warnings only by default: 100 clients make a lot of info lines. */
const NODE_LOG_LEVEL_DEFAULT: LogLevel = 'warn';
/** Most concurrent load clients (each holds one request in flight). */
const CLIENTS_MAX = 1000;
/** Most keys of the load (few, so that clients conflict). */
const KEYS_MAX = 1000;
/** Retries of one operation by default: the client library's (src/client/client.ts). */
const DEFAULT_RETRIES = 5;
/** Most retries --retries accepts (all within --request-timeout anyway). */
const RETRIES_MAX = 100;
/** Clients per key when --keys is not given: enough to conflict on every key, few enough that
 * the linearizability search of each key stays within its budget (100 clients on 5 keys, the
 * seed's command, left every key without a verdict after 2,000,000 steps). */
const DEFAULT_CLIENTS_PER_KEY = 4;
/** Keys when --keys is not given, at least. */
const DEFAULT_KEYS_MIN = 5;

export function defaultKeys(clients: number): number {
  return Math.max(DEFAULT_KEYS_MIN, Math.ceil(clients / DEFAULT_CLIENTS_PER_KEY));
}
/** Most search steps per key --check-budget accepts (a billion steps is minutes of CPU per key). */
const CHECK_BUDGET_STEPS_MAX = 1_000_000_000;
/**
 * Exit code of a run that could not be checked (the verdict is unknown: a key's search hit
 * --check-budget, a final read never succeeded, or nothing succeeded): neither a pass nor a
 * proven failure, so neither 0 nor 1; 2 is a usage error.
 */
export const EXIT_NO_VERDICT = 3;
const EXIT_CODES: Readonly<Record<ChaosResult, number>> = { pass: EXIT_OK, fail: EXIT_FAILURE, 'no verdict': EXIT_NO_VERDICT };

interface RawChaosOptions {
  readonly scenario?: unknown;
  readonly duration?: unknown;
  readonly interval?: unknown;
  readonly faultDuration?: unknown;
  readonly seed?: unknown;
  readonly nodes?: unknown;
  readonly basePort?: unknown;
  readonly cluster?: unknown;
  readonly user?: unknown;
  readonly passwordFile?: unknown;
  readonly loadTestConcurrent?: unknown;
  readonly keys?: unknown;
  readonly requestTimeout?: unknown;
  readonly retries?: unknown;
  readonly restartWait?: unknown;
  readonly electionTimeout?: unknown;
  readonly nodeLogLevel?: unknown;
  readonly keepData?: unknown;
  readonly checkBudget?: unknown;
  readonly out?: unknown;
  readonly expectAvailability?: unknown;
  readonly expectMaxInterruption?: unknown;
}

interface ChaosOptions extends RunOptions {
  readonly nodes: number;
  readonly basePort: number | null;
  readonly cluster: readonly string[] | null;
  readonly authorization: string | undefined;
  /** --cluster: how long a crashed node's supervisor has to bring it back. */
  readonly restartWaitMs: number;
  /** The local nodes' --log-level (their logs go to <data dir>/logs/node<i>.log). */
  readonly nodeLogLevel: LogLevel;
  /** Keep the local nodes' data and logs after a pass too (a failed run always keeps them). */
  readonly keepData: boolean;
  readonly out: string | null;
}

function parsePercent(flag: string, value: unknown): number {
  const n = typeof value === 'string' ? Number(value.trim().replace(/%$/, '')) : Number.NaN;
  if (!(n >= 0 && n <= 100)) throw new UsageError(`${flag} must be a percentage from 0 to 100 (got ${JSON.stringify(value)})`);
  return n;
}

async function parseChaosOptions(raw: RawChaosOptions): Promise<ChaosOptions> {
  const scenario: ScenarioName | undefined = parseScenario(String(raw.scenario ?? 'leader_crash'));
  if (scenario === undefined) throw new UsageError(`--scenario must be one of ${SCENARIOS.join(', ')} (got ${JSON.stringify(raw.scenario)})`);
  const durationMs = parseDurationFlag('--duration', raw.duration ?? '60s', 1000, DURATION_MS_MAX);
  const intervalMs = parseDurationFlag('--interval', raw.interval ?? '10s', 100, DURATION_MS_MAX);
  const faultDurationMs = parseDurationFlag('--fault-duration', raw.faultDuration ?? '1s', 1, DURATION_MS_MAX);
  if (faultDurationMs >= intervalMs)
    throw new UsageError(`--fault-duration (${faultDurationMs} ms) must be shorter than --interval (${intervalMs} ms)`);
  const seed = raw.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : parseIntegerFlag('--seed', raw.seed, 0, 2 ** 32 - 1);
  const cluster =
    raw.cluster === undefined
      ? null
      : String(raw.cluster)
          .split(',')
          .filter((s) => s.trim() !== '')
          .map((s) => parseNodeUrlFlag('--cluster', s));
  if (cluster !== null && cluster.length === 0) throw new UsageError('--cluster must list at least one node, host:port,host:port');
  let authorization: string | undefined;
  if (raw.passwordFile !== undefined) {
    const password = await readPasswordFile(PASSWORD_FLAG, raw.passwordFile);
    authorization = `Basic ${Buffer.from(`${String(raw.user ?? 'root')}:${password}`).toString('base64')}`;
  }
  const requestTimeoutMs = parseDurationFlag('--request-timeout', raw.requestTimeout ?? '2s', 10, 60_000);
  const clients = parseIntegerFlag('--load-test-concurrent', raw.loadTestConcurrent ?? 10, 1, CLIENTS_MAX);
  return {
    scenario,
    durationMs,
    intervalMs,
    faultDurationMs,
    seed,
    nodes: parseIntegerFlag('--nodes', raw.nodes ?? 3, 1, MAX_LOCAL_NODES),
    basePort: raw.basePort === undefined ? null : parsePortFlag('--base-port', raw.basePort),
    cluster,
    authorization,
    clients,
    keys: parseIntegerFlag('--keys', raw.keys ?? defaultKeys(clients), 1, KEYS_MAX),
    requestTimeoutMs,
    retries: parseIntegerFlag('--retries', raw.retries ?? DEFAULT_RETRIES, 0, RETRIES_MAX),
    restartWaitMs: parseDurationFlag('--restart-wait', raw.restartWait ?? `${REMOTE_RESTART_WAIT_MS}ms`, 100, DURATION_MS_MAX),
    electionTimeoutMs: parseIntegerFlag('--election-timeout', raw.electionTimeout ?? TUNING_DEFAULTS.electionTimeoutMs, 10, 60_000),
    nodeLogLevel: parseLogLevelFlag('--node-log-level', raw.nodeLogLevel ?? NODE_LOG_LEVEL_DEFAULT),
    keepData: raw.keepData === true,
    checkBudgetSteps: parseIntegerFlag('--check-budget', raw.checkBudget ?? CHECK_BUDGET_STEPS_PER_KEY, 1, CHECK_BUDGET_STEPS_MAX),
    out: raw.out === undefined ? null : resolve(String(raw.out)),
    ...(raw.expectAvailability !== undefined ? { expectAvailabilityPercent: parsePercent('--expect-availability', raw.expectAvailability) } : {}),
    ...(raw.expectMaxInterruption !== undefined
      ? { expectMaxInterruptionMs: parseDurationFlag('--expect-max-interruption', raw.expectMaxInterruption, 0, DURATION_MS_MAX) }
      : {}),
  };
}

export function registerChaos(program: Command): void {
  program
    .command('chaos')
    .description('inject faults into a cluster under load, then report availability, interruptions and a linearizability verdict')
    .addOption(new Option('--scenario <name>', `${SCENARIOS.join(', ')} (kebab-case accepted)`).default('leader_crash'))
    .addOption(new Option('--duration <d>', 'how long the load runs: 300s, 5m, 500ms').default('60s'))
    .addOption(new Option('--interval <d>', 'time between the starts of two faults').default('10s'))
    .addOption(new Option('--fault-duration <d>', 'how long a fault holds before it is healed (a crashed node stays down this long)').default('1s'))
    .option('--seed <n>', 'seed of the fault schedule and the load, for a reproducible run (default: random, printed)')
    .addOption(
      new Option('--load-test-concurrent <n>', `concurrent clients doing writes, reads and compare-and-set (1 to ${CLIENTS_MAX})`).default('10'),
    )
    .addOption(
      // No commander default: the default depends on --load-test-concurrent (defaultKeys).
      new Option(
        '--keys <n>',
        `keys the clients share (few, so that they conflict; default: one per ${DEFAULT_CLIENTS_PER_KEY} clients, at least ${DEFAULT_KEYS_MIN})`,
      ),
    )
    .addOption(new Option('--request-timeout <d>', 'client timeout of one operation, its retries included (then it is indeterminate)').default('2s'))
    .addOption(
      new Option(
        '--retries <n>',
        `attempts of an operation after its first, as the client library makes: after NO_LEADER, a refused connection or an unknown outcome, at another node, writes under one Idempotency-Key (0 to ${RETRIES_MAX})`,
      ).default(String(DEFAULT_RETRIES)),
    )
    .option(
      '--cluster <list>',
      'run against these running nodes, host:port,host:port, started with --enable-fault-injection (default: a local cluster of child processes)',
    )
    .addOption(new Option('--nodes <n>', `local cluster size, 1 to ${MAX_LOCAL_NODES}`).default('3'))
    .option(
      '--base-port <port>',
      'port of local node 1; node i gets base-port + i - 1 (default: free ports found at random from 20000 to 32767, below the ephemeral ports of Linux)',
    )
    .addOption(
      new Option('--election-timeout <ms>', 'election timeout of the local nodes (a pause lasts 4 of them at least)').default(
        String(TUNING_DEFAULTS.electionTimeoutMs),
      ),
    )
    .addOption(
      new Option(
        '--node-log-level <level>',
        `log level of the local nodes, whose logs go to <data dir>/logs/node<i>.log: ${LOG_LEVELS.join(', ')} (info shows elections, snapshots and step-downs)`,
      ).default(NODE_LOG_LEVEL_DEFAULT),
    )
    .option('--keep-data', "keep the local nodes' data and logs after a pass too (a failed run always keeps them)")
    .addOption(
      new Option(
        '--restart-wait <d>',
        'with --cluster: how long a crashed node has to come back (its supervisor restarts it); past it the run fails and says so',
      ).default(`${REMOTE_RESTART_WAIT_MS / 1000}s`),
    )
    .option('--user <name>', 'user for --cluster with authentication on (the fault endpoint needs root)', 'root')
    .option(`${PASSWORD_FLAG} <path>`, 'file holding the password of --user, mode 0600 (default: none, authentication off)')
    .addOption(
      new Option(
        '--check-budget <steps>',
        `search steps the linearizability check may take per key (1 to ${CHECK_BUDGET_STEPS_MAX}); beyond, no verdict: exit ${EXIT_NO_VERDICT}`,
      ).default(String(CHECK_BUDGET_STEPS_PER_KEY)),
    )
    .option('--out <dir>', 'write report.json, history.jsonl (Jepsen convention) and report.html there')
    .option('--expect-availability <percent>', 'exit 1 when fewer operations than this succeed, e.g. 99.9')
    .option('--expect-max-interruption <d>', 'exit 1 when writes stop for longer than this, e.g. 500ms')
    .action(async (raw: RawChaosOptions) => {
      const options = await parseChaosOptions(raw);
      process.exit(EXIT_CODES[await runChaosCommand(options)]);
    });
}

function say(line: string): void {
  process.stdout.write(`[chaos] ${line}\n`);
}

async function findBasePort(nodes: number): Promise<number> {
  const base = await freeConsecutivePorts('127.0.0.1', nodes);
  if (base === null) throw new Error(`found no ${nodes} consecutive free ports on 127.0.0.1: give --base-port`);
  return base;
}

async function remoteCluster(
  urls: readonly string[],
  client: NodeClient,
  authorization: string | undefined,
  restartWaitMs: number,
): Promise<RemoteCluster> {
  const byId = new Map<number, string>();
  for (const url of urls) {
    const answer = await client.call(url, 'GET', '/cluster/status');
    const id = answer.kind === 'ok' ? (answer.body as { nodeId?: unknown }).nodeId : undefined;
    if (typeof id !== 'number')
      throw new Error(`${url} did not answer /cluster/status${answer.kind !== 'ok' ? ` (${answer.code}: ${answer.message})` : ''}`);
    byId.set(id, url);
  }
  return new RemoteCluster(byId, client, authorization, restartWaitMs);
}

/** Runs, prints and writes the report; returns its result. */
async function runChaosCommand(options: ChaosOptions): Promise<ChaosResult> {
  process.stdout.on('error', () => {});
  const client = new NodeClient(options.requestTimeoutMs, options.authorization);
  let cluster: ChaosCluster;
  let dataDir: string | null = null;
  if (options.cluster === null) {
    dataDir = await mkdtemp(join(tmpdir(), 'collection-store-chaos-'));
    const basePort = options.basePort ?? (await findBasePort(options.nodes));
    const local = new LocalCluster(
      {
        nodes: options.nodes,
        basePort,
        dataDir,
        electionTimeoutMs: options.electionTimeoutMs,
        heartbeatIntervalMs: Math.max(1, Math.floor(options.electionTimeoutMs / 3)),
        logLevel: options.nodeLogLevel,
      },
      client,
    );
    cluster = local;
    say(`starting ${options.nodes} local nodes on ports ${basePort}..${basePort + options.nodes - 1} (data and node logs in ${dataDir})`);
    try {
      await local.start();
    } catch (error) {
      await local.close();
      throw error;
    }
  } else {
    cluster = await remoteCluster(options.cluster, client, options.authorization, options.restartWaitMs);
    say(`against ${cluster.ids.map((id) => `node ${id} ${cluster.url(id)}`).join(', ')}`);
  }
  say(`scenario ${options.scenario}, seed ${options.seed}, ${options.clients} clients on ${options.keys} keys for ${options.durationMs / 1000} s`);
  let result: ChaosResult = 'fail';
  try {
    const { report, history } = await runChaos(cluster, client, options, say);
    process.stdout.write(reportText(report));
    if (options.out !== null) {
      await mkdir(options.out, { recursive: true });
      await writeFile(join(options.out, 'report.json'), JSON.stringify(report, null, 2) + '\n');
      await writeFile(join(options.out, 'history.jsonl'), history.toJsonl());
      await writeFile(join(options.out, 'report.html'), reportHtml(report));
      say(`wrote report.json, history.jsonl and report.html to ${options.out}`);
    }
    result = report.result;
  } finally {
    await cluster.close().catch(() => {});
    await client.close().catch(() => {});
    // A failed run keeps its node logs for the post-mortem; --keep-data keeps a passing one's.
    if (dataDir !== null) {
      if (result === 'pass' && !options.keepData) await rm(dataDir, { recursive: true, force: true });
      else say(`node data and logs kept in ${dataDir}`);
    }
  }
  return result;
}
