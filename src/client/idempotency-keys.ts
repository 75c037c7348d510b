// Idempotency keys of the writes a client sends (issue #12, exactly-once writes): the Raft
// thesis §6.3 session as an HTTP header. A key is `<clientId>.<seq>`: the client id is 16
// random bytes (base64url, 22 characters) drawn once per Client, the sequence number counts
// that client's writes. One write keeps its key across every retry, so the server applies it
// at most once and answers each retry with the first result; two writes never share one.
import { randomBytes } from 'node:crypto';

export type IdempotencyKeys = () => string;

/** Bytes of randomness in a client id: two clients never draw the same one. */
const CLIENT_ID_BYTES = 16;
/** The header's grammar on the server (docs/http-api.md): 1 to 128 of these characters. */
const KEY_GRAMMAR = /^[A-Za-z0-9._:-]{1,128}$/;

export function createIdempotencyKeys(random: (bytes: number) => Uint8Array = randomBytes): IdempotencyKeys {
  const clientId = Buffer.from(random(CLIENT_ID_BYTES)).toString('base64url');
  let seq = 0;
  return () => {
    seq += 1;
    const key = `${clientId}.${seq}`;
    if (!KEY_GRAMMAR.test(key)) throw new Error(`idempotency key ${JSON.stringify(key)} outside the header's grammar`);
    return key;
  };
}
