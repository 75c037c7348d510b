// The TLS flags of `start`: --tls-cert-file and --tls-key-file (both or neither) make the
// node's one port serve HTTPS and wss://; --tls-ca-file makes peers prove themselves with a
// certificate signed by that CA, and this node dial them over wss:// with its own.
//
// Everything a node would only find out at its first handshake is checked here, before it
// starts, so that a bad file is one line and exit status 2: unreadable or not PEM, a key
// that is encrypted or does not match the certificate, an expired certificate, one that
// does not name the address peers dial, or one that the given CA did not sign (every peer
// would refuse it). Like the cluster secret, a private key must not be readable by group
// or others.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { NodeTls } from '../server/start-node.ts';
import { codeOf } from './data-dir.ts';
import { UsageError } from './usage-error.ts';

export const TLS_CERT_FLAG = '--tls-cert-file';
export const TLS_KEY_FLAG = '--tls-key-file';
export const TLS_CA_FLAG = '--tls-ca-file';

/** A PEM file of certificates or a key is a few KiB; a bound keeps a wrong path (a disk image) from being read whole. */
export const PEM_FILE_BYTES_MAX = 1024 * 1024;
/** Intermediate certificates followed from the node's certificate to the CA. */
const CHAIN_CERTS_MAX = 8;

export interface RawTlsFlags {
  readonly tlsCertFile?: unknown;
  readonly tlsKeyFile?: unknown;
  readonly tlsCaFile?: unknown;
}

/** Reads a file of at most PEM_FILE_BYTES_MAX; `secret`: refuse it when group or others may read it. */
async function readPemFile(flag: string, value: unknown, secret: boolean): Promise<Buffer> {
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`${flag} must not be empty`);
  const path = resolve(value);
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new UsageError(`${flag} "${value}" is not a regular file`);
    if (info.size > PEM_FILE_BYTES_MAX) throw new UsageError(`${flag} "${value}" is ${info.size} bytes; a PEM file is at most ${PEM_FILE_BYTES_MAX}`);
    if (secret && process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
      const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
      throw new UsageError(`${flag} "${value}" is readable by group or others (mode ${mode}); run: chmod 600 ${value}`);
    }
    return await readFile(path);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const code = codeOf(error);
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (code ?? String(error));
    throw new UsageError(`${flag} "${value}" cannot be read (${why})`);
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/** Every certificate of a PEM file, in order; at least one or a UsageError. */
export function parseCertificates(flag: string, file: string, pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('latin1').match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new UsageError(`${flag} "${file}" holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return blocks.map((block) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new UsageError(`${flag} "${file}" holds a certificate that cannot be parsed (${error instanceof Error ? error.message : String(error)})`);
    }
  });
}

function parseKey(file: string, pem: Buffer): KeyObject {
  const text = pem.toString('latin1');
  if (text.includes('ENCRYPTED')) throw new UsageError(`${TLS_KEY_FLAG} "${file}" is encrypted; give the key without a passphrase (mode 0600)`);
  try {
    return createPrivateKey(pem);
  } catch (error) {
    throw new UsageError(`${TLS_KEY_FLAG} "${file}" holds no usable PEM private key (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** True when `cert` names `host` (an IP address or a DNS name) in its subjectAltName (or, for a name, its CN). */
export function certificateNames(cert: X509Certificate, host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return isIP(bare) !== 0 ? cert.checkIP(bare) !== undefined : cert.checkHost(bare) !== undefined;
}

/** Whether `leaf`, helped by the `intermediates` that follow it in its file, chains up to one of `roots`. */
export function chainsTo(leaf: X509Certificate, intermediates: readonly X509Certificate[], roots: readonly X509Certificate[]): boolean {
  let current = leaf;
  for (let step = 0; step <= CHAIN_CERTS_MAX; step++) {
    if (roots.some((root) => current.checkIssued(root) && current.verify(root.publicKey))) return true;
    const next = intermediates.find((c) => c !== current && current.checkIssued(c) && current.verify(c.publicKey));
    if (next === undefined) return false;
    current = next;
  }
  return false;
}

/** A CA file for a client (status --ca-file, cluster's readiness checks): PEM certificates, checked. */
export async function readCaFile(flag: string, value: unknown): Promise<Buffer> {
  const pem = await readPemFile(flag, value, false);
  parseCertificates(flag, String(value), pem);
  return pem;
}

/**
 * Reads and checks the TLS flags; undefined when none is given. `advertisedHost` is the
 * host peers and clients dial, which the certificate must name (null: not known, unchecked).
 */
export async function readTlsFlags(raw: RawTlsFlags, advertisedHost: string | null, now: Date = new Date()): Promise<NodeTls | undefined> {
  const { tlsCertFile, tlsKeyFile, tlsCaFile } = raw;
  if (tlsCertFile === undefined && tlsKeyFile === undefined) {
    if (tlsCaFile !== undefined)
      throw new UsageError(`${TLS_CA_FLAG} needs ${TLS_CERT_FLAG} and ${TLS_KEY_FLAG}: peers check this node's certificate too`);
    return undefined;
  }
  if (tlsCertFile === undefined) throw new UsageError(`${TLS_KEY_FLAG} needs ${TLS_CERT_FLAG} too (give both or neither)`);
  if (tlsKeyFile === undefined) throw new UsageError(`${TLS_CERT_FLAG} needs ${TLS_KEY_FLAG} too (give both or neither)`);
  const certFile = String(tlsCertFile);
  const keyFile = String(tlsKeyFile);
  const cert = await readPemFile(TLS_CERT_FLAG, tlsCertFile, false);
  const key = await readPemFile(TLS_KEY_FLAG, tlsKeyFile, true);
  const ca = tlsCaFile === undefined ? undefined : await readPemFile(TLS_CA_FLAG, tlsCaFile, false);

  const [leaf, ...intermediates] = parseCertificates(TLS_CERT_FLAG, certFile, cert);
  const privateKey = parseKey(keyFile, key);
  if (!leaf!.checkPrivateKey(privateKey))
    throw new UsageError(`${TLS_KEY_FLAG} "${keyFile}" is not the key of the certificate in ${TLS_CERT_FLAG} "${certFile}"`);
  if (new Date(leaf!.validTo).getTime() <= now.getTime()) throw new UsageError(`${TLS_CERT_FLAG} "${certFile}" expired on ${leaf!.validTo}`);
  if (new Date(leaf!.validFrom).getTime() > now.getTime())
    throw new UsageError(`${TLS_CERT_FLAG} "${certFile}" is not valid before ${leaf!.validFrom}`);
  if (advertisedHost !== null && !certificateNames(leaf!, advertisedHost)) {
    throw new UsageError(
      `${TLS_CERT_FLAG} "${certFile}" does not name ${advertisedHost}, the host peers and clients reach this node at (its names: ${leaf!.subjectAltName ?? leaf!.subject}); peers would refuse it`,
    );
  }
  if (ca !== undefined) {
    const roots = parseCertificates(TLS_CA_FLAG, String(tlsCaFile), ca);
    if (!chainsTo(leaf!, intermediates, roots)) {
      throw new UsageError(
        `${TLS_CERT_FLAG} "${certFile}" is not signed by the CA in ${TLS_CA_FLAG} "${String(tlsCaFile)}": every peer would refuse this node`,
      );
    }
  }
  try {
    // What the server and the transport will build from these bytes: any other problem shows here.
    createSecureContext({ cert, key, ...(ca !== undefined ? { ca } : {}) });
  } catch (error) {
    throw new UsageError(`${TLS_CERT_FLAG}/${TLS_KEY_FLAG}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { cert, key, ...(ca !== undefined ? { ca } : {}) };
}
