// The peer protocol's frames: one msgpack value per binary WebSocket message.
//
//   dialer → server   {k:'hello', clusterId, nodeId, address, version, incarnation, nonce?}
//   server → dialer   {k:'challenge', nodeId, nonce, proof}   only with a cluster secret (peer-auth.ts)
//   dialer → server   {k:'proof', proof}                      only with a cluster secret
//   server → dialer   {k:'welcome', nodeId}  or  {k:'refused', code, reason} then close
//   dialer → server   {k:'raft', m: Message}            Raft traffic travels on the dialer's connection
//   dialer → server   {k:'req', id, body}               a forwarded client request
//   server → dialer   {k:'res', id, ok:true, body} | {k:'res', id, ok:false, error:{code?, message}}
//
// Decoding validates the shape of every frame: a peer is trusted with nothing. With a
// cluster secret, every frame after welcome ends in an authentication tag (peer-auth.ts),
// checked and removed before the frame is decoded.

import { Packr } from 'msgpackr';
import type { Message } from '../raft/types.ts';
import { parseMessage } from './message-validation.ts';

/** 2: the hello's incarnation is required; challenge and proof frames; authenticated frames.
 * 3: the handshake proofs cover the whole hello (address, incarnation, version) too.
 * 4: log entries carry `timeMs` and keyed ones `idempotency` (exactly-once writes, issue #12):
 * a node of version 3 refuses those fields at apply while newer nodes apply them (the
 * replicas would diverge), so it must not receive them: mixed versions do not connect.
 * 5: members' addresses in the configuration (issue #13): conf entries may be `setAddress`
 * changes, which a node of version 4 cannot decode (it would stop on a broken invariant), and
 * snapshot metadata carries `conf.addresses`.
 * 6: entries carry their apply rules (`rules`, APPLY_RULES_VERSION 2: WRITE_DOCS_CHANGED_MAX and
 * a transaction's shared WRITE_SCAN_DOCS_MAX), which a node of version 5 refuses at apply. */
export const PROTOCOL_VERSION = 6;

/** Frames before the handshake completes (hello, challenge, proof, welcome, refused) are small:
 * a bigger one closes the connection before it is decoded. */
export const MAX_HANDSHAKE_FRAME_BYTES = 4 * 1024;

/** Why a server refused a handshake. */
export type RefusalCode = 'cluster-id' | 'same-node' | 'unknown-peer' | 'version' | 'duplicate' | 'auth';

export interface HelloFrame {
  readonly k: 'hello';
  readonly clusterId: string;
  readonly nodeId: number;
  readonly address: string;
  readonly version: number;
  /** Identifies the dialer's data directory: a node whose directory was wiped comes back
   * with a new incarnation, which its peers refuse (it lost its votes and log). Never empty. */
  readonly incarnation: string;
  /** The dialer's handshake nonce, when it holds a cluster secret. */
  readonly nonce?: Uint8Array;
}
export interface ChallengeFrame {
  readonly k: 'challenge';
  readonly nodeId: number;
  readonly nonce: Uint8Array;
  readonly proof: Uint8Array;
}
export interface ProofFrame {
  readonly k: 'proof';
  readonly proof: Uint8Array;
}
export interface WelcomeFrame {
  readonly k: 'welcome';
  readonly nodeId: number;
}
export interface RefusedFrame {
  readonly k: 'refused';
  readonly code: RefusalCode;
  readonly reason: string;
}
export interface RaftFrame {
  readonly k: 'raft';
  readonly m: Message;
}
export interface RequestFrame {
  readonly k: 'req';
  readonly id: number;
  readonly body: unknown;
}
export interface RemoteError {
  readonly code?: string;
  readonly message: string;
}
export type ResponseFrame =
  | { readonly k: 'res'; readonly id: number; readonly ok: true; readonly body: unknown }
  | { readonly k: 'res'; readonly id: number; readonly ok: false; readonly error: RemoteError };

export type Frame = HelloFrame | ChallengeFrame | ProofFrame | WelcomeFrame | RefusedFrame | RaftFrame | RequestFrame | ResponseFrame;

const MAX_SHORT_STRING = 1024;
const REFUSAL_CODES: ReadonlySet<string> = new Set<RefusalCode>(['cluster-id', 'same-node', 'unknown-peer', 'version', 'duplicate', 'auth']);

// useRecords: false keeps frames plain msgpack (no shared structure state between peers);
// Uint8Array values encode as msgpack `bin` and decode as Buffer (a Uint8Array).
const packr = new Packr({ useRecords: false });

/** Throws when `frame` holds something msgpack cannot carry; callers catch. */
export function encodeFrame(frame: Frame): Buffer {
  return packr.pack(frame);
}

function shortString(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_SHORT_STRING;
}

function bytes32(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === 32;
}

function nodeId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

function requestId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function validate(value: unknown): Frame | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'frame is not an object';
  const f = value as Record<string, unknown>;
  switch (f['k']) {
    case 'hello':
      if (!shortString(f['clusterId'])) return 'hello.clusterId is not a string';
      if (!nodeId(f['nodeId'])) return 'hello.nodeId is not a node id';
      if (!shortString(f['address'])) return 'hello.address is not a string';
      if (typeof f['version'] !== 'number' || !Number.isSafeInteger(f['version'])) return 'hello.version is not an integer';
      if (!shortString(f['incarnation']) || f['incarnation'] === '') return 'hello.incarnation is missing';
      if (f['nonce'] !== undefined && !bytes32(f['nonce'])) return 'hello.nonce is not 32 bytes';
      return {
        k: 'hello',
        clusterId: f['clusterId'],
        nodeId: f['nodeId'],
        address: f['address'],
        version: f['version'],
        incarnation: f['incarnation'],
        ...(f['nonce'] === undefined ? {} : { nonce: f['nonce'] }),
      };
    case 'challenge':
      if (!nodeId(f['nodeId'])) return 'challenge.nodeId is not a node id';
      if (!bytes32(f['nonce'])) return 'challenge.nonce is not 32 bytes';
      if (!bytes32(f['proof'])) return 'challenge.proof is not 32 bytes';
      return { k: 'challenge', nodeId: f['nodeId'], nonce: f['nonce'], proof: f['proof'] };
    case 'proof':
      if (!bytes32(f['proof'])) return 'proof.proof is not 32 bytes';
      return { k: 'proof', proof: f['proof'] };
    case 'welcome':
      if (!nodeId(f['nodeId'])) return 'welcome.nodeId is not a node id';
      return { k: 'welcome', nodeId: f['nodeId'] };
    case 'refused': {
      const code = f['code'];
      if (typeof code !== 'string' || !REFUSAL_CODES.has(code)) return 'refused.code is invalid';
      if (!shortString(f['reason'])) return 'refused.reason is not a string';
      return { k: 'refused', code: code as RefusalCode, reason: f['reason'] };
    }
    case 'raft': {
      const m = parseMessage(f['m']);
      if (typeof m === 'string') return `raft message: ${m}`;
      return { k: 'raft', m };
    }
    case 'req':
      if (!requestId(f['id'])) return 'req.id is invalid';
      if (!('body' in f)) return 'req.body is missing';
      return { k: 'req', id: f['id'], body: f['body'] };
    case 'res': {
      if (!requestId(f['id'])) return 'res.id is invalid';
      if (f['ok'] === true) {
        if (!('body' in f)) return 'res.body is missing';
        return { k: 'res', id: f['id'], ok: true, body: f['body'] };
      }
      if (f['ok'] !== false) return 'res.ok is not a boolean';
      const error = f['error'];
      if (typeof error !== 'object' || error === null) return 'res.error is not an object';
      const e = error as Record<string, unknown>;
      if (!shortString(e['message'])) return 'res.error.message is not a string';
      if (e['code'] !== undefined && !shortString(e['code'])) return 'res.error.code is not a string';
      const remote: RemoteError = typeof e['code'] === 'string' ? { code: e['code'], message: e['message'] } : { message: e['message'] };
      return { k: 'res', id: f['id'], ok: false, error: remote };
    }
    default:
      return 'unknown frame kind';
  }
}

/** Decodes and validates one frame; a string describes why the bytes are not a frame. */
export function decodeFrame(data: Uint8Array): Frame | string {
  let value: unknown;
  try {
    value = packr.unpack(data);
  } catch (error) {
    return `undecodable msgpack: ${error instanceof Error ? error.message.slice(0, 120) : 'unknown error'}`;
  }
  return validate(value);
}
