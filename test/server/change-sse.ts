// Reading server-sent events in tests: a change stream opened with node:http, read one
// message at a time (its socket closes the moment the test aborts it).
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { RaftEvent } from '../../src/store/raft-event.ts';

export interface SseMessage {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

export class SseReader {
  private buffer = '';
  private readonly decoder = new TextDecoder();
  private readonly chunks: AsyncIterator<Buffer>;
  constructor(readonly response: IncomingMessage) {
    this.chunks = response[Symbol.asyncIterator]();
  }

  abort(): void {
    this.response.destroy();
  }

  /** The next message, or null once the stream ended. */
  async next(): Promise<SseMessage | null> {
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end !== -1) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const msg: SseMessage = {};
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) msg.comment = line.slice(1).trim();
          else {
            const i = line.indexOf(': ');
            (msg as Record<string, string>)[line.slice(0, i)] = line.slice(i + 2);
          }
        }
        return msg;
      }
      let step: IteratorResult<Buffer>;
      try {
        step = await this.chunks.next();
      } catch {
        return null;
      }
      if (step.done === true) return null;
      this.buffer += this.decoder.decode(step.value, { stream: true });
    }
  }

  /** The next change event (comments skipped); checks that its SSE id is its event id. */
  async nextChange(): Promise<RaftEvent> {
    for (;;) {
      const msg = await this.next();
      assert.ok(msg !== null, 'stream ended early');
      if (msg.comment !== undefined) continue;
      assert.equal(msg.event, 'change');
      const event = JSON.parse(msg.data!) as RaftEvent;
      assert.equal(msg.id, event.eventId);
      return event;
    }
  }

  /** The next `count` change events. */
  async changes(count: number): Promise<RaftEvent[]> {
    const out: RaftEvent[] = [];
    while (out.length < count) out.push(await this.nextChange());
    return out;
  }
}

/** Opens a stream; resolves with the response (any status). */
export function openResponse(url: string, headers: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpRequest(url, { headers }, resolve);
    req.on('error', reject);
    req.end();
  });
}

/** Opens a stream that must answer 200 with an event stream. */
export async function openStream(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
  const response = await openResponse(url, headers);
  assert.equal(response.statusCode, 200);
  assert.match(String(response.headers['content-type']), /^text\/event-stream/);
  return new SseReader(response);
}

/** The body of a response that is not a stream. */
export async function bodyOf(response: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of response) text += (chunk as Buffer).toString('utf8');
  return text;
}
