// Bearer tokens: `cs1.<payload>.<mac>`, the payload base64url JSON {u: user, g: the user's
// generation (the log index that created it or last set its password), exp: expiry in ms
// since the epoch}, the MAC an HMAC-SHA256 under
// the cluster's token key (replicated state, so a token is valid on every node). A password
// change raises the generation and a removal deletes the user: either revokes every token.
import { createHmac, timingSafeEqual } from 'node:crypto';

const PREFIX = 'cs1';
const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** A token is short; anything longer is refused before any work. */
export const TOKEN_CHARS_MAX = 1024;

export interface TokenClaims {
  readonly user: string;
  readonly generation: number;
  readonly expiresAtMs: number;
}

function mac(keyHex: string, payload: string): Buffer {
  return createHmac('sha256', Buffer.from(keyHex, 'hex')).update(`${PREFIX}.${payload}`).digest();
}

export function signToken(keyHex: string, claims: TokenClaims): string {
  const payload = Buffer.from(JSON.stringify({ u: claims.user, g: claims.generation, exp: claims.expiresAtMs })).toString('base64url');
  return `${PREFIX}.${payload}.${mac(keyHex, payload).toString('base64url')}`;
}

/** The claims of a token with a valid MAC, or null (expiry is the caller's check). */
export function verifyToken(keyHex: string, token: string): TokenClaims | null {
  if (token.length > TOKEN_CHARS_MAX) return null;
  const parts = token.split('.');
  // One spelling per token (unpadded base64url): a token never has two forms that both work.
  if (parts.length !== 3 || parts[0] !== PREFIX || !BASE64URL.test(parts[1]!) || !BASE64URL.test(parts[2]!)) return null;
  const given = Buffer.from(parts[2]!, 'base64url');
  const expected = mac(keyHex, parts[1]!);
  if (given.length !== expected.length || !timingSafeEqual(given, expected) || given.toString('base64url') !== parts[2]) return null;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  const c = claims as { u?: unknown; g?: unknown; exp?: unknown };
  if (typeof c.u !== 'string' || !Number.isSafeInteger(c.g) || !Number.isSafeInteger(c.exp)) return null;
  return { user: c.u, generation: c.g as number, expiresAtMs: c.exp as number };
}
