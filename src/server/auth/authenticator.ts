// Who is asking: a request's credentials (a bearer token, or HTTP Basic) checked against the
// replicated users, on this node's applied state. Tokens are checked with one HMAC; a Basic
// password costs a scrypt on the thread pool, so a successful one is remembered for a short
// while (keyed by a SHA-256 of the password and the user's generation, never the password).
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { AuthState, UserRecord } from '../../store/auth-state.ts';
import { StoreError } from '../../store/errors.ts';
import { PasswordHasher } from './password.ts';
import { signToken, verifyToken } from './tokens.ts';

/** The user a request was authenticated as. */
export interface Principal {
  readonly user: UserRecord;
  readonly root: boolean;
  /** When its token expires (a token's principal only). */
  readonly expiresAtMs?: number;
}

export const DEFAULT_TOKEN_TTL_MS = 60 * 60 * 1000;
/** Successful HTTP Basic checks remembered, and for how long. */
const BASIC_CACHE_ENTRIES_MAX = 1024;
const BASIC_CACHE_TTL_MS = 60_000;
/** Failed password checks are logged at most this often (with their count). */
const FAILURES_REPORT_MS = 10_000;
/** A header longer than this is refused before any work. */
const AUTHORIZATION_CHARS_MAX = 4096;

/** The challenge of every 401 (RFC 9110 §11.6.1). */
export const WWW_AUTHENTICATE = 'Bearer realm="collection-store", Basic realm="collection-store", charset="UTF-8"';
/** For a script in a browser (it sends X-Requested-With, as the dashboard does): without the
 * Basic challenge, which would make the browser open its own password dialog. */
export const WWW_AUTHENTICATE_SCRIPT = 'Bearer realm="collection-store"';

export class UnauthorizedError extends StoreError {
  constructor(message: string) {
    super('UNAUTHORIZED', message);
  }
}

export class ForbiddenError extends StoreError {
  constructor(message: string) {
    super('FORBIDDEN', message);
  }
}

export class Authenticator {
  readonly hasher = new PasswordHasher();
  private readonly basicCache = new Map<string, number>();
  /** A hash to check unknown users' passwords against, so that they take as long as known ones. */
  private dummyHash: Promise<string> | undefined;

  /** Failed password checks not yet reported, and when the last report was. */
  private failures = 0;
  private failuresReportedAtMs = 0;

  constructor(
    private readonly state: () => AuthState,
    readonly tokenTtlMs: number,
    private readonly log?: FastifyBaseLogger,
  ) {}

  /** An audit line for failed password checks, at most one per FAILURES_REPORT_MS (a flood must not flood the log). */
  private failed(name: string): UnauthorizedError {
    this.failures++;
    const now = Date.now();
    if (now - this.failuresReportedAtMs >= FAILURES_REPORT_MS) {
      this.log?.warn({ failures: this.failures, lastUser: name }, 'failed password checks (logins, HTTP Basic) since the last report');
      this.failures = 0;
      this.failuresReportedAtMs = now;
    }
    return new UnauthorizedError('wrong user name or password');
  }

  /** Checks a user name and password (login, HTTP Basic); UNAUTHORIZED when wrong. */
  async checkPassword(name: string, password: string): Promise<UserRecord> {
    const user = this.state().user(name);
    if (user === undefined) {
      this.dummyHash ??= this.hasher.hash(randomBytes(16).toString('hex'));
      await this.hasher.verify(password, await this.dummyHash);
      throw this.failed(name);
    }
    if (!(await this.hasher.verify(password, user.passwordHash))) throw this.failed(name);
    // The user may have changed while scrypt ran: answer for the user as it is now.
    const now = this.state().user(name);
    if (now?.generation !== user.generation) throw new UnauthorizedError('wrong user name or password');
    return now;
  }

  /** A new token for `user`, valid until expiresAtMs. */
  issueToken(user: UserRecord, nowMs = Date.now()): { token: string; expiresAtMs: number } {
    const key = this.state().tokenKey;
    if (key === null) throw new StoreError('CONFLICT', 'authentication is off: start a node with --root-password-file to turn it on');
    const expiresAtMs = nowMs + this.tokenTtlMs;
    return { token: signToken(key, { user: user.name, generation: user.generation, expiresAtMs }), expiresAtMs };
  }

  /** The principal of a request's Authorization header; UNAUTHORIZED when absent or wrong. */
  async authenticate(header: string | undefined): Promise<Principal> {
    if (header === undefined || header === '')
      throw new UnauthorizedError('authentication required: send Authorization: Bearer <token> (POST /auth/login) or HTTP Basic');
    if (header.length > AUTHORIZATION_CHARS_MAX) throw new UnauthorizedError('Authorization header too long');
    const space = header.indexOf(' ');
    const scheme = (space === -1 ? header : header.slice(0, space)).toLowerCase();
    const value = space === -1 ? '' : header.slice(space + 1).trim();
    const state = this.state();
    let user: UserRecord;
    let expiresAtMs: number | undefined;
    if (scheme === 'bearer') {
      const key = state.tokenKey;
      const claims = key === null ? null : verifyToken(key, value);
      if (claims === null) throw new UnauthorizedError('invalid token');
      if (claims.expiresAtMs <= Date.now()) throw new UnauthorizedError('token expired: log in again');
      const current = state.user(claims.user);
      // A removed user, or a password changed since the token was issued: revoked.
      if (current?.generation !== claims.generation) throw new UnauthorizedError('token revoked: log in again');
      user = current;
      expiresAtMs = claims.expiresAtMs;
    } else if (scheme === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon === -1) throw new UnauthorizedError('malformed HTTP Basic credentials');
      user = await this.checkBasic(decoded.slice(0, colon), decoded.slice(colon + 1));
    } else {
      throw new UnauthorizedError('unsupported authorization scheme: use Bearer or Basic');
    }
    return { user, root: state.isRoot(user), ...(expiresAtMs !== undefined ? { expiresAtMs } : {}) };
  }

  private async checkBasic(name: string, password: string): Promise<UserRecord> {
    const known = this.state().user(name);
    const cacheKey = known === undefined ? undefined : `${name}\0${known.generation}\0${createHash('sha256').update(password).digest('base64')}`;
    if (cacheKey !== undefined) {
      const until = this.basicCache.get(cacheKey);
      if (until !== undefined && until > Date.now()) return known!;
    }
    const user = await this.checkPassword(name, password);
    if (cacheKey !== undefined) {
      if (this.basicCache.size >= BASIC_CACHE_ENTRIES_MAX) this.basicCache.clear();
      this.basicCache.set(cacheKey, Date.now() + BASIC_CACHE_TTL_MS);
    }
    return user;
  }
}
