// PeerTransport: carries Raft messages and forwarded client requests between the nodes
// of a cluster over WebSockets on each node's own HTTP port (path /raft).
//
// Each node dials every peer and sends its messages and requests on that outbound
// connection (OutboundLink); it receives on the connections peers dial to it
// (InboundServer), where it also answers their requests. So a pair of nodes shares two
// connections, one per direction, and neither side has to decide who dials whom.

import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { pino, type Logger } from 'pino';
import type { Message } from '../raft/types.ts';
import { validateBackoff, type BackoffPolicy } from '../backoff.ts';
import { TransportError } from './errors.ts';
import { encodeFrame } from './frame-codec.ts';
import { InboundServer } from './inbound-server.ts';
import { checkSecret } from './peer-auth.ts';
import { checkTls } from './peer-tls.ts';
import { HANDSHAKE_RECEIVED_BYTES_MAX, HANDSHAKES_MAX, HANDSHAKES_PER_ADDRESS_MAX } from './handshake-limits.ts';
import { OutboundLink, errorMessage, type LinkSettings } from './outbound-link.ts';
import { parseAddress, type PeerAddress } from './peer-spec.ts';
import { PeerFaults } from './peer-faults.ts';

export interface TransportOptions {
  readonly nodeId: number;
  /** Nodes refuse peers with another cluster id (guards against cross-wired clusters). */
  readonly clusterId: string;
  /** This node's `host:port` as peers reach it; sent in the handshake. */
  readonly advertiseAddress: string;
  /** From --peers; ids may be unknown until a handshake tells them. */
  readonly peers: readonly PeerAddress[];
  /** A valid Raft message addressed to this node. Called synchronously from the socket's event. */
  readonly onMessage: (message: Message) => void;
  /** A client request forwarded by a peer (e.g. a write sent to a follower). Its result (or error,
   * with its `code`) goes back to the peer. Without it, forwarded requests fail with NO_HANDLER. */
  readonly onRequest?: (from: number, body: unknown) => Promise<unknown>;
  /** A peer given only by address told its node id (in its welcome or its hello). */
  readonly onPeerIdentified?: (id: number, address: string) => void;
  /** Membership check for inbound handshakes: true accepts; false or a reason refuses (logged on
   * both sides). Default: accept. */
  readonly isKnownPeer?: (id: number, address: string, incarnation: string) => boolean | string;
  /** This node's data-directory incarnation, sent in the handshake (see HelloFrame); not empty. */
  readonly incarnation: string;
  /** At least 32 bytes shared by every member: with it, every peer connection is mutually
   * authenticated and every frame on it tagged (peer-auth.ts); a peer without it is refused. */
  readonly clusterSecret?: Uint8Array;
  /** Mutual TLS between peers (see PeerTls). With it, peers are dialed with `wss://` and an inbound
   * `/raft` upgrade is admitted only over a TLS connection whose certificate `ca` verified. The
   * cluster secret's handshake, when also given, runs on top. */
  readonly tls?: PeerTls;
  /** Per-peer queue bounds; frames beyond them are dropped (Raft retries) and counted. */
  readonly maxQueueMessages?: number;
  readonly maxQueueBytes?: number;
  readonly reconnect?: BackoffPolicy;
  /** Largest frame accepted (and sent); bigger outbound messages are dropped with an error log. */
  readonly maxPayloadBytes?: number;
  /** Unflushed bytes per connection before the transport stops writing (backpressure). */
  readonly highWaterBytes?: number;
  /** WebSocket ping period; a connection that misses one pong is terminated. */
  readonly pingIntervalMs?: number;
  /** Time allowed for the WebSocket upgrade and for hello/welcome. */
  readonly handshakeTimeoutMs?: number;
  /** Bounds on inbound connections before admission (handshake-limits.ts): bytes one may send,
   * how many from one remote address and in total. Defaults: the constants there. */
  readonly handshakeReceivedBytesMax?: number;
  readonly handshakesPerAddressMax?: number;
  readonly handshakesMax?: number;
  /** Forwarded requests running at once per inbound connection. */
  readonly maxConcurrentRequests?: number;
  readonly logger?: Logger;
  /** Randomness for backoff jitter, in [0, 1). */
  readonly random?: () => number;
}

/** PEM material for mutual TLS between peers. Peer addresses stay `host:port`: the scheme
 * follows this option. Hostname verification stays on, so a node's certificate must name the
 * host peers dial it at (subjectAltName DNS or IP). */
export interface PeerTls {
  /** The CA (one or more PEM certificates) that signs every member's certificate. It replaces the
   * default root CAs, both for the server certificates this node dials and for the client
   * certificates of inbound peers. */
  readonly ca: Buffer | string;
  /** This node's certificate (chain), presented when it dials a peer. */
  readonly cert: Buffer | string;
  readonly key: Buffer | string;
}

/** Any server whose upgrades /raft is served on: the node's HTTP or HTTPS server. */
export type UpgradeServer = HttpServer | HttpsServer;

export interface PeerStats {
  /** 0 while the peer's id is not known yet. */
  readonly id: number;
  readonly address: string;
  /** The outbound connection has completed its handshake. */
  readonly connected: boolean;
  readonly queued: number;
  readonly queuedBytes: number;
  readonly sent: number;
  readonly dropped: number;
  /** Raft messages received from this peer (on its connections to us). */
  readonly received: number;
  readonly lastError: string | null;
}

export const TRANSPORT_DEFAULTS = Object.freeze({
  maxQueueMessages: 4096,
  maxQueueBytes: 64 * 1024 * 1024,
  reconnect: Object.freeze({ delayMsInitial: 50, delayMsMax: 2000 }),
  maxPayloadBytes: 32 * 1024 * 1024,
  highWaterBytes: 4 * 1024 * 1024,
  pingIntervalMs: 5000,
  handshakeTimeoutMs: 5000,
  maxConcurrentRequests: 256,
});

/** `host:port` with the host lowercased: the form addresses are compared in. */
export function normalizeAddress(address: string): string {
  const { host, port } = parseAddress(address);
  return `${host.toLowerCase()}:${port}`;
}

function positiveInteger(value: number, name: string): number {
  if (!(Number.isSafeInteger(value) && value > 0)) throw new Error(`transport: ${name} must be a positive integer, got ${value}`);
  return value;
}

export class PeerTransport {
  private readonly options: TransportOptions;
  private readonly nodeId: number;
  private readonly advertiseAddress: string;
  private readonly logger: Logger;
  private readonly linkSettings: LinkSettings;
  private readonly pingIntervalMs: number;
  private readonly links = new Set<OutboundLink>();
  private readonly byId = new Map<number, OutboundLink>();
  private readonly receivedFrom = new Map<number, number>();
  private readonly closingLinks = new Set<Promise<void>>();
  private readonly inbound: InboundServer;
  private pingTimer: NodeJS.Timeout | null = null;
  private started = false;
  private closed = false;
  private unroutable = 0;
  /** Injected network faults (only `start --enable-fault-injection` sets any). */
  readonly faults = new PeerFaults();

  constructor(options: TransportOptions) {
    this.options = options;
    this.nodeId = positiveInteger(options.nodeId, 'nodeId');
    this.advertiseAddress = normalizeAddress(options.advertiseAddress);
    this.logger = (options.logger ?? pino({ level: 'silent' })).child({ component: 'transport', node: this.nodeId });
    const reconnect = options.reconnect ?? TRANSPORT_DEFAULTS.reconnect;
    validateBackoff(reconnect);
    // Beyond what any backoff needs: a reconnect never comes at once, or a dead peer is dialled in a loop.
    positiveInteger(reconnect.delayMsInitial, 'reconnect.delayMsInitial');
    const maxPayload = positiveInteger(options.maxPayloadBytes ?? TRANSPORT_DEFAULTS.maxPayloadBytes, 'maxPayloadBytes');
    const handshakeTimeoutMs = positiveInteger(options.handshakeTimeoutMs ?? TRANSPORT_DEFAULTS.handshakeTimeoutMs, 'handshakeTimeoutMs');
    if (typeof options.incarnation !== 'string' || options.incarnation === '') throw new Error('transport: incarnation must be a non-empty string');
    const secret = options.clusterSecret === undefined ? null : checkSecret(options.clusterSecret);
    const tls = options.tls === undefined ? null : checkTls(options.tls);
    this.pingIntervalMs = positiveInteger(options.pingIntervalMs ?? TRANSPORT_DEFAULTS.pingIntervalMs, 'pingIntervalMs');
    this.linkSettings = {
      nodeId: this.nodeId,
      clusterId: options.clusterId,
      advertiseAddress: this.advertiseAddress,
      incarnation: options.incarnation,
      maxPayload,
      maxQueueMessages: positiveInteger(options.maxQueueMessages ?? TRANSPORT_DEFAULTS.maxQueueMessages, 'maxQueueMessages'),
      maxQueueBytes: positiveInteger(options.maxQueueBytes ?? TRANSPORT_DEFAULTS.maxQueueBytes, 'maxQueueBytes'),
      highWaterBytes: positiveInteger(options.highWaterBytes ?? TRANSPORT_DEFAULTS.highWaterBytes, 'highWaterBytes'),
      handshakeTimeoutMs,
      secret,
      tls: tls === null ? null : { ca: tls.ca, cert: tls.cert, key: tls.key },
      reconnect,
      random: options.random ?? Math.random,
      logger: this.logger,
    };
    this.inbound = new InboundServer(
      {
        nodeId: this.nodeId,
        clusterId: options.clusterId,
        maxPayload,
        handshakeTimeoutMs,
        maxConcurrentRequests: positiveInteger(options.maxConcurrentRequests ?? TRANSPORT_DEFAULTS.maxConcurrentRequests, 'maxConcurrentRequests'),
        secret,
        trustedCas: tls === null ? null : tls.trustedCas,
        handshakeReceivedBytesMax: positiveInteger(options.handshakeReceivedBytesMax ?? HANDSHAKE_RECEIVED_BYTES_MAX, 'handshakeReceivedBytesMax'),
        handshakesPerAddressMax: positiveInteger(options.handshakesPerAddressMax ?? HANDSHAKES_PER_ADDRESS_MAX, 'handshakesPerAddressMax'),
        handshakesMax: positiveInteger(options.handshakesMax ?? HANDSHAKES_MAX, 'handshakesMax'),
        logger: this.logger,
      },
      {
        isKnownPeer: (id, address, incarnation) => {
          try {
            return this.options.isKnownPeer?.(id, address, incarnation) ?? true;
          } catch (error) {
            this.logger.error({ peer: id, err: errorMessage(error) }, 'isKnownPeer threw: refusing the peer');
            return false;
          }
        },
        accepted: (id, address) => this.onInboundPeer(id, address),
        message: (message) => {
          if (this.faults.drops(message.from)) return;
          this.receivedFrom.set(message.from, (this.receivedFrom.get(message.from) ?? 0) + 1);
          this.options.onMessage(message);
        },
        request: options.onRequest,
      },
    );
    for (const peer of options.peers) {
      if (peer.id === undefined) this.addAddressOnlyPeer(peer.address);
      else this.addPeer(peer.id, peer.address);
    }
  }

  /** Serves peers' connections on `server`'s upgrade requests to /raft. */
  attach(server: UpgradeServer): void {
    if (this.closed) throw new Error('transport is closed');
    this.inbound.attach(server);
    this.startPings();
  }

  /** Dials every peer and keeps every link connected (reconnecting with backoff). */
  start(): void {
    if (this.closed || this.started) return;
    this.started = true;
    for (const link of this.links) link.start();
    this.startPings();
  }

  /** Queues `message` for `message.to`. Never throws: drops (and counts) when it cannot be sent. */
  send(message: Message): void {
    if (this.closed) return;
    const link = this.byId.get(message.to);
    if (link === undefined) {
      this.unroutable += 1;
      this.logger.debug({ to: message.to, type: message.type }, 'dropping message to an unknown peer');
      return;
    }
    if (message.from !== this.nodeId) {
      // The receiver would close the connection on it: refuse here instead.
      link.dropped += 1;
      this.logger.error({ from: message.from, type: message.type }, 'dropping message whose from is not this node');
      return;
    }
    let frame: Buffer;
    try {
      frame = encodeFrame({ k: 'raft', m: message });
    } catch (error) {
      link.dropped += 1;
      this.logger.error({ to: message.to, type: message.type, err: errorMessage(error) }, 'cannot encode message');
      return;
    }
    if (frame.length > this.linkSettings.maxPayload) {
      link.dropped += 1;
      this.logger.error({ to: message.to, type: message.type, bytes: frame.length }, 'message exceeds maxPayloadBytes: dropped');
      return;
    }
    if (this.faults.drops(message.to)) return;
    const delayMs = this.faults.delayTo(message.to);
    if (delayMs === 0) link.enqueue(frame);
    else
      setTimeout(() => {
        if (!this.closed) link.enqueue(frame);
      }, delayMs);
  }

  /** Sends `body` to peer `to` and resolves with its onRequest result. Rejects with a
   * TransportError: UNKNOWN_PEER, QUEUE_FULL, DISCONNECTED, TIMEOUT, CLOSED, ENCODE_FAILED or
   * REMOTE_ERROR (the peer's handler failed; `remoteCode` is its error's code). */
  request(to: number, body: unknown, timeoutMs: number): Promise<unknown> {
    if (this.closed) return Promise.reject(new TransportError('CLOSED', 'transport is closed'));
    const link = this.byId.get(to);
    if (link === undefined) return Promise.reject(new TransportError('UNKNOWN_PEER', `no peer with id ${to}`));
    if (this.faults.drops(to)) return Promise.reject(new TransportError('DISCONNECTED', `peer ${to} is cut off by an injected fault`));
    return link.request(body, timeoutMs);
  }

  /** Adds (or moves) peer `id` at `address`. Adding this node itself is ignored. */
  addPeer(id: number, address: string): void {
    positiveInteger(id, 'peer id');
    const normalized = normalizeAddress(address);
    if (this.closed || id === this.nodeId) return;
    const existing = this.byId.get(id);
    if (existing !== undefined) {
      if (existing.address === normalized) return;
      this.logger.info({ peer: id, from: existing.address, to: normalized }, `node ${id} moved to ${normalized}`);
      this.dropLink(existing);
    }
    for (const link of this.links) {
      if (link.address !== normalized) continue;
      if (link.id === undefined) {
        link.id = id;
        this.byId.set(id, link);
        return;
      }
      this.logger.warn({ peer: link.id, address: normalized }, `address ${normalized} now belongs to node ${id}, not node ${link.id}`);
      this.byId.delete(link.id);
      this.dropLink(link);
    }
    this.createLink(id, normalized);
  }

  removePeer(id: number): void {
    const link = this.byId.get(id);
    if (link === undefined) return;
    this.byId.delete(id);
    this.dropLink(link);
  }

  /** Ids of the peers this node sends to (configured or learned). */
  peerIds(): number[] {
    return [...this.byId.keys()].sort((a, b) => a - b);
  }

  addressOf(id: number): string | undefined {
    return this.byId.get(id)?.address;
  }

  stats(): PeerStats[] {
    return [...this.links].map((link) => ({
      id: link.id ?? 0,
      address: link.address,
      connected: link.connected,
      queued: link.queued,
      queuedBytes: link.queuedBytes,
      sent: link.sent,
      dropped: link.dropped,
      received: link.id === undefined ? 0 : (this.receivedFrom.get(link.id) ?? 0),
      lastError: link.lastError,
    }));
  }

  /** Messages dropped because no peer had their `to` id. */
  unroutableDropped(): number {
    return this.unroutable;
  }

  /** Inbound connections not admitted yet (for tests and status). */
  inboundInHandshake(): number {
    return this.inbound.inHandshake;
  }

  /** Ids of peers currently connected to us (inbound, handshake done). */
  inboundPeerIds(): number[] {
    return [...new Set(this.inbound.connectedPeerIds())].sort((a, b) => a - b);
  }

  /** Closes every connection, stops reconnecting and the ping timer, fails pending requests,
   * and detaches from the HTTP server (which the caller closes). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
    const closing = [...this.links].map((link) => link.close());
    this.links.clear();
    this.byId.clear();
    await Promise.all([...closing, ...this.closingLinks, this.inbound.close()]);
  }

  private addAddressOnlyPeer(address: string): void {
    const normalized = normalizeAddress(address);
    if (normalized === this.advertiseAddress) return; // this node itself
    for (const link of this.links) if (link.address === normalized) return;
    this.createLink(undefined, normalized);
  }

  private createLink(id: number | undefined, address: string): void {
    const link = new OutboundLink(id, address, this.linkSettings, {
      identified: (l, learned) => this.onIdentified(l, learned),
    });
    this.links.add(link);
    if (id !== undefined) this.byId.set(id, link);
    if (this.started) link.start();
  }

  private dropLink(link: OutboundLink): void {
    this.links.delete(link);
    const closing = link.close();
    this.closingLinks.add(closing);
    void closing.then(() => this.closingLinks.delete(closing));
  }

  /** An address-only link learned its peer's id from the welcome. */
  private onIdentified(link: OutboundLink, id: number): string | null {
    const other = this.byId.get(id);
    if (other !== undefined && other !== link) {
      return `${link.address} says it is node ${id}, but node ${id} is configured at ${other.address}`;
    }
    this.byId.set(id, link);
    this.logger.info({ peer: id, address: link.address }, `learned that ${link.address} is node ${id}`);
    this.notifyIdentified(id, link.address);
    return null;
  }

  /** A peer dialed us: our link to it redials now if it was waiting out a backoff; if it
   * advertises the address of a link whose id is unknown, that is its id. */
  private onInboundPeer(id: number, address: string): void {
    const known = this.byId.get(id);
    if (known !== undefined) {
      // It is up: our link to it need not wait out its backoff.
      if (this.started && !this.closed) known.redialIfWaiting();
      return;
    }
    let normalized: string;
    try {
      normalized = normalizeAddress(address);
    } catch {
      return; // a peer advertising a malformed address cannot match one of ours
    }
    for (const link of this.links) {
      if (link.id === undefined && link.address === normalized) {
        link.id = id;
        this.byId.set(id, link);
        this.logger.info({ peer: id, address: normalized }, `learned from its hello that ${normalized} is node ${id}`);
        this.notifyIdentified(id, normalized);
        return;
      }
    }
    // A member we had no address for (added to the cluster through another node, or known
    // before this node restarted) dialed us: its hello tells us where to dial back.
    for (const link of this.links) if (link.address === normalized) return; // that address is already dialed, as another id
    if (this.started && !this.closed) {
      this.logger.info({ peer: id, address: normalized }, `node ${id} dialed in from ${normalized}: dialing back`);
      this.addPeer(id, normalized);
      this.notifyIdentified(id, normalized);
    }
  }

  /** Callbacks run inside socket events: one that throws must not take the process down. */
  private notifyIdentified(id: number, address: string): void {
    try {
      this.options.onPeerIdentified?.(id, address);
    } catch (error) {
      this.logger.error({ peer: id, err: errorMessage(error) }, 'onPeerIdentified threw');
    }
  }

  private startPings(): void {
    if (this.pingTimer !== null || this.closed) return;
    this.pingTimer = setInterval(() => {
      for (const link of this.links) link.heartbeat();
      this.inbound.heartbeat();
    }, this.pingIntervalMs);
  }
}
