// Parsing server-sent events (the WHATWG format, as much of it as change streams use): a
// message is a block of `field: value` lines ended by a blank line; lines starting with `:`
// are comments (the server's heartbeats).

/** A message longer than this is refused (the server's largest is one document's event). */
export const SSE_BLOCK_CHARS_MAX = 8 * 1024 * 1024;

export interface SseMessage {
  readonly id?: string;
  readonly event?: string;
  readonly data?: string;
}

/** The message of one block (without its blank line), or null for a comment-only block. */
export function parseSseBlock(block: string): SseMessage | null {
  let id: string | undefined;
  let event: string | undefined;
  const data: string[] = [];
  for (const raw of block.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'id') id = value;
    else if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (id === undefined && event === undefined && data.length === 0) return null;
  return { ...(id !== undefined ? { id } : {}), ...(event !== undefined ? { event } : {}), ...(data.length > 0 ? { data: data.join('\n') } : {}) };
}
