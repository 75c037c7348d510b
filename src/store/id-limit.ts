// The one length limit of a document `_id`, in UTF-8 bytes: the store validates against
// it, the server sizes its path parameters by it, and the client checks it before a
// request is sent. Pure, and small, so that the client can import it.

/** The longest `_id`, in bytes of its UTF-8 encoding (what the log stores). */
export const ID_BYTES_MAX = 512;

/** True when the UTF-8 encoding of `id` is longer than ID_BYTES_MAX. A UTF-16 unit takes
 * at most 3 bytes of UTF-8, so a short id is not measured. */
export function idBytesOverMax(id: string): boolean {
  return id.length > ID_BYTES_MAX / 3 && Buffer.byteLength(id, 'utf8') > ID_BYTES_MAX;
}
