// Reading a file that holds a secret (a password, a key): opened once without following a
// symlink, then checked on that same handle (fstat), so that what is checked is what is
// read: a regular file, owned by this user, not readable by group or others (like ssh keys).
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { codeOf } from './data-dir.ts';
import { UsageError } from './usage-error.ts';

/** Reads `value` (a path given to `flag`) as text; throws a UsageError naming the flag and the file. */
export async function readPrivateFile(flag: string, value: unknown, bytesMax: number): Promise<string> {
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`${flag} must not be empty`);
  const path = resolve(value);
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch (error) {
    const code = codeOf(error);
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'ELOOP'
          ? 'it is a symbolic link; give the file itself'
          : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied'
            : (code ?? String(error));
    throw new UsageError(`${flag} "${value}" cannot be read (${why})`);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new UsageError(`${flag} "${value}" is not a regular file`);
    if (process.platform !== 'win32') {
      if ((info.mode & 0o077) !== 0) {
        const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
        throw new UsageError(`${flag} "${value}" is readable by group or others (mode ${mode}); run: chmod 600 ${value}`);
      }
      const uid = process.getuid?.();
      if (uid !== undefined && info.uid !== uid) throw new UsageError(`${flag} "${value}" belongs to user ${info.uid}, not to this user (${uid})`);
    }
    if (info.size > bytesMax) throw new UsageError(`${flag} "${value}" is ${info.size} bytes; at most ${bytesMax} are read`);
    const buffer = Buffer.alloc(bytesMax + 1);
    const { bytesRead } = await handle.read(buffer, 0, bytesMax + 1, 0);
    if (bytesRead > bytesMax) throw new UsageError(`${flag} "${value}" is over ${bytesMax} bytes`);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`${flag} "${value}" cannot be read (${codeOf(error) ?? String(error)})`);
  } finally {
    await handle.close();
  }
}
