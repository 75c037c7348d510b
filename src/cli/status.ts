// `collection-store status`: asks one node for /cluster/status and prints it.
import { Option, type Command } from 'commander';
import { connect } from '../client/index.ts';
import type { ClientTls } from '../client/types.ts';
import { PASSWORD_FLAG, readPasswordFile } from './password-file.ts';
import { readCaFile } from './tls-files.ts';
import { parseIntegerFlag, parseNodeUrlFlag } from './flags.ts';
import { formatStatus } from './status-table.ts';
import { EXIT_FAILURE, messageOf, printError } from './usage-error.ts';

export const DEFAULT_NODE_URL = 'http://127.0.0.1:8080';
export const DEFAULT_STATUS_TIMEOUT_MS = 3000;

interface RawStatusOptions {
  readonly node?: unknown;
  readonly json?: unknown;
  readonly timeout?: unknown;
  readonly caFile?: unknown;
  readonly user?: unknown;
  readonly passwordFile?: unknown;
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('print the state of a cluster as one node sees it')
    .option('--node <url>', 'the node to ask', DEFAULT_NODE_URL)
    .option('--json', 'print the /cluster/status JSON instead of a table', false)
    .addOption(new Option('--timeout <ms>', 'give up after this many milliseconds').default(DEFAULT_STATUS_TIMEOUT_MS))
    .option(
      '--ca-file <path>',
      "PEM CA certificate that signed the nodes' certificates, for https:// nodes with a private CA (e.g. <data-dir>/tls/ca.crt of cluster --tls) (default: the system's root CAs)",
    )
    .option('--user <name>', 'user to authenticate as, when authentication is on (/cluster/status needs role root)', 'root')
    .option(`${PASSWORD_FLAG} <path>`, "file holding that user's password (one line, mode 0600) (default: none, no credentials sent)")
    .action(async (raw: RawStatusOptions) => {
      const url = parseNodeUrlFlag('--node', raw.node);
      const timeout = parseIntegerFlag('--timeout', raw.timeout, 1, 600_000);
      const tls: ClientTls | undefined = raw.caFile === undefined ? undefined : { ca: await readCaFile('--ca-file', raw.caFile) };
      const user = typeof raw.user === 'string' && raw.user !== '' ? raw.user : 'root';
      const auth = raw.passwordFile === undefined ? undefined : { user, password: await readPasswordFile(PASSWORD_FLAG, raw.passwordFile) };
      await runStatus(url, raw.json === true, timeout, tls, auth);
    });
}

/** The innermost message of an error chain: "connect ECONNREFUSED ..." rather than the retry summary. */
function rootCause(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 8; depth++) {
    const cause: unknown = current instanceof Error ? current.cause : undefined;
    if (!(cause instanceof Error) || cause.message === '') break;
    current = cause;
  }
  return messageOf(current);
}

async function runStatus(
  url: string,
  json: boolean,
  timeout: number,
  tls: ClientTls | undefined,
  auth: { user: string; password: string } | undefined,
): Promise<void> {
  // One attempt at the one node asked: a status command must not fail over elsewhere.
  const options = { timeout, retries: 0, ...(tls !== undefined ? { tls } : {}), ...(auth !== undefined ? { auth } : {}) };
  const client = connect([url], options);
  try {
    const status = await client.status({ url });
    if (json) {
      process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      return;
    }
    // Match index and lag are tracked by the leader only: on a follower, show the leader's view.
    let members = status.members;
    let note = '';
    if (status.role !== 'leader' && status.leader !== null) {
      // The leader's URL is https:// when the nodes serve TLS: the same CA signed its certificate.
      const leaderClient = connect([status.leader.url], options);
      try {
        members = (await leaderClient.status({ url: status.leader.url })).members;
        note = `(match and lag as the leader, node ${status.leader.id}, sees them)\n`;
      } catch {
        note = `(match and lag are tracked by the leader, which did not answer: shown as this node knows them)\n`;
      } finally {
        await leaderClient.close();
      }
    }
    process.stdout.write(formatStatus({ ...status, members }) + note);
  } catch (error) {
    printError(`cannot get the status of ${url}: ${rootCause(error)}`);
    process.exitCode = EXIT_FAILURE;
  } finally {
    await client.close();
  }
}
