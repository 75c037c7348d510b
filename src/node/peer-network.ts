// What RaftNode needs from its peers. In a cluster that is the WebSocket
// PeerTransport; an embedded database is a group of one and has no peers.
import type { Message } from '../raft/types.ts';
import type { PeerStats, UpgradeServer } from '../transport/index.ts';

export interface PeerNetwork {
  /** Serves peers' connections on the node's HTTP server. */
  attach(server: UpgradeServer): void;
  start(): void;
  send(message: Message): void;
  request(to: number, body: unknown, timeoutMs: number): Promise<unknown>;
  addPeer(id: number, address: string): void;
  removePeer(id: number): void;
  peerIds(): number[];
  addressOf(id: number): string | undefined;
  stats(): PeerStats[];
  close(): Promise<void>;
}

/** The network of a group of one: nobody to talk to. */
export class NoPeers implements PeerNetwork {
  attach(): void {}
  start(): void {}
  send(): void {}
  async request(to: number): Promise<unknown> {
    throw new Error(`no peer ${to}: this node runs alone`);
  }
  addPeer(): void {}
  removePeer(): void {}
  peerIds(): number[] {
    return [];
  }
  addressOf(): string | undefined {
    return undefined;
  }
  stats(): PeerStats[] {
    return [];
  }
  async close(): Promise<void> {}
}
