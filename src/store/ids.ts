// Time-ordered unique ids: 8 characters of milliseconds, 4 of a per-millisecond
// sequence, 8 of randomness (48 bits), in an alphabet sorted by ASCII so that
// string order is creation order. Within a process the generator never goes
// backwards: when the clock does, or the sequence overflows, it keeps counting
// from the last time it used.

// 64 URL-safe characters in ASCII order.
const ALPHABET = '-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';
const TIME_CHARS = 8; // 48 bits: milliseconds until the year 10889
const SEQ_CHARS = 4; // 24 bits per millisecond
const RANDOM_CHARS = 8;
const SEQ_LIMIT = 64 ** SEQ_CHARS;
export const ID_LENGTH = TIME_CHARS + SEQ_CHARS + RANDOM_CHARS;

function encode(n: number, chars: number): string {
  let out = '';
  for (let i = 0; i < chars; i++) {
    out = ALPHABET[n % 64]! + out;
    n = Math.floor(n / 64);
  }
  return out;
}

export function createIdGenerator(now: () => number, randomBytes: (n: number) => Uint8Array): () => string {
  let lastTime = 0;
  let seq = 0;
  return () => {
    const t = Math.floor(now());
    if (!Number.isSafeInteger(t) || t < 0) throw new RangeError(`clock returned ${t}`);
    if (t > lastTime) {
      lastTime = t;
      seq = 0;
    } else {
      seq++;
      if (seq >= SEQ_LIMIT) {
        // Borrow the next millisecond rather than repeat or reorder.
        lastTime++;
        seq = 0;
      }
    }
    const bytes = randomBytes(RANDOM_CHARS);
    if (bytes.length < RANDOM_CHARS) throw new RangeError('randomBytes returned too few bytes');
    let rand = '';
    for (let i = 0; i < RANDOM_CHARS; i++) rand += ALPHABET[bytes[i]! & 63]!;
    return encode(lastTime, TIME_CHARS) + encode(seq, SEQ_CHARS) + rand;
  };
}
