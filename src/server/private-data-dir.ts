// A node's data directory holds everything a reader could misuse: documents, and with
// authentication the password hashes and the key that signs tokens (in the log and in
// snapshots). Like etcd's (0700), it is made accessible to its owner only; files inside stay
// out of reach of other users whatever their own mode, since the directory cannot be entered.
import { chmod, mkdir, stat } from 'node:fs/promises';
import type { Logger } from 'pino';

export const DATA_DIR_MODE = 0o700;

/** Creates `dir` (mode 0700) or narrows its mode to 0700, logging a warning when it was wider. */
export async function makeDataDirPrivate(dir: string, logger: Logger): Promise<void> {
  await mkdir(dir, { recursive: true, mode: DATA_DIR_MODE });
  if (process.platform === 'win32') return;
  const mode = (await stat(dir)).mode & 0o777;
  if ((mode & 0o077) === 0) return;
  await chmod(dir, DATA_DIR_MODE);
  logger.warn({ dir, was: mode.toString(8).padStart(4, '0') }, 'data directory was open to other users: its mode is now 0700');
}
