// Bounds on connections that have not completed their handshake. Until its welcome, a
// connection is anybody's: it must cost this node little memory, and there must be few of
// them. (ws alone would buffer a frame of up to maxPayload, 32 MiB, before any check: sixty
// sockets held 2 GB in a review's test.)

/** Bytes a connection may send before it is admitted (its welcome): a hello and a proof with
 * their WebSocket framing, and a few pings, fit many times over. Counted on the socket itself,
 * before ws buffers a frame, so a connection holds at most this plus one socket read. */
export const HANDSHAKE_RECEIVED_BYTES_MAX = 8 * 1024;

/** Connections in their handshake from one remote IP address; more get 429 at upgrade time.
 * A peer has one link to this node at a time: a few cover reconnects, and a local cluster
 * (every node on 127.0.0.1) of tens of nodes. */
export const HANDSHAKES_PER_ADDRESS_MAX = 16;

/** Connections in their handshake in total; more get 503 at upgrade time. With the byte bound
 * above, they hold at most about 128 × 72 KiB ≈ 9 MiB. */
export const HANDSHAKES_MAX = 128;

export interface HandshakeSlot {
  /** Frees the slot (idempotent): at admission, or when the connection closes. */
  release(): void;
}

/** Counts connections in their handshake, per remote address and in total. */
export class HandshakeGate {
  private readonly byAddress = new Map<string, number>();
  private total = 0;

  constructor(
    private readonly perAddressMax: number,
    private readonly totalMax: number,
  ) {}

  /** A slot, or which bound is reached. */
  take(address: string): HandshakeSlot | 'per-address' | 'total' {
    const mine = this.byAddress.get(address) ?? 0;
    if (mine >= this.perAddressMax) return 'per-address';
    if (this.total >= this.totalMax) return 'total';
    this.byAddress.set(address, mine + 1);
    this.total += 1;
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        this.total -= 1;
        const left = (this.byAddress.get(address) ?? 1) - 1;
        if (left <= 0) this.byAddress.delete(address);
        else this.byAddress.set(address, left);
      },
    };
  }

  /** Connections in their handshake now (for tests). */
  get inHandshake(): number {
    return this.total;
  }
}
