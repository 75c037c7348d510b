// Mutual TLS between peers: the checks on the TLS option, and the check an inbound /raft
// upgrade must pass when the option is set.
//
// The node's one HTTPS server serves API clients too, who have no certificate, so it is
// created with `requestCert: true, rejectUnauthorized: false`: the TLS handshake asks every
// client for a certificate but completes without one. The transport therefore checks, at
// upgrade time, that the connection's certificate was verified (`socket.authorized`) and,
// in case the server was given another CA list than ours (or none: Node's public roots),
// that its chain leads to one of the CAs of the transport's own option.

import { X509Certificate } from 'node:crypto';
import { TLSSocket, type PeerCertificate, type DetailedPeerCertificate } from 'node:tls';
import type { Socket } from 'node:net';
import type { PeerTls } from './peer-transport.ts';

/** Certificates between a peer's own and a CA of ours; a longer chain is refused. */
const CHAIN_CERTIFICATES_MAX = 8;

export interface CheckedTls {
  readonly ca: Buffer | string;
  readonly cert: Buffer | string;
  readonly key: Buffer | string;
  /** The certificates of `ca`, parsed: a peer's chain must end at one of them. */
  readonly trustedCas: readonly X509Certificate[];
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

function pem(value: unknown, name: string): Buffer | string {
  if (typeof value === 'string' || Buffer.isBuffer(value)) {
    if (value.length > 0) return value;
  }
  throw new Error(`transport: tls.${name} must be PEM text (a non-empty string or Buffer)`);
}

/** Validates the option; throws an Error naming what is wrong. */
export function checkTls(tls: PeerTls): CheckedTls {
  const ca = pem(tls.ca, 'ca');
  const cert = pem(tls.cert, 'cert');
  const key = pem(tls.key, 'key');
  const blocks = ca.toString().match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new Error('transport: tls.ca holds no PEM certificate');
  const trustedCas = blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new Error(`transport: tls.ca certificate ${i + 1} cannot be parsed: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
  });
  return { ca, cert, key, trustedCas };
}

function issuedByOneOf(certificate: X509Certificate, cas: readonly X509Certificate[]): boolean {
  return cas.some((ca) => certificate.checkIssued(ca) && certificate.verify(ca.publicKey));
}

function parse(c: PeerCertificate): X509Certificate | null {
  if (c.raw === undefined) return null;
  try {
    return new X509Certificate(c.raw);
  } catch {
    return null;
  }
}

function isDetailed(c: PeerCertificate): c is DetailedPeerCertificate {
  return 'issuerCertificate' in c;
}

/**
 * Null when `socket` is a TLS connection whose client certificate was verified and chains to
 * one of `cas`; otherwise why not (for the local log only).
 */
export function peerCertificateProblem(socket: Socket, cas: readonly X509Certificate[]): string | null {
  if (!(socket instanceof TLSSocket)) return 'the connection is not TLS';
  if (socket.authorized !== true) {
    const why = socket.authorizationError;
    return `its certificate was not verified (${why === undefined || why === null ? 'none presented' : String(why)})`;
  }
  // Each step must be a real signature: Node links the chain the peer sent by names only.
  let current: PeerCertificate = socket.getPeerCertificate(true);
  let x509 = parse(current);
  for (let depth = 0; depth < CHAIN_CERTIFICATES_MAX && x509 !== null; depth++) {
    if (issuedByOneOf(x509, cas)) return null;
    if (!isDetailed(current)) break;
    const next: DetailedPeerCertificate | undefined = current.issuerCertificate as DetailedPeerCertificate | undefined;
    // Node links a self-signed root to itself: the end of the chain.
    if (next === undefined || next === current || next.raw === undefined || next.raw.equals(current.raw)) break;
    const issuer = parse(next);
    if (issuer === null || !(x509.checkIssued(issuer) && x509.verify(issuer.publicKey))) break;
    current = next;
    x509 = issuer;
  }
  return x509 === null ? 'no certificate presented' : 'its certificate is not signed by the cluster CA';
}
