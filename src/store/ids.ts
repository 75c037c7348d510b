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

/** Every pair of alphabet characters, indexed by (a << 6) | b: one lookup per 12 bits. */
const PAIRS: readonly string[] = Array.from({ length: 4096 }, (_, i) => ALPHABET[i >> 6]! + ALPHABET[i & 63]!);

function encode(n: number, chars: number): string {
  let out = '';
  for (let i = 0; i < chars; i++) {
    out = ALPHABET[n % 64]! + out;
    n = Math.floor(n / 64);
  }
  return out;
}

/** Random bytes are fetched this many ids at a time (one call instead of one per id). */
const IDS_PER_RANDOM_FETCH = 64;

export function createIdGenerator(now: () => number, randomBytes: (n: number) => Uint8Array): () => string {
  let lastTime = 0;
  let timePrefix = encode(0, TIME_CHARS);
  let seq = 0;
  let random: Uint8Array = new Uint8Array(0);
  let at = 0;
  return () => {
    const t = Math.floor(now());
    if (!Number.isSafeInteger(t) || t < 0) throw new RangeError(`clock returned ${t}`);
    if (t > lastTime) {
      lastTime = t;
      timePrefix = encode(lastTime, TIME_CHARS);
      seq = 0;
    } else {
      seq++;
      if (seq >= SEQ_LIMIT) {
        // Borrow the next millisecond rather than repeat or reorder.
        lastTime++;
        timePrefix = encode(lastTime, TIME_CHARS);
        seq = 0;
      }
    }
    if (at + RANDOM_CHARS > random.length) {
      random = randomBytes(RANDOM_CHARS * IDS_PER_RANDOM_FETCH);
      if (random.length < RANDOM_CHARS) throw new RangeError('randomBytes returned too few bytes');
      at = 0;
    }
    const r = random;
    const i = at;
    at += RANDOM_CHARS;
    // SEQ_CHARS = 4 and RANDOM_CHARS = 8: two and four character pairs.
    return (
      timePrefix +
      PAIRS[seq >> 12]! +
      PAIRS[seq & 4095]! +
      PAIRS[((r[i]! & 63) << 6) | (r[i + 1]! & 63)]! +
      PAIRS[((r[i + 2]! & 63) << 6) | (r[i + 3]! & 63)]! +
      PAIRS[((r[i + 4]! & 63) << 6) | (r[i + 5]! & 63)]! +
      PAIRS[((r[i + 6]! & 63) << 6) | (r[i + 7]! & 63)]!
    );
  };
}
