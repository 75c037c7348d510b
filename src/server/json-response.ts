// A JSON array response serialized in slices (loop-turns.ts): JSON.stringify of 100,000
// documents in one call held the loop 20 to 65 ms, and of 100,000 documents of 1 KiB
// (100 MB) would hold it for seconds. Up to RESPONSE_BUFFER_CHARS the text is built in
// slices and sent whole (with a Content-Length); a larger one is streamed, built chunk by
// chunk as the client reads it, so the node holds at most about one chunk of text per
// response whatever its size.
import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { Slicer } from '../store/sort.ts';

/** Text built before the response is sent whole; beyond, it is streamed. */
export const RESPONSE_BUFFER_CHARS = 1024 * 1024;
/** Text per chunk of a streamed response (the socket's buffer takes about this much). */
const STREAM_CHUNK_CHARS = 64 * 1024;

/** Sends `items` as a JSON array, the same text as JSON.stringify(items). */
export async function sendJsonArray(reply: FastifyReply, items: readonly unknown[], slicer: Slicer): Promise<FastifyReply> {
  const parts: string[] = [];
  let chars = 0;
  let next = 0;
  while (next < items.length && chars <= RESPONSE_BUFFER_CHARS) {
    if (slicer.due()) await slicer.next();
    const text = JSON.stringify(items[next++]);
    parts.push(text);
    chars += text.length + 1;
  }
  void reply.type('application/json; charset=utf-8');
  if (next === items.length) return reply.send(`[${parts.join(',')}]`);
  return reply.send(Readable.from(streamRest(`[${parts.join(',')}`, items, next, slicer), { objectMode: false }));
}

async function* streamRest(head: string, items: readonly unknown[], from: number, slicer: Slicer): AsyncGenerator<string> {
  yield head;
  let chunk: string[] = [];
  let chars = 0;
  for (let i = from; i < items.length; i++) {
    if (slicer.due()) {
      if (chunk.length > 0) {
        yield chunk.join('');
        chunk = [];
        chars = 0;
      }
      await slicer.next();
    }
    const text = ',' + JSON.stringify(items[i]);
    chunk.push(text);
    chars += text.length;
    if (chars >= STREAM_CHUNK_CHARS) {
      yield chunk.join('');
      chunk = [];
      chars = 0;
    }
  }
  chunk.push(']');
  yield chunk.join('');
}
