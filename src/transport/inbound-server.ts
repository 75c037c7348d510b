// The receiving side: WebSocket connections that peers dial to this node's `/raft`
// path on the node's HTTP server. Each connection starts with the peer's hello; with a
// cluster secret, the peer must then prove it holds the secret (challenge, proof: see
// peer-auth.ts) before anything else is looked at. Then the hello is checked (cluster id,
// node id, membership) and answered with welcome or refused; after it, the peer's Raft
// messages are validated and delivered, and its forwarded requests are run and answered
// on the same socket. Upgrades that carry an Origin header (browsers) are refused.
//
// A connection's steps:  hello ──(secret)──► proof ──► open
//                          └──(no secret)──────────────► open

import type { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import type { Logger } from 'pino';
import { assert } from '../assert.ts';
import type { Message } from '../raft/types.ts';
import {
  decodeFrame,
  encodeFrame,
  MAX_HANDSHAKE_FRAME_BYTES,
  PROTOCOL_VERSION,
  type Frame,
  type HelloFrame,
  type RefusalCode,
} from './frame-codec.ts';
import { FrameAuthenticator, handshakeProof, newNonce, proofMatches, sessionKeys, transcriptOf, type Transcript } from './peer-auth.ts';
import { RAFT_PATH, errorMessage } from './outbound-link.ts';
import { rawDataToBuffer } from './raw-data.ts';
import { peerCertificateProblem } from './peer-tls.ts';
import { HandshakeGate, type HandshakeSlot } from './handshake-limits.ts';
import { LogLimiter } from './log-limiter.ts';
import type { UpgradeServer } from './peer-transport.ts';

export interface InboundSettings {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly maxPayload: number;
  readonly handshakeTimeoutMs: number;
  /** Forwarded requests running at once per connection; beyond, the peer gets a BUSY error. */
  readonly maxConcurrentRequests: number;
  /** With a secret, every connection is authenticated (peer-auth.ts). */
  readonly secret: Uint8Array | null;
  /** With mutual TLS: an upgrade is admitted only over a connection whose client certificate
   * was verified and chains to one of these CAs (peer-tls.ts). */
  readonly trustedCas: readonly X509Certificate[] | null;
  /** Bounds before admission (handshake-limits.ts): bytes per connection, connections per remote address and in total. */
  readonly handshakeReceivedBytesMax: number;
  readonly handshakesPerAddressMax: number;
  readonly handshakesMax: number;
  readonly logger: Logger;
}

export interface InboundHandlers {
  /** Membership check for a hello that passed the cluster and node id checks: true to accept,
   * false or a reason (string) to refuse. */
  isKnownPeer(id: number, address: string, incarnation: string): boolean | string;
  /** A peer completed the handshake. */
  accepted(id: number, address: string): void;
  /** A valid Raft message from `from` to this node. */
  message(message: Message): void;
  request: ((from: number, body: unknown) => Promise<unknown>) | undefined;
}

interface Refusal {
  readonly code: RefusalCode;
  /** What the peer is told: never the cluster id, the member list or anything of the secret. */
  readonly reason: string;
  /** What is logged here. */
  readonly detail: string;
}

const AUTH_FAILED = 'authentication failed';
const CLUSTER_ID_MISMATCH = 'cluster id does not match';

type Step =
  | { readonly k: 'hello' }
  | { readonly k: 'proof'; readonly hello: HelloFrame; readonly transcript: Transcript; readonly secret: Uint8Array }
  | { readonly k: 'open'; readonly peerId: number };

class InboundConnection {
  step: Step = { k: 'hello' };
  /** With a secret, once open: checks the tags of the peer's frames, and adds them to ours. */
  receiveAuth: FrameAuthenticator | null = null;
  sendAuth: FrameAuthenticator | null = null;
  alive = true;
  runningRequests = 0;
  handshakeTimer: NodeJS.Timeout | null = null;
  constructor(
    readonly ws: WebSocket,
    readonly remote: string,
    /** Ends the handshake's bounds (its slot, its byte count): called at admission and at close. */
    readonly endHandshake: () => void,
  ) {}

  get peerId(): number | undefined {
    return this.step.k === 'open' ? this.step.peerId : undefined;
  }

  send(frame: Buffer): void {
    this.ws.send(this.sendAuth === null ? frame : this.sendAuth.seal(frame));
  }
}

export class InboundServer {
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<InboundConnection>();
  private attached: { server: UpgradeServer; listener: (req: IncomingMessage, socket: Duplex, head: Buffer) => void } | null = null;
  private closed = false;
  private readonly loggedRefusals = new Set<string>();
  private readonly handshakes: HandshakeGate;
  /** Warnings anyone who reaches the port can cause. */
  private readonly limitedLog: LogLimiter;

  constructor(
    private readonly settings: InboundSettings,
    private readonly handlers: InboundHandlers,
  ) {
    // clientTracking off: this class tracks its connections (with their handshake state).
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: settings.maxPayload,
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.handshakes = new HandshakeGate(settings.handshakesPerAddressMax, settings.handshakesMax);
    this.limitedLog = new LogLimiter(settings.logger);
  }

  /** Connections upgraded or upgrading that have not been admitted yet. */
  get inHandshake(): number {
    return this.handshakes.inHandshake;
  }

  /**
   * Handles the server's upgrade requests for `/raft`. Upgrades to other paths are left to
   * whoever else listens for 'upgrade' (e.g. a dashboard WebSocket); when no other listener
   * exists, Node would leave such a socket open forever, so it is answered 404 and destroyed.
   */
  attach(server: UpgradeServer): void {
    assert(this.attached === null, 'transport is already attached to a server');
    const listener = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
      const ours = pathOf(req.url) === RAFT_PATH;
      if (!ours) {
        if (server.listenerCount('upgrade') === 1) rejectUpgrade(socket, 404, 'Not Found');
        return;
      }
      if (this.closed) {
        rejectUpgrade(socket, 503, 'Service Unavailable');
        return;
      }
      // Browsers always send Origin, peers never do: a page must not reach the peer port.
      if (req.headers.origin !== undefined) {
        this.settings.logger.warn(
          { remote: req.socket.remoteAddress, origin: req.headers.origin.slice(0, 200) },
          'refused a /raft upgrade with an Origin header',
        );
        rejectUpgrade(socket, 403, 'Forbidden');
        return;
      }
      const cas = this.settings.trustedCas;
      const tlsProblem = cas === null ? null : peerCertificateProblem(req.socket, cas);
      if (tlsProblem !== null) {
        this.warnOnce(
          `tls|${req.socket.remoteAddress ?? '?'}|${tlsProblem}`,
          { remote: req.socket.remoteAddress },
          `refused a /raft upgrade: ${tlsProblem}`,
        );
        rejectUpgrade(socket, 403, 'Forbidden');
        return;
      }
      const remoteAddress = req.socket.remoteAddress ?? '?';
      const slot = this.handshakes.take(remoteAddress);
      if (typeof slot === 'string') {
        // No detail for the caller; the bound is named here.
        const bound =
          slot === 'per-address' ? `${this.settings.handshakesPerAddressMax} from one address` : `${this.settings.handshakesMax} in total`;
        this.limitedLog.warn({ remote: remoteAddress }, `refused a /raft upgrade: already ${bound} connections in their handshake`);
        rejectUpgrade(socket, slot === 'per-address' ? 429 : 503, slot === 'per-address' ? 'Too Many Requests' : 'Service Unavailable');
        return;
      }
      const endHandshake = this.boundHandshake(req, socket, slot);
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req, endHandshake));
    };
    server.on('upgrade', listener);
    this.attached = { server, listener };
  }

  heartbeat(): void {
    for (const connection of this.connections) {
      const { ws } = connection;
      if (ws.readyState !== WebSocket.OPEN) continue;
      if (!connection.alive) {
        this.settings.logger.info({ peer: connection.peerId, remote: connection.remote }, 'inbound peer connection missed a pong: terminating');
        ws.terminate();
        continue;
      }
      connection.alive = false;
      ws.ping();
    }
  }

  /** Connections that completed the handshake, by peer id (for tests and status). */
  connectedPeerIds(): number[] {
    const ids: number[] = [];
    for (const c of this.connections) if (c.peerId !== undefined) ids.push(c.peerId);
    return ids;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.attached !== null) {
      this.attached.server.off('upgrade', this.attached.listener);
      this.attached = null;
    }
    const closing: Promise<void>[] = [];
    for (const connection of this.connections) {
      if (connection.handshakeTimer !== null) clearTimeout(connection.handshakeTimer);
      connection.handshakeTimer = null;
      const { ws } = connection;
      if (ws.readyState === WebSocket.CLOSED) continue;
      closing.push(new Promise<void>((resolve) => ws.once('close', () => resolve())));
      ws.terminate();
    }
    await Promise.all(closing);
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  /**
   * Until admission, counts the bytes `socket` delivers (before ws buffers them into a frame)
   * and destroys it past the bound; the slot is freed at admission or close. Returns what ends
   * both at admission.
   */
  private boundHandshake(req: IncomingMessage, socket: Duplex, slot: HandshakeSlot): () => void {
    const max = this.settings.handshakeReceivedBytesMax;
    let received = 0;
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received <= max) return;
      socket.off('data', onData);
      this.limitedLog.warn(
        { remote: req.socket.remoteAddress },
        `closing a peer connection before its handshake completed: it sent ${received} bytes (at most ${max})`,
      );
      socket.destroy();
    };
    // ws re-reads `head` through the socket (unshift), so every byte is counted here.
    socket.on('data', onData);
    const end = (): void => {
      socket.off('data', onData);
      slot.release();
    };
    socket.once('close', end);
    return end;
  }

  private onConnection(ws: WebSocket, req: IncomingMessage, endHandshake: () => void): void {
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    if (this.closed) {
      ws.terminate();
      return;
    }
    const connection = new InboundConnection(ws, remote, endHandshake);
    this.connections.add(connection);
    connection.handshakeTimer = setTimeout(() => {
      connection.handshakeTimer = null;
      this.settings.logger.warn({ remote }, `peer at ${remote} sent no hello within ${this.settings.handshakeTimeoutMs} ms`);
      ws.terminate();
    }, this.settings.handshakeTimeoutMs);
    ws.on('message', (data, isBinary) => {
      if (ws.readyState !== WebSocket.OPEN) return; // closing after a refusal or protocol error
      connection.alive = true;
      if (!isBinary) {
        this.protocolError(connection, 'malformed frame: text frame');
        return;
      }
      let bytes = rawDataToBuffer(data);
      const { step } = connection;
      if (step.k !== 'open' && bytes.length > MAX_HANDSHAKE_FRAME_BYTES) {
        this.protocolError(
          connection,
          `handshake frame of ${bytes.length} bytes (at most ${MAX_HANDSHAKE_FRAME_BYTES} before the handshake completes)`,
        );
        return;
      }
      if (step.k === 'open' && connection.receiveAuth !== null) {
        const opened = connection.receiveAuth.open(bytes);
        if (opened === null) {
          this.protocolError(connection, 'a frame failed authentication (altered, replayed, reordered or dropped)');
          return;
        }
        bytes = opened;
      }
      const frame: Frame | string = decodeFrame(bytes);
      if (typeof frame === 'string') this.protocolError(connection, `malformed frame: ${frame}`);
      else if (step.k === 'hello') this.onHello(connection, frame);
      else if (step.k === 'proof') this.onProof(connection, step.hello, step.transcript, step.secret, frame);
      else this.onFrame(connection, step.peerId, frame);
    });
    ws.on('pong', () => {
      connection.alive = true;
    });
    ws.on('error', (error) => {
      this.settings.logger.debug({ peer: connection.peerId, remote, err: error.message }, 'inbound peer connection error');
    });
    ws.on('close', () => {
      if (connection.handshakeTimer !== null) clearTimeout(connection.handshakeTimer);
      connection.handshakeTimer = null;
      this.connections.delete(connection);
    });
  }

  private onHello(connection: InboundConnection, frame: Frame): void {
    if (frame.k !== 'hello') {
      this.protocolError(connection, `expected hello, got ${frame.k}`);
      return;
    }
    if (frame.version !== PROTOCOL_VERSION) {
      const reason = `protocol version ${frame.version} is not supported (this node speaks ${PROTOCOL_VERSION})`;
      this.refuse(connection, frame, { code: 'version', reason, detail: reason });
      return;
    }
    const { secret } = this.settings;
    if (secret === null) {
      this.admit(connection, frame);
      return;
    }
    if (frame.nonce === undefined) {
      this.refuse(connection, frame, { code: 'auth', reason: AUTH_FAILED, detail: 'its hello has no nonce (it has no cluster secret)' });
      return;
    }
    // The whole hello is in the transcript: a relay that rewrote any of it fails here or at the dialer.
    const transcript = transcriptOf(frame, frame.nonce, this.settings.nodeId, newNonce());
    connection.step = { k: 'proof', hello: frame, transcript, secret };
    connection.ws.send(
      encodeFrame({
        k: 'challenge',
        nodeId: this.settings.nodeId,
        nonce: transcript.serverNonce,
        proof: handshakeProof(secret, 'server', transcript),
      }),
    );
  }

  private onProof(connection: InboundConnection, hello: HelloFrame, transcript: Transcript, secret: Uint8Array, frame: Frame): void {
    if (frame.k !== 'proof') {
      this.protocolError(connection, `expected proof, got ${frame.k}`);
      return;
    }
    if (!proofMatches(handshakeProof(secret, 'dialer', transcript), frame.proof)) {
      this.refuse(connection, hello, {
        code: 'auth',
        reason: AUTH_FAILED,
        detail: 'its proof does not match (another cluster secret, or a replayed handshake)',
      });
      return;
    }
    const keys = sessionKeys(secret, transcript);
    connection.receiveAuth = new FrameAuthenticator(keys.dialerToServer);
    connection.sendAuth = new FrameAuthenticator(keys.serverToDialer);
    this.admit(connection, hello);
  }

  /** The hello of an authenticated peer (or of any peer, without a secret): membership, then welcome. */
  private admit(connection: InboundConnection, hello: HelloFrame): void {
    const refusal = this.check(hello);
    if (refusal !== null) {
      this.refuse(connection, hello, refusal);
      return;
    }
    if (connection.handshakeTimer !== null) clearTimeout(connection.handshakeTimer);
    connection.handshakeTimer = null;
    connection.endHandshake();
    // A peer keeps one outbound connection at a time, so an older one from the same
    // node is a leftover (often half-open after a crash): drop it.
    for (const other of this.connections) {
      if (other !== connection && other.peerId === hello.nodeId) other.ws.terminate();
    }
    connection.step = { k: 'open', peerId: hello.nodeId };
    // Welcome goes out untagged: the tags start with the frames after it, in both directions.
    connection.ws.send(encodeFrame({ k: 'welcome', nodeId: this.settings.nodeId }));
    this.settings.logger.info({ peer: hello.nodeId, address: hello.address }, `accepted connection from node ${hello.nodeId}`);
    this.handlers.accepted(hello.nodeId, hello.address);
  }

  /** A misconfigured peer retries forever: warn once per key, then log at debug. */
  private warnOnce(key: string, fields: Record<string, unknown>, message: string): void {
    const repeated = this.loggedRefusals.has(key);
    if (!repeated) {
      if (this.loggedRefusals.size >= 1000) this.loggedRefusals.clear();
      this.loggedRefusals.add(key);
    }
    this.settings.logger[repeated ? 'debug' : 'warn'](fields, message);
  }

  private refuse(connection: InboundConnection, hello: HelloFrame, refusal: Refusal): void {
    this.warnOnce(
      `${hello.nodeId}|${hello.address}|${refusal.detail}`,
      { remote: connection.remote, peer: hello.nodeId, address: hello.address, code: refusal.code },
      `refused peer node ${hello.nodeId} (${hello.address}): ${refusal.detail}`,
    );
    // Untagged: a peer that failed authentication has no session keys.
    connection.ws.send(encodeFrame({ k: 'refused', code: refusal.code, reason: refusal.reason }));
    connection.ws.close(1008, refusal.code);
  }

  private check(hello: HelloFrame): Refusal | null {
    const { clusterId, nodeId } = this.settings;
    if (hello.clusterId !== clusterId) {
      const detail = `cluster id "${hello.clusterId}" does not match this node's cluster id "${clusterId}"`;
      return { code: 'cluster-id', reason: CLUSTER_ID_MISMATCH, detail };
    }
    if (hello.nodeId === nodeId) {
      const reason = `node id ${hello.nodeId} is this node's own id (duplicate id, or a node dialing itself)`;
      return { code: 'same-node', reason, detail: reason };
    }
    const verdict = this.handlers.isKnownPeer(hello.nodeId, hello.address, hello.incarnation);
    if (verdict !== true) {
      const reason = typeof verdict === 'string' ? verdict : `node ${hello.nodeId} is not a member of this cluster`;
      return { code: 'unknown-peer', reason, detail: reason };
    }
    return null;
  }

  private onFrame(connection: InboundConnection, from: number, frame: Frame): void {
    if (frame.k === 'raft') {
      const m = frame.m;
      if (m.from !== from || m.to !== this.settings.nodeId) {
        this.protocolError(
          connection,
          `message ${m.type} from ${m.from} to ${m.to} on the connection of node ${from} to node ${this.settings.nodeId}`,
        );
        return;
      }
      try {
        this.handlers.message(m);
      } catch (error) {
        this.settings.logger.error({ peer: from, err: errorMessage(error) }, 'onMessage handler threw');
      }
      return;
    }
    if (frame.k === 'req') {
      this.onRequest(connection, from, frame.id, frame.body);
      return;
    }
    this.protocolError(connection, `unexpected ${frame.k} frame after the handshake`);
  }

  private onRequest(connection: InboundConnection, from: number, id: number, body: unknown): void {
    const handler = this.handlers.request;
    if (handler === undefined) {
      this.respond(connection, id, { ok: false, code: 'NO_HANDLER', message: 'this node does not accept forwarded requests' });
      return;
    }
    if (connection.runningRequests >= this.settings.maxConcurrentRequests) {
      this.respond(connection, id, { ok: false, code: 'BUSY', message: 'too many forwarded requests in flight' });
      return;
    }
    connection.runningRequests += 1;
    Promise.resolve()
      .then(() => handler(from, body))
      .then(
        (result) => this.respond(connection, id, { ok: true, body: result }),
        (error: unknown) => this.respond(connection, id, { ok: false, code: codeOf(error), message: errorMessage(error) }),
      )
      .finally(() => {
        connection.runningRequests -= 1;
      });
  }

  private respond(
    connection: InboundConnection,
    id: number,
    result: { ok: true; body: unknown } | { ok: false; code: string | undefined; message: string },
  ): void {
    const { ws } = connection;
    if (ws.readyState !== WebSocket.OPEN) return; // the requester sees the disconnect
    let frame: Buffer;
    try {
      frame = result.ok
        ? encodeFrame({ k: 'res', id, ok: true, body: result.body })
        : encodeFrame({ k: 'res', id, ok: false, error: errorFields(result.code, result.message) });
    } catch (error) {
      frame = encodeFrame({ k: 'res', id, ok: false, error: { code: 'ENCODE_FAILED', message: `cannot encode response: ${errorMessage(error)}` } });
    }
    connection.send(frame);
  }

  private protocolError(connection: InboundConnection, problem: string): void {
    this.settings.logger.warn({ peer: connection.peerId, remote: connection.remote }, `closing peer connection: ${problem}`);
    connection.ws.close(1002, 'protocol error');
  }
}

function errorFields(code: string | undefined, message: string): { code?: string; message: string } {
  const short = message.slice(0, 1000);
  return code === undefined ? { message: short } : { code: code.slice(0, 100), message: short };
}

function codeOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

function pathOf(url: string | undefined): string {
  if (url === undefined) return '';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  socket.once('error', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
}
