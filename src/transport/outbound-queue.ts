// A FIFO of encoded frames waiting for a peer's connection, bounded by count and by
// bytes. A frame that does not fit is refused (the caller counts it as dropped): Raft
// resends what matters, so dropping beats growing memory behind a slow or dead peer.
import { assert } from '../assert.ts';

export interface QueuedFrame {
  readonly frame: Buffer;
  /** Set for forwarded requests, so that a dropped request can be failed at once. */
  readonly requestId: number | undefined;
}

export class OutboundQueue {
  private items: QueuedFrame[] = [];
  private head = 0;
  private queuedBytes = 0;

  constructor(
    readonly maxMessages: number,
    readonly maxBytes: number,
  ) {
    if (!(Number.isSafeInteger(maxMessages) && maxMessages > 0)) throw new Error('maxQueueMessages must be a positive integer');
    if (!(Number.isSafeInteger(maxBytes) && maxBytes > 0)) throw new Error('maxQueueBytes must be a positive integer');
  }

  get length(): number {
    return this.items.length - this.head;
  }

  get bytes(): number {
    return this.queuedBytes;
  }

  /** False (and nothing queued) when the frame would exceed either bound. */
  push(item: QueuedFrame): boolean {
    if (this.length + 1 > this.maxMessages) return false;
    if (this.queuedBytes + item.frame.length > this.maxBytes) return false;
    this.items.push(item);
    this.queuedBytes += item.frame.length;
    return true;
  }

  shift(): QueuedFrame | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head]!;
    this.head += 1;
    this.queuedBytes -= item.frame.length;
    // Compact now and then, so that the consumed prefix does not pin memory.
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    assert(this.queuedBytes >= 0, `OutboundQueue: negative byte count ${this.queuedBytes}`);
    return item;
  }

  /** Empties the queue and returns what it held. */
  drain(): QueuedFrame[] {
    const rest = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    this.queuedBytes = 0;
    return rest;
  }
}
