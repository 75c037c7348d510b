// Reading a file that holds a secret (the cluster secret, a password): like an ssh key, it
// must be a regular file of the user the node runs as, not readable by group or others.
//
// The file is opened once and every check is made on that open handle (fstat), then read
// from it: checking a path and reading it again would let someone who can rename files in
// its directory swap it between the two. A symbolic link is refused (O_NOFOLLOW) rather
// than followed to wherever it points; so is anything but a regular file (O_NONBLOCK keeps
// a FIFO from blocking the open).
import { constants as fsConstants } from 'node:fs';
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { codeOf } from './data-dir.ts';
import { UsageError } from './usage-error.ts';

/** O_NOFOLLOW and O_NONBLOCK where the platform has them (0 elsewhere: Windows has neither). */
const OPEN_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0) | (fsConstants.O_NONBLOCK ?? 0);

/**
 * Reads `value` (a path given to `flag`) as text, at most `bytesMax` bytes; throws a
 * UsageError naming the flag and the file. `what` names the kind of file in the size refusal.
 */
export async function readPrivateFile(flag: string, value: unknown, bytesMax: number, what: string): Promise<string> {
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`${flag} must not be empty`);
  const path = resolve(value);
  try {
    const handle = await open(path, OPEN_FLAGS);
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new UsageError(`${flag} "${value}" is not a regular file`);
      if (process.platform !== 'win32') {
        if ((info.mode & 0o077) !== 0) {
          const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
          throw new UsageError(`${flag} "${value}" is readable by group or others (mode ${mode}); run: chmod 600 ${value}`);
        }
        const uid = process.getuid?.();
        if (uid !== undefined && info.uid !== uid) {
          throw new UsageError(
            `${flag} "${value}" belongs to user ${info.uid}, not to the user running this node (${uid}); run: chown ${uid} ${value}`,
          );
        }
      }
      if (info.size > bytesMax) throw new UsageError(`${flag} "${value}" is ${info.size} bytes; a ${what} is at most ${bytesMax}`);
      const buffer = Buffer.alloc(bytesMax + 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      if (bytesRead > bytesMax) throw new UsageError(`${flag} "${value}" grew past ${bytesMax} bytes while being read`);
      return buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const code = codeOf(error);
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'ELOOP'
          ? 'it is a symbolic link: give the file itself'
          : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied'
            : (code ?? String(error));
    throw new UsageError(`${flag} "${value}" cannot be read (${why})`);
  }
}
