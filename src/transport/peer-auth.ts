// Mutual authentication of peer connections with a shared cluster secret, and the
// authentication of every frame after it.
//
//   dialer → server   hello {…, nonce: nD}                       (nD: 32 fresh random bytes)
//   server → dialer   challenge {nodeId, nonce: nS, proof: Ps}   Ps = HMAC(secret, transcript('server'))
//   dialer → server   proof {proof: Pd}                          Pd = HMAC(secret, transcript('dialer'))
//   server → dialer   welcome | refused                          (after checking Pd, cluster id, membership)
//
// The transcript binds a protocol label, the whole hello (cluster id, the dialer's node id,
// address, data-directory incarnation and protocol version), the server's node id and both
// nonces. So a proof is good for one connection only (a recorded handshake replayed meets a
// fresh nS and fails), and a relay in the middle that rewrites any field of the hello makes
// the server prove a transcript the dialer does not share: the dialer hangs up before it
// sends its proof, and the server never admits the forged hello (no incarnation or address
// of it is recorded). The dialer also refuses a challenge from another node id than the one
// it dials, before proving anything. After welcome, each direction has its own session
// key, derived from the secret and the transcript, and every frame carries
// HMAC(key, sequence number ‖ frame) in its last TAG_BYTES: a frame replayed, reordered,
// dropped from the middle or altered fails the check, and the connection is closed.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { assert } from '../assert.ts';

/** A secret shorter than this is refused (it is a key, not a password). */
export const MIN_SECRET_BYTES = 32;
export const NONCE_BYTES = 32;
export const TAG_BYTES = 32;
const LABEL = 'collection-store/raft/v3';

/** Everything both sides must agree on: the dialer's hello, the server's id and both nonces. */
export interface Transcript {
  readonly clusterId: string;
  readonly dialerId: number;
  readonly dialerAddress: string;
  readonly dialerIncarnation: string;
  readonly version: number;
  readonly serverId: number;
  readonly dialerNonce: Uint8Array;
  readonly serverNonce: Uint8Array;
}

/** The hello fields a transcript covers. */
export interface HelloFields {
  readonly clusterId: string;
  readonly nodeId: number;
  readonly address: string;
  readonly incarnation: string;
  readonly version: number;
}

export function transcriptOf(hello: HelloFields, dialerNonce: Uint8Array, serverId: number, serverNonce: Uint8Array): Transcript {
  return {
    clusterId: hello.clusterId,
    dialerId: hello.nodeId,
    dialerAddress: hello.address,
    dialerIncarnation: hello.incarnation,
    version: hello.version,
    serverId,
    dialerNonce,
    serverNonce,
  };
}

export function checkSecret(secret: Uint8Array): Uint8Array {
  if (!(secret instanceof Uint8Array) || secret.length < MIN_SECRET_BYTES) {
    throw new Error(
      `transport: clusterSecret must be at least ${MIN_SECRET_BYTES} bytes (got ${secret instanceof Uint8Array ? secret.length : 'none'})`,
    );
  }
  return Uint8Array.from(secret); // a copy: the caller's buffer may be reused or wiped
}

export function newNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

/** Length-prefixed fields: no two different transcripts encode to the same bytes. */
function encodeTranscript(purpose: string, t: Transcript): Buffer {
  const parts: Buffer[] = [];
  const field = (bytes: Uint8Array): void => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    parts.push(length, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  };
  const number = (n: number): void => {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(BigInt(n)); // signed: every safe integer fits
    field(b);
  };
  field(Buffer.from(LABEL));
  field(Buffer.from(purpose));
  field(Buffer.from(t.clusterId));
  number(t.dialerId);
  field(Buffer.from(t.dialerAddress));
  field(Buffer.from(t.dialerIncarnation));
  number(t.version);
  number(t.serverId);
  field(t.dialerNonce);
  field(t.serverNonce);
  return Buffer.concat(parts);
}

function hmac(key: Uint8Array, data: Uint8Array): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** What the server (role 'server') or the dialer (role 'dialer') proves it holds the secret with. */
export function handshakeProof(secret: Uint8Array, role: 'server' | 'dialer', t: Transcript): Buffer {
  return hmac(secret, encodeTranscript(`proof ${role}`, t));
}

export function proofMatches(expected: Uint8Array, received: Uint8Array): boolean {
  return received.length === expected.length && timingSafeEqual(expected, received);
}

/** The two session keys of one connection. */
export interface SessionKeys {
  readonly dialerToServer: Buffer;
  readonly serverToDialer: Buffer;
}

export function sessionKeys(secret: Uint8Array, t: Transcript): SessionKeys {
  return {
    dialerToServer: hmac(secret, encodeTranscript('key dialer-to-server', t)),
    serverToDialer: hmac(secret, encodeTranscript('key server-to-dialer', t)),
  };
}

/** One direction of an authenticated connection: appends or checks tags in sequence. */
export class FrameAuthenticator {
  private sequence = 0n;
  private readonly sequenceBytes = Buffer.alloc(8);

  constructor(private readonly key: Buffer) {
    assert(key.length === 32, 'session key must be 32 bytes');
  }

  private tag(frame: Uint8Array): Buffer {
    this.sequenceBytes.writeBigUInt64BE(this.sequence);
    this.sequence += 1n;
    return createHmac('sha256', this.key).update(this.sequenceBytes).update(frame).digest();
  }

  /** The frame followed by its tag; call in the order frames go onto the socket. */
  seal(frame: Buffer): Buffer {
    return Buffer.concat([frame, this.tag(frame)], frame.length + TAG_BYTES);
  }

  /** The frame without its tag, or null when the tag is not the one expected next. */
  open(data: Buffer): Buffer | null {
    if (data.length < TAG_BYTES) return null;
    const frame = data.subarray(0, data.length - TAG_BYTES);
    const expected = this.tag(frame);
    return timingSafeEqual(expected, data.subarray(data.length - TAG_BYTES)) ? frame : null;
  }
}
