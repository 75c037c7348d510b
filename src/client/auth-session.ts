// The client's credentials: a token given by the caller, or a user and password it logs in
// with (POST /auth/login on any node: a token is valid on every node). A login's token is
// renewed before it expires and once more after a 401, and concurrent requests share one
// login in flight, so a burst of first requests, or of requests whose token just expired,
// costs the cluster one password check (scrypt), not one each.
import { ValidationError } from './errors.ts';
import type { ClientAuth } from './types.ts';

/** A token is renewed once this share of its lifetime (as measured on our clock) has passed. */
export const RENEW_AT_LIFETIME_SHARE = 0.8;
/** Bounds of what the client keeps in memory from the caller and the server. */
const USER_CHARS_MAX = 64;
const PASSWORD_CHARS_MAX = 1024;
const TOKEN_CHARS_MAX = 4096;

/** What POST /auth/login answered. */
export interface LoginAnswer {
  readonly token: string;
  /** ISO time (the server's clock). */
  readonly expiresAt: string;
}

/** Sends POST /auth/login (with the executor's retries, without credentials) and returns its answer; throws its error. */
export type LoginFunction = (user: string, password: string) => Promise<LoginAnswer>;

/** What the request executor needs from the credentials. */
export interface RequestAuth {
  /** The Authorization header for the next attempt (may wait for a login). */
  authorization(): Promise<string>;
  /**
   * An attempt sent with `authorization` got a 401: whether to send it once more (a new login
   * will be made for it). A 401 is answered before any work, so resending a write is safe.
   */
  rejected(authorization: string): boolean;
}

/** Checks the `auth` option of connect() and returns the credentials of the client. */
export function createRequestAuth(auth: ClientAuth, login: LoginFunction, nowMs: () => number = performanceNow): RequestAuth {
  if (typeof auth !== 'object' || auth === null) throw new TypeError('connect: auth must be { user, password } or { token }');
  const given = auth as { user?: unknown; password?: unknown; token?: unknown };
  if (given.token !== undefined) {
    if (given.user !== undefined || given.password !== undefined)
      throw new TypeError('connect: auth takes { user, password } or { token }, not both');
    if (typeof given.token !== 'string' || given.token === '' || given.token.length > TOKEN_CHARS_MAX || /[\s]/.test(given.token)) {
      throw new TypeError(`connect: auth.token must be a non-empty string of at most ${TOKEN_CHARS_MAX} characters without spaces`);
    }
    return new GivenToken(given.token);
  }
  if (typeof given.user !== 'string' || given.user === '' || given.user.length > USER_CHARS_MAX) {
    throw new TypeError(`connect: auth.user must be a non-empty string of at most ${USER_CHARS_MAX} characters`);
  }
  if (typeof given.password !== 'string' || given.password === '' || given.password.length > PASSWORD_CHARS_MAX) {
    // The password itself is never put in a message.
    throw new TypeError(`connect: auth.password must be a non-empty string of at most ${PASSWORD_CHARS_MAX} characters`);
  }
  return new PasswordSession(given.user, given.password, login, nowMs);
}

function performanceNow(): number {
  return performance.now();
}

/** A token from the caller: sent as is; a 401 is the caller's to handle (UnauthorizedError). */
class GivenToken implements RequestAuth {
  private readonly header: string;
  constructor(token: string) {
    this.header = `Bearer ${token}`;
  }
  authorization(): Promise<string> {
    return Promise.resolve(this.header);
  }
  rejected(): boolean {
    return false;
  }
}

interface HeldToken {
  readonly header: string;
  /** On our monotonic clock: past it, the next request logs in first. */
  readonly renewAtMs: number;
}

/** Logs in with a user and password; one login in flight at a time, shared by every request. */
class PasswordSession implements RequestAuth {
  private held: HeldToken | null = null;
  private pending: Promise<HeldToken> | null = null;

  constructor(
    private readonly user: string,
    private readonly password: string,
    private readonly login: LoginFunction,
    private readonly nowMs: () => number,
  ) {}

  async authorization(): Promise<string> {
    const held = this.held;
    if (held !== null && this.nowMs() < held.renewAtMs) return held.header;
    return (await this.renew()).header;
  }

  rejected(authorization: string): boolean {
    // The token may be expired (our clock ran slow against the server's), revoked (the
    // password changed), or from a cluster that was set up again. Forget it unless another
    // request already replaced it, so that every request refused with it shares one login.
    if (this.held?.header === authorization) this.held = null;
    return true;
  }

  private renew(): Promise<HeldToken> {
    if (this.pending === null) {
      const pending = this.loginOnce();
      this.pending = pending;
      // Cleared when settled: a failed login is not cached, the next request tries again.
      const clear = (): void => {
        if (this.pending === pending) this.pending = null;
      };
      pending.then(clear, clear);
    }
    return this.pending;
  }

  private async loginOnce(): Promise<HeldToken> {
    const answer = await this.login(this.user, this.password);
    if (typeof answer.token !== 'string' || answer.token === '' || answer.token.length > TOKEN_CHARS_MAX) {
      throw new ValidationError('POST /auth/login: the server answered without a usable token');
    }
    const now = this.nowMs();
    // Lifetime on our clock from the server's expiry: wrong by the clocks' offset. When it
    // comes out at nothing (our clock is ahead by more than the lifetime), the token is
    // still used until the server refuses it: renewal then happens on that 401 only, rather
    // than on every request.
    const lifetimeMs = Date.parse(answer.expiresAt) - Date.now();
    const renewAtMs = Number.isFinite(lifetimeMs) && lifetimeMs > 0 ? now + lifetimeMs * RENEW_AT_LIFETIME_SHARE : Number.POSITIVE_INFINITY;
    const held = { header: `Bearer ${answer.token}`, renewAtMs };
    this.held = held;
    return held;
  }
}
