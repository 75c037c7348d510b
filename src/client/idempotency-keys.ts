// Idempotency keys of the writes a client sends (issue #12, exactly-once writes): the Raft
// thesis §6.3 session as HTTP headers. A key is `<clientId>.<seq>`: the client id is 16
// random bytes (base64url, 22 characters) drawn once per Client, the sequence number counts
// that client's writes. One write keeps its key across every retry, so the server applies it
// at most once and answers each retry with the first result; two writes never share one.
// Each write also says how far this client has its answers (Idempotency-Answered-Through:
// every seq through it is finished, answered or given up on, and never sent again), so the
// server drops those records instead of keeping each for its whole window.
import { randomBytes } from 'node:crypto';

/** One write's key, from its first attempt to its end. */
export interface IdempotencyTicket {
  readonly key: string;
  /** Every seq through this one was finished when the write began (undefined: none yet). */
  readonly answeredThrough: number | undefined;
  /** The write is finished (answered, or given up on): it will not be sent again. Once. */
  done(): void;
}

export type IdempotencyKeys = () => IdempotencyTicket;

/** Bytes of randomness in a client id: two clients never draw the same one. */
const CLIENT_ID_BYTES = 16;
/** The header's grammar on the server (docs/http-api.md): 1 to 128 of these characters. */
const KEY_GRAMMAR = /^[A-Za-z0-9._:-]{1,128}$/;

export function createIdempotencyKeys(random: (bytes: number) => Uint8Array = randomBytes): IdempotencyKeys {
  const clientId = Buffer.from(random(CLIENT_ID_BYTES)).toString('base64url');
  let seq = 0;
  /** Every seq through this one is finished. */
  let answered = 0;
  /** The seqs issued and not finished: the writes in flight (bounded by the caller's). */
  const open = new Set<number>();
  return () => {
    seq += 1;
    const mine = seq;
    const key = `${clientId}.${mine}`;
    if (!KEY_GRAMMAR.test(key)) throw new Error(`idempotency key ${JSON.stringify(key)} outside the header's grammar`);
    open.add(mine);
    let finished = false;
    return {
      key,
      answeredThrough: answered >= 1 ? answered : undefined,
      done: () => {
        if (finished) throw new Error(`idempotency key ${key} finished twice`);
        finished = true;
        open.delete(mine);
        // Each seq is passed once: amortised O(1) per write.
        while (answered < seq && !open.has(answered + 1)) answered += 1;
      },
    };
  };
}
