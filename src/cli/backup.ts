// `collection-store backup --node URL --out FILE`: streams GET /cluster/backup into FILE.
// The bytes go to a temporary file beside FILE, which is fsynced, checked whole (the footer's
// length and CRC-32C), and only then renamed over FILE (and the directory fsynced): FILE is
// either the old file or a whole, verified backup, never half of one.
import { open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { Agent, request, type Dispatcher } from 'undici';
import { verifyBackup, type BackupHeader } from '../node/backup-format.ts';
import { fsyncDir } from '../log/segment-files.ts';
import { PASSWORD_FLAG, readPasswordFile } from './password-file.ts';
import { readCaFile } from './tls-files.ts';
import { parseIntegerFlag, parseNodeUrlFlag } from './flags.ts';
import { DEFAULT_NODE_URL } from './status.ts';
import { EXIT_FAILURE, messageOf, printError, UsageError } from './usage-error.ts';

/** Longest wait for the node to start answering (its read barrier) and between two chunks. */
export const DEFAULT_BACKUP_TIMEOUT_MS = 60_000;
/** A progress line at most this often (on stderr). */
const PROGRESS_EVERY_MS = 1000;

interface RawBackupOptions {
  readonly node?: unknown;
  readonly out?: unknown;
  readonly timeout?: unknown;
  readonly caFile?: unknown;
  readonly user?: unknown;
  readonly passwordFile?: unknown;
}

export interface BackupRequest {
  readonly url: string;
  readonly out: string;
  readonly timeoutMs: number;
  readonly ca?: Buffer;
  readonly auth?: { readonly user: string; readonly password: string };
  /** Called about once a second with the bytes received so far. */
  readonly onProgress?: (bytes: number, elapsedMs: number) => void;
}

export function registerBackup(program: Command): void {
  program
    .command('backup')
    .description('write a consistent backup of a live cluster, taken from one node, to a file')
    .option('--node <url>', 'the node to take it from (any member)', DEFAULT_NODE_URL)
    .option('--out <file>', 'the backup file to write (replaced atomically when it exists) (required)')
    .addOption(new Option('--timeout <ms>', 'give up when the node sends nothing for this many milliseconds').default(DEFAULT_BACKUP_TIMEOUT_MS))
    .option(
      '--ca-file <path>',
      "PEM CA certificate that signed the nodes' certificates, for https:// nodes with a private CA (default: the system's root CAs)",
    )
    .option('--user <name>', 'user to authenticate as, when authentication is on (a backup needs role root)', 'root')
    .option(`${PASSWORD_FLAG} <path>`, "file holding that user's password (one line, mode 0600) (default: none, no credentials sent)")
    .action(async (raw: RawBackupOptions) => {
      const url = parseNodeUrlFlag('--node', raw.node);
      if (typeof raw.out !== 'string' || raw.out.trim() === '') throw new UsageError('--out is required');
      const timeoutMs = parseIntegerFlag('--timeout', raw.timeout, 1, 3_600_000);
      const ca = raw.caFile === undefined ? undefined : await readCaFile('--ca-file', raw.caFile);
      const user = typeof raw.user === 'string' && raw.user !== '' ? raw.user : 'root';
      const auth = raw.passwordFile === undefined ? undefined : { user, password: await readPasswordFile(PASSWORD_FLAG, raw.passwordFile) };
      const tty = process.stderr.isTTY;
      try {
        const header = await runBackup({
          url,
          out: resolve(raw.out),
          timeoutMs,
          ...(ca !== undefined ? { ca } : {}),
          ...(auth !== undefined ? { auth } : {}),
          onProgress: (bytes, elapsedMs) => {
            const line = `backup: ${formatMiB(bytes)} received in ${(elapsedMs / 1000).toFixed(0)} s (${formatMiB((bytes * 1000) / Math.max(1, elapsedMs))}/s)`;
            process.stderr.write(tty ? `\r${line}` : `${line}\n`);
          },
        });
        if (tty) process.stderr.write('\n');
        process.stdout.write(
          `backup of ${url} at log index ${header.index} (term ${header.term}, taken ${header.createdAt}) written to ${resolve(raw.out)}\n`,
        );
      } catch (error) {
        if (tty) process.stderr.write('\n');
        printError(`backup failed: ${messageOf(error)}`);
        process.exitCode = EXIT_FAILURE;
      }
    });
}

function formatMiB(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** Takes the backup; resolves with its header once FILE holds it, verified and durable. */
export async function runBackup(options: BackupRequest): Promise<BackupHeader> {
  const dispatcher: Dispatcher = new Agent({
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    ...(options.ca !== undefined ? { connect: { ca: options.ca } } : {}),
  });
  const temp = join(dirname(options.out), `.${basename(options.out)}.${process.pid}.tmp`);
  try {
    const response = await request(`${options.url}/cluster/backup`, {
      dispatcher,
      headers:
        options.auth !== undefined
          ? { authorization: `Basic ${Buffer.from(`${options.auth.user}:${options.auth.password}`).toString('base64')}` }
          : {},
    });
    if (response.statusCode !== 200) {
      const text = await response.body.text();
      let reason = text;
      try {
        const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
        if (body.error !== undefined) reason = `${body.error.code ?? ''} ${body.error.message ?? ''}`.trim();
      } catch {
        // not JSON: the text as it is
      }
      throw new Error(`${options.url} answered ${response.statusCode}: ${reason}`);
    }
    const file = await open(temp, 'w', 0o600);
    try {
      await receive(response.body, file, options.onProgress);
      await file.sync();
    } finally {
      await file.close();
    }
    // Checked whole (length, footer, CRC-32C) before it may replace FILE: a connection cut
    // mid-way, or damaged bytes, fail here and FILE is left as it was.
    let header: BackupHeader;
    try {
      header = verifyBackup(await readFile(temp)).header;
    } catch (error) {
      throw new Error(`the backup received is not whole: ${messageOf(error)}`, { cause: error });
    }
    await rename(temp, options.out);
    await fsyncDir(dirname(options.out));
    return header;
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  } finally {
    await dispatcher.close();
  }
}

/** Writes the body to `file` as it arrives, reporting progress about once a second. */
async function receive(
  body: AsyncIterable<Buffer>,
  file: FileHandle,
  onProgress: ((bytes: number, elapsedMs: number) => void) | undefined,
): Promise<number> {
  const started = Date.now();
  let lastProgress = started;
  let total = 0;
  for await (const chunk of body) {
    await file.write(chunk);
    total += chunk.byteLength;
    if (onProgress !== undefined && Date.now() - lastProgress >= PROGRESS_EVERY_MS) {
      lastProgress = Date.now();
      onProgress(total, lastProgress - started);
    }
  }
  if (onProgress !== undefined && lastProgress !== started) onProgress(total, Date.now() - started);
  return total;
}
