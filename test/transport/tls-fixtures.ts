// Certificates for the TLS tests, made by the openssl binary in a temp dir: a cluster CA,
// node certificates it signs (subjectAltName IP:127.0.0.1, DNS:localhost), and a
// certificate from another CA, which the cluster must refuse.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pem {
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface TestPki {
  readonly ca: Buffer;
  readonly otherCa: Buffer;
  /** Node certificates signed by `ca`. */
  node(name: string, subjectAltName?: string): Pem;
  /** A node certificate signed by `otherCa`. */
  foreign(name: string): Pem;
  dispose(): void;
}

function openssl(cwd: string, args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(
    dir,
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2'].concat([
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
    ]),
  );
}

function makeLeaf(dir: string, ca: string, name: string, subjectAltName: string): Pem {
  openssl(dir, [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
  ]);
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${subjectAltName}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  openssl(
    dir,
    ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2'].concat([
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    ]),
  );
  return { cert: readFileSync(join(dir, `${name}.crt`)), key: readFileSync(join(dir, `${name}.key`)) };
}

export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'cs-tls-'));
  makeCa(dir, 'cluster-ca');
  makeCa(dir, 'other-ca');
  return {
    ca: readFileSync(join(dir, 'cluster-ca.crt')),
    otherCa: readFileSync(join(dir, 'other-ca.crt')),
    node: (name, subjectAltName = 'IP:127.0.0.1,DNS:localhost') => makeLeaf(dir, 'cluster-ca', name, subjectAltName),
    foreign: (name) => makeLeaf(dir, 'other-ca', name, 'IP:127.0.0.1,DNS:localhost'),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** An HTTPS server as the node makes it: a client certificate is asked for, never required. */
export async function listenTls(pem: Pem, ca: Buffer | Buffer[]): Promise<{ server: https.Server; address: string }> {
  const server = https.createServer({ cert: pem.cert, key: pem.key, ca, requestCert: true, rejectUnauthorized: false }, (_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}
