// The cluster secret that authenticates peers to each other (--cluster-secret-file), and
// the rule that a node without one binds loopback only.
//
// File format: the secret as hexadecimal text, at least 64 hex digits (32 bytes), with
// surrounding whitespace (a trailing newline) ignored. `openssl rand -hex 32 > FILE` makes
// one; `cluster` generates one into <data-dir>/cluster.secret. Like an ssh key, the file
// must not be readable by group or others (mode 0600 or stricter), and must belong to the
// user the node runs as.
//
// The file is opened once and every check is made on that open handle (fstat), then read
// from it: checking a path and reading it again would let someone who can rename files in
// its directory swap it between the two. A symbolic link is refused (O_NOFOLLOW) rather
// than followed to wherever it points; so is anything but a regular file (O_NONBLOCK keeps
// a FIFO from blocking the open).
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { open, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
// The transport's own bound (peer-auth.ts is light: the CLI's --help need not load the transport).
import { MIN_SECRET_BYTES } from '../transport/peer-auth.ts';
import { codeOf } from './data-dir.ts';
import { UsageError } from './usage-error.ts';

export const SECRET_FLAG = '--cluster-secret-file';
/** Name of the secret `cluster` generates in its data directory. */
export const GENERATED_SECRET_NAME = 'cluster.secret';

/** A secret file is a line of hex: anything longer is not one (and is not read whole). */
export const SECRET_FILE_BYTES_MAX = 4096;

/** O_NOFOLLOW and O_NONBLOCK where the platform has them (0 elsewhere: Windows has neither). */
const OPEN_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0) | (fsConstants.O_NONBLOCK ?? 0);

/** Reads and checks a secret file; throws a UsageError naming `flag` and the file. */
export async function readClusterSecretFile(flag: string, value: unknown): Promise<Uint8Array> {
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`${flag} must not be empty`);
  const path = resolve(value);
  let text: string;
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
      if (info.size > SECRET_FILE_BYTES_MAX)
        throw new UsageError(`${flag} "${value}" is ${info.size} bytes; a secret file is at most ${SECRET_FILE_BYTES_MAX}`);
      const buffer = Buffer.alloc(SECRET_FILE_BYTES_MAX + 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      if (bytesRead > SECRET_FILE_BYTES_MAX) throw new UsageError(`${flag} "${value}" grew past ${SECRET_FILE_BYTES_MAX} bytes while being read`);
      text = buffer.subarray(0, bytesRead).toString('utf8');
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
  const hex = text.trim();
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) {
    throw new UsageError(`${flag} "${value}" must hold the secret as hex digits (e.g. made by: openssl rand -hex 32 > ${value})`);
  }
  const secret = Uint8Array.from(Buffer.from(hex, 'hex'));
  if (secret.length < MIN_SECRET_BYTES) {
    throw new UsageError(
      `${flag} "${value}" holds ${secret.length} bytes; at least ${MIN_SECRET_BYTES} are needed (${MIN_SECRET_BYTES * 2} hex digits, e.g. openssl rand -hex 32 > ${value})`,
    );
  }
  return secret;
}

/** Writes a fresh random 32-byte secret to `path` (mode 0600) unless the file exists; true when it was created. */
export async function createClusterSecretFile(path: string): Promise<boolean> {
  try {
    // 'wx': never overwrite an existing secret (a restart reuses it), even if two start at once.
    await writeFile(path, `${randomBytes(MIN_SECRET_BYTES).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    return true;
  } catch (error) {
    if (codeOf(error) === 'EEXIST') return false;
    throw new UsageError(`cannot create the cluster secret ${path} (${codeOf(error) ?? String(error)})`);
  }
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** 127.0.0.0/8, ::1 (any spelling, IPv4-mapped included) or `localhost`. */
export function isLoopbackHost(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  const family = isIP(host);
  if (family === 4) return LOOPBACK.check(host, 'ipv4');
  if (family === 6) return LOOPBACK.check(host, 'ipv6');
  return false;
}

/** A node without a secret binds loopback only, unless the operator said --insecure. */
export function checkUnauthenticatedHost(host: string, hasSecret: boolean, insecure: boolean): void {
  if (hasSecret || insecure || isLoopbackHost(host)) return;
  throw new UsageError(
    `--host ${host} is not a loopback address: peers must then authenticate, so give ${SECRET_FLAG} (or --insecure to run unauthenticated anyway)`,
  );
}
