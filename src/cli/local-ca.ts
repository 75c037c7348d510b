// `cluster --tls`: a private CA and one certificate per node in <data-dir>/tls/, made with
// the openssl binary (no hand-written ASN.1), for a local cluster only. Made once and
// reused: a later run keeps every file that is still good (parses, matches its key, is
// signed by the CA, names the hosts, is not about to expire) and remakes only the others.
// Private keys are mode 0600 in a directory of mode 0700; files are made in a temporary
// directory beside them and renamed into place, so a run cut short leaves no half-written
// file under a name that a later run would use.
import { execFile } from 'node:child_process';
import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { codeOf } from './data-dir.ts';
import { certificateNames } from './tls-files.ts';

export const TLS_DIR_NAME = 'tls';
/** One openssl command; EC key generation and signing take milliseconds. */
const OPENSSL_TIMEOUT_MS = 30_000;
const CA_VALIDITY_DAYS = 3650;
/** Below the 825 days that some TLS clients accept at most for a server certificate. */
const NODE_VALIDITY_DAYS = 825;
/** A certificate that expires sooner than this is remade rather than reused. */
const RENEW_BEFORE_MS = 7 * 24 * 3600 * 1000;
/** The names every local node certificate carries. */
const LOOPBACK_NAMES = ['127.0.0.1', 'localhost'] as const;

export interface LocalTls {
  readonly dir: string;
  readonly caCert: string;
  /** Certificate and key file of each node id. */
  readonly nodes: ReadonlyMap<number, { readonly cert: string; readonly key: string }>;
  /** This run made the CA (and so every node certificate). */
  readonly createdCa: boolean;
  /** Ids of the nodes whose certificate this run made; empty when every one was reused. */
  readonly createdNodes: readonly number[];
}

/** openssl is missing, or failed: one line saying which. */
export class OpensslError extends Error {
  override readonly name = 'OpensslError';
}

function openssl(args: readonly string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { cwd, timeout: OPENSSL_TIMEOUT_MS, maxBuffer: 1024 * 1024 }, (error, _stdout, stderr) => {
      if (error === null) return resolve();
      if (codeOf(error) === 'ENOENT') {
        return reject(new OpensslError('cluster --tls needs the openssl command, which is not on PATH (on Debian: apt-get install openssl)'));
      }
      const detail = stderr.trim().split('\n').filter(Boolean).slice(-1)[0] ?? error.message;
      reject(new OpensslError(`openssl ${args[0]} failed: ${detail}`));
    });
  });
}

/** subjectAltName entries for `hosts`: IP: for addresses, DNS: for names. */
export function subjectAltNames(hosts: readonly string[]): string {
  const unique = [...new Set([...LOOPBACK_NAMES, ...hosts].map((h) => h.replace(/^\[(.*)\]$/, '$1').toLowerCase()))];
  return unique.map((h) => (isIP(h) !== 0 ? `IP:${h}` : `DNS:${h}`)).join(',');
}

async function readCertificate(path: string): Promise<X509Certificate | null> {
  try {
    return new X509Certificate(await readFile(path));
  } catch {
    return null;
  }
}

async function keyMatches(cert: X509Certificate, keyPath: string): Promise<boolean> {
  try {
    return cert.checkPrivateKey(createPrivateKey(await readFile(keyPath)));
  } catch {
    return false;
  }
}

function freshEnough(cert: X509Certificate, now: number): boolean {
  return new Date(cert.validTo).getTime() - now > RENEW_BEFORE_MS && new Date(cert.validFrom).getTime() <= now;
}

/** A positive 127-bit serial in hex (random, so that no serial file needs to be kept). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return `0x${bytes.toString('hex')}`;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'] as const;

/**
 * Makes or reuses <dataDir>/tls/: ca.crt and ca.key, and node<i>.crt and node<i>.key for
 * each id, each node certificate naming 127.0.0.1, localhost and `hosts`.
 */
export async function ensureLocalTls(dataDir: string, nodeIds: readonly number[], hosts: readonly string[]): Promise<LocalTls> {
  const dir = join(dataDir, TLS_DIR_NAME);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const now = Date.now();
  let createdCa = false;
  const createdNodes: number[] = [];
  const caCert = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  const work = await mkdtemp(join(dir, '.tmp-'));
  try {
    let ca = await readCertificate(caCert);
    const caUsable = ca !== null && ca.ca && freshEnough(ca, now) && (await keyMatches(ca, caKey));
    if (!caUsable) {
      await openssl(
        [
          'req',
          '-x509',
          '-new',
          ...EC_KEY,
          '-keyout',
          'ca.key',
          '-out',
          'ca.crt',
          '-days',
          String(CA_VALIDITY_DAYS),
          '-subj',
          '/CN=collection-store local CA',
          '-addext',
          'basicConstraints=critical,CA:TRUE',
          '-addext',
          'keyUsage=critical,keyCertSign,cRLSign',
        ],
        work,
      );
      await chmod(join(work, 'ca.key'), 0o600);
      // A run cut between the two renames leaves a pair that does not match: the next run remakes it.
      await rename(join(work, 'ca.key'), caKey);
      await rename(join(work, 'ca.crt'), caCert);
      ca = await readCertificate(caCert);
      createdCa = true;
    }
    if (ca === null) throw new OpensslError(`openssl made a CA certificate that cannot be read (${caCert})`);
    const altNames = subjectAltNames(hosts);
    const names = [...LOOPBACK_NAMES, ...hosts];
    const nodes = new Map<number, { cert: string; key: string }>();
    for (const id of nodeIds) {
      const cert = join(dir, `node${id}.crt`);
      const key = join(dir, `node${id}.key`);
      nodes.set(id, { cert, key });
      const existing = await readCertificate(cert);
      const usable =
        existing !== null &&
        existing.checkIssued(ca) &&
        existing.verify(ca.publicKey) &&
        freshEnough(existing, now) &&
        names.every((name) => certificateNames(existing, name)) &&
        (await keyMatches(existing, key));
      if (usable) continue;
      await openssl(['req', '-new', ...EC_KEY, '-keyout', 'node.key', '-out', 'node.csr', '-subj', `/CN=collection-store node ${id}`], work);
      await writeFile(
        join(work, 'node.ext'),
        [
          'basicConstraints=critical,CA:FALSE',
          'keyUsage=critical,digitalSignature',
          // One certificate serves the node's port and identifies it when it dials a peer.
          'extendedKeyUsage=serverAuth,clientAuth',
          `subjectAltName=${altNames}`,
          '',
        ].join('\n'),
      );
      await openssl(
        [
          'x509',
          '-req',
          '-in',
          'node.csr',
          '-CA',
          caCert,
          '-CAkey',
          caKey,
          '-set_serial',
          randomSerial(),
          '-days',
          String(NODE_VALIDITY_DAYS),
          '-extfile',
          'node.ext',
          '-out',
          'node.crt',
        ],
        work,
      );
      await chmod(join(work, 'node.key'), 0o600);
      await rename(join(work, 'node.key'), key);
      await rename(join(work, 'node.crt'), cert);
      createdNodes.push(id);
    }
    return { dir, caCert, nodes, createdCa, createdNodes };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
