// Password hashing with scrypt (node:crypto), run on libuv's thread pool so that a login
// never blocks the event loop that carries Raft's heartbeats. The work is bounded: at most
// HASHES_IN_FLIGHT_MAX at once and HASHES_QUEUED_MAX waiting; past that a request gets
// 429 TOO_MANY_REQUESTS, so a flood of wrong passwords costs bounded CPU and memory.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { StoreError, ValidationError } from '../../store/errors.ts';

/** scrypt cost: 2^14 × 8 × 128 B = 16 MiB of memory and about 50 ms of one core per hash. */
const COST = { N: 16_384, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** Bounds on the parameters read back from a stored hash (they come from replicated state). */
const COST_N_MAX = 1 << 20;
const SCRYPT_MEMORY_BYTES_MAX = 256 * 1024 * 1024;

export const PASSWORD_CHARS_MIN = 8;
export const PASSWORD_CHARS_MAX = 1024;
/** One scrypt at a time per node: a flood of wrong passwords then takes at most one core, and
 * never starves the event loop that carries heartbeats (two per node deposed a leader on a
 * 2-core host running three nodes). */
export const HASHES_IN_FLIGHT_MAX = 1;
export const HASHES_QUEUED_MAX = 64;

export function validatePassword(password: unknown, path = 'password'): asserts password is string {
  if (typeof password !== 'string' || password.length < PASSWORD_CHARS_MIN || password.length > PASSWORD_CHARS_MAX) {
    throw new ValidationError(`${path}: a password is a string of ${PASSWORD_CHARS_MIN} to ${PASSWORD_CHARS_MAX} characters`);
  }
}

function scryptAsync(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keylen, options, (error, key) => (error !== null ? reject(error) : resolve(key)));
  });
}

/** Runs scrypt with bounded concurrency and a bounded queue. */
export class PasswordHasher {
  private inFlight = 0;
  private readonly queue: (() => void)[] = [];

  /** `scrypt$N$r$p$salt$hash` (base64), for a new or changed password. */
  async hash(password: string): Promise<string> {
    const salt = randomBytes(SALT_BYTES);
    const key = await this.run(() => scryptAsync(password, salt, HASH_BYTES, { ...COST, maxmem: SCRYPT_MEMORY_BYTES_MAX }));
    return `scrypt$${COST.N}$${COST.r}$${COST.p}$${salt.toString('base64')}$${key.toString('base64')}`;
  }

  /** Whether `password` matches `stored`; false for a malformed stored hash. */
  async verify(password: string, stored: string): Promise<boolean> {
    const parts = stored.split('$');
    if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
    const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
    if (![N, r, p].every((x) => Number.isSafeInteger(x) && x >= 1) || N > COST_N_MAX || 128 * N * r > SCRYPT_MEMORY_BYTES_MAX || p > 16) return false;
    const salt = Buffer.from(parts[4]!, 'base64');
    const expected = Buffer.from(parts[5]!, 'base64');
    if (expected.length < 16 || expected.length > 64) return false;
    const key = await this.run(() => scryptAsync(password, salt, expected.length, { N, r, p, maxmem: SCRYPT_MEMORY_BYTES_MAX }));
    return timingSafeEqual(key, expected);
  }

  private async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.inFlight >= HASHES_IN_FLIGHT_MAX) {
      if (this.queue.length >= HASHES_QUEUED_MAX) {
        throw new StoreError(
          'TOO_MANY_REQUESTS',
          `too many password checks in progress (${HASHES_IN_FLIGHT_MAX} running, ${HASHES_QUEUED_MAX} waiting): retry later`,
        );
      }
      await new Promise<void>((resolve) => this.queue.push(resolve));
    } else {
      this.inFlight++;
    }
    try {
      return await work();
    } finally {
      // Hand the slot to the next waiter, or free it.
      const next = this.queue.shift();
      if (next !== undefined) next();
      else this.inFlight--;
    }
  }
}
