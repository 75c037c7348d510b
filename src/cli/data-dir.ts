// Checks, before a node starts, that its data directory is usable: a directory (created
// when missing) in which we can create and remove a file. Failing here gives one clear
// line naming the flag, rather than an error from deep inside the log on first write.
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UsageError } from './usage-error.ts';

/** The `code` of a Node.js system error (ENOENT, EACCES...), if any. */
export function codeOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
}

/** Resolves `value` to an absolute, usable directory, or throws a UsageError naming `flag`. */
export async function ensureUsableDataDir(flag: string, value: unknown): Promise<string> {
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`${flag} must not be empty`);
  const dir = resolve(value);
  const existing = await stat(dir).catch((error: unknown) => {
    if (codeOf(error) === 'ENOENT') return null;
    if (codeOf(error) === 'ENOTDIR') throw new UsageError(`${flag} "${value}" cannot be created (a parent path is a file)`);
    throw new UsageError(`${flag} "${value}" cannot be read (${codeOf(error) ?? String(error)})`);
  });
  if (existing !== null && !existing.isDirectory()) {
    throw new UsageError(`${flag} "${value}" is ${existing.isFile() ? 'a regular file' : 'not a directory'}`);
  }
  if (existing === null) {
    try {
      await mkdir(dir, { recursive: true });
    } catch (error) {
      const code = codeOf(error);
      const why =
        code === 'ENOTDIR' || code === 'EEXIST' ? 'a parent path is a file' : code === 'EACCES' ? 'permission denied' : (code ?? String(error));
      throw new UsageError(`${flag} "${value}" cannot be created (${why})`);
    }
  }
  // access(W_OK) says yes to root on a read-only mount; creating a file is the honest test.
  const probe = join(dir, `.write-test-${process.pid}`);
  try {
    await writeFile(probe, '');
    await rm(probe, { force: true });
  } catch (error) {
    const code = codeOf(error);
    const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EROFS' ? 'read-only file system' : (code ?? String(error));
    throw new UsageError(`${flag} "${value}" is not writable (${why})`);
  }
  return dir;
}
