// Random bytes for id generation. crypto.randomBytes per call costs a syscall
// and an allocation per document; a pooled buffer refilled 4 KiB at a time
// costs one per few hundred ids.
import { randomFillSync } from 'node:crypto';

export function pooledRandomBytes(poolSize = 4096): (n: number) => Uint8Array {
  const pool = new Uint8Array(poolSize);
  let offset = poolSize;
  return (n: number): Uint8Array => {
    if (n > poolSize) return randomFillSync(new Uint8Array(n));
    if (offset + n > poolSize) {
      randomFillSync(pool);
      offset = 0;
    }
    // A copy: the caller may keep it while the pool is refilled.
    const out = pool.slice(offset, offset + n);
    offset += n;
    return out;
  };
}
