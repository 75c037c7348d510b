// The cluster secret that authenticates peers to each other (--cluster-secret-file), and
// the rule that a node without one binds loopback only.
//
// File format: the secret as hexadecimal text, at least 64 hex digits (32 bytes), with
// surrounding whitespace (a trailing newline) ignored. `openssl rand -hex 32 > FILE` makes
// one; `cluster` generates one into <data-dir>/cluster.secret. Like an ssh key, the file
// must not be readable by group or others (mode 0600 or stricter), and must belong to the
// user the node runs as (private-file.ts reads it safely).
import { randomBytes } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { writeFile } from 'node:fs/promises';
// The transport's own bound (peer-auth.ts is light: the CLI's --help need not load the transport).
import { MIN_SECRET_BYTES } from '../transport/peer-auth.ts';
import { codeOf } from './data-dir.ts';
import { readPrivateFile } from './private-file.ts';
import { UsageError } from './usage-error.ts';

export const SECRET_FLAG = '--cluster-secret-file';
/** Name of the secret `cluster` generates in its data directory. */
export const GENERATED_SECRET_NAME = 'cluster.secret';

/** A secret file is a line of hex: anything longer is not one (and is not read whole). */
export const SECRET_FILE_BYTES_MAX = 4096;

/** Reads and checks a secret file; throws a UsageError naming `flag` and the file. */
export async function readClusterSecretFile(flag: string, value: unknown): Promise<Uint8Array> {
  const text = await readPrivateFile(flag, value, SECRET_FILE_BYTES_MAX, 'secret file');
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
