// One peer as this node sees it when sending: a WebSocket this node dials to the peer's
// `/raft` path, the hello/welcome handshake (with a cluster secret: hello, challenge,
// proof, welcome, and a tag on every later frame; see peer-auth.ts), a bounded queue of frames, flow control on
// the socket's unflushed bytes, requests waiting for responses, and reconnection with
// backoff. Raft messages and forwarded requests to the peer travel only on this link.

import WebSocket from 'ws';
import type { Logger } from 'pino';
import { backoffDelay, type BackoffPolicy } from '../backoff.ts';
import { decodeFrame, encodeFrame, MAX_HANDSHAKE_FRAME_BYTES, PROTOCOL_VERSION, type ChallengeFrame, type Frame } from './frame-codec.ts';
import { FrameAuthenticator, handshakeProof, newNonce, proofMatches, sessionKeys, transcriptOf, type HelloFields } from './peer-auth.ts';
import { OutboundQueue } from './outbound-queue.ts';
import { TransportError } from './errors.ts';
import { rawDataToBuffer } from './raw-data.ts';

export const RAFT_PATH = '/raft';

export interface LinkSettings {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly advertiseAddress: string;
  readonly incarnation: string;
  readonly maxPayload: number;
  readonly maxQueueMessages: number;
  readonly maxQueueBytes: number;
  /** Stop handing frames to the socket while this many bytes are written but not flushed. */
  readonly highWaterBytes: number;
  readonly handshakeTimeoutMs: number;
  /** With a secret, the server must prove it holds it, and so must this node. */
  readonly secret: Uint8Array | null;
  /** With TLS, peers are dialed with wss://, presenting cert/key and verifying theirs against ca. */
  readonly tls: { readonly ca: Buffer | string; readonly cert: Buffer | string; readonly key: Buffer | string } | null;
  readonly reconnect: BackoffPolicy;
  readonly random: () => number;
  readonly logger: Logger;
}

export interface LinkEvents {
  /** The server at this link's address said it is node `id` (this link had no id yet).
   * Returns null to accept, or the reason the id cannot be used. */
  identified(link: OutboundLink, id: number): string | null;
}

interface PendingRequest {
  readonly resolve: (body: unknown) => void;
  readonly reject: (error: TransportError) => void;
  readonly timer: NodeJS.Timeout;
}

/** idle: not started. connecting: dialing or awaiting welcome. open: welcomed.
 * backoff: waiting to redial. closed: for good. */
type Phase = 'idle' | 'connecting' | 'open' | 'backoff' | 'closed';

/** Where the handshake of the current connection stands (phase 'connecting'):
 * welcome: hello sent without a secret, or proof sent (serverId: the id the challenge proved);
 * challenge: hello sent with our nonce, awaiting the server's proof. */
type HandshakeStep =
  | { readonly k: 'welcome'; readonly serverId: number | undefined }
  | { readonly k: 'challenge'; readonly hello: HelloFields; readonly nonce: Buffer; readonly secret: Uint8Array };

export class OutboundLink {
  /** Unknown (undefined) until configured or learned from the welcome. */
  id: number | undefined;
  readonly address: string;
  sent = 0;
  dropped = 0;
  /** The last reason the link failed, for status pages; null while healthy. */
  lastError: string | null = null;

  private phase: Phase = 'idle';
  private ws: WebSocket | null = null;
  private handshake: HandshakeStep = { k: 'welcome', serverId: undefined };
  /** With a secret, once open: tags our frames, checks the server's. */
  private sendAuth: FrameAuthenticator | null = null;
  private receiveAuth: FrameAuthenticator | null = null;
  private readonly queue: OutboundQueue;
  private unflushedBytes = 0;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private handshakeTimer: NodeJS.Timeout | null = null;
  private alive = true;
  private nextRequestId = 1;
  private readonly pending = new Map<number, PendingRequest>();
  /** Repeated identical failures (a peer that stays down) are logged once at warn, then at debug. */
  private lastLoggedFailure: string | null = null;

  constructor(
    id: number | undefined,
    address: string,
    private readonly settings: LinkSettings,
    private readonly events: LinkEvents,
  ) {
    this.id = id;
    this.address = address;
    this.queue = new OutboundQueue(settings.maxQueueMessages, settings.maxQueueBytes);
  }

  get connected(): boolean {
    return this.phase === 'open';
  }

  get queued(): number {
    return this.queue.length;
  }

  get queuedBytes(): number {
    return this.queue.bytes;
  }

  start(): void {
    if (this.phase === 'idle') this.connect();
  }

  /**
   * The peer just dialed us (its handshake was admitted): it is up, so a link waiting out its
   * backoff dials now instead of up to reconnect.delayMsMax later. A node restarted after a few
   * seconds down would otherwise hear nothing from its leader for that long, and every client
   * request sent to it meanwhile would wait for a leader. At most one dial per admitted inbound
   * connection; a dial that fails backs off as before (the attempt count is kept).
   */
  redialIfWaiting(): void {
    if (this.phase !== 'backoff') return;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.connect();
  }

  /** Queues an encoded frame; false (counted as dropped) when the queue is full or the link closed. */
  enqueue(frame: Buffer, requestId?: number): boolean {
    if (this.phase === 'closed' || !this.queue.push({ frame, requestId })) {
      this.dropped += 1;
      return false;
    }
    this.flush();
    return true;
  }

  request(body: unknown, timeoutMs: number): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      if (this.phase === 'closed') {
        reject(new TransportError('CLOSED', `link to ${this.describe()} is closed`));
        return;
      }
      const id = this.nextRequestId;
      this.nextRequestId += 1;
      let frame: Buffer;
      try {
        frame = encodeFrame({ k: 'req', id, body });
      } catch (error) {
        reject(new TransportError('ENCODE_FAILED', `cannot encode request: ${errorMessage(error)}`));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TransportError('TIMEOUT', `no response from ${this.describe()} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      if (!this.enqueue(frame, id)) {
        this.pending.delete(id);
        clearTimeout(timer);
        reject(new TransportError('QUEUE_FULL', `queue to ${this.describe()} is full`));
      }
    });
  }

  /** Called every ping interval: a socket that did not answer the previous ping is dead. */
  heartbeat(): void {
    const ws = this.ws;
    if (ws === null || ws.readyState !== WebSocket.OPEN) return;
    if (!this.alive) {
      this.fail(`no pong from ${this.describe()}: connection presumed dead`);
      ws.terminate();
      return;
    }
    this.alive = false;
    ws.ping();
  }

  /** Stops for good: pending requests fail, the socket is torn down; resolves once it is closed. */
  close(): Promise<void> {
    if (this.phase === 'closed') return Promise.resolve();
    this.phase = 'closed';
    this.clearTimers();
    this.dropQueue(new TransportError('CLOSED', `link to ${this.describe()} closed`));
    const ws = this.ws;
    if (ws === null || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      ws.terminate();
    });
  }

  describe(): string {
    return this.id === undefined ? this.address : `node ${this.id} (${this.address})`;
  }

  private connect(): void {
    if (!(this.phase === 'idle' || this.phase === 'backoff')) throw new Error(`connect in phase ${this.phase}`);
    this.phase = 'connecting';
    this.alive = true;
    let ws: WebSocket;
    try {
      const { tls } = this.settings;
      // ws hands ca/cert/key to tls.connect, whose hostname check stays on (it is the default).
      ws = new WebSocket(`${tls === null ? 'ws' : 'wss'}://${this.address}${RAFT_PATH}`, {
        maxPayload: this.settings.maxPayload,
        handshakeTimeout: this.settings.handshakeTimeoutMs,
        perMessageDeflate: false,
        // A zero mask: ws then skips XOR-ing every byte a leader sends (a quarter of the CPU
        // of sending a large AppendEntries). Masking shields HTTP caches from scripts a browser
        // runs (RFC 6455 §10.3); peers are not browsers, and every peer frame is authenticated.
        generateMask: (mask: Buffer) => void mask.fill(0),
        ...(tls === null ? {} : { ca: tls.ca, cert: tls.cert, key: tls.key }),
      });
    } catch (error) {
      // An address ws cannot dial (parsePeers should have caught it): keep trying, slowly.
      this.fail(`cannot dial ${this.address}: ${errorMessage(error)}`, 'warn');
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.on('open', () => this.onOpen(ws));
    ws.on('message', (data, isBinary) => {
      // Nothing more is read from a socket being closed after a protocol error.
      if (ws === this.ws && ws.readyState === WebSocket.OPEN) this.onFrame(ws, rawDataToBuffer(data), isBinary);
    });
    ws.on('pong', () => {
      this.alive = true;
    });
    // 'close' always follows 'error'; the reason is recorded here and acted on there.
    ws.on('error', (error) => {
      if (ws === this.ws) this.lastError = error.message;
    });
    ws.on('close', (code, reason) => this.onClose(ws, code, reason.toString()));
  }

  private onOpen(ws: WebSocket): void {
    if (ws !== this.ws) return;
    const { clusterId, nodeId, advertiseAddress, incarnation, secret } = this.settings;
    this.sendAuth = null;
    this.receiveAuth = null;
    const hello: HelloFields = { clusterId, nodeId, address: advertiseAddress, version: PROTOCOL_VERSION, incarnation };
    if (secret === null) {
      this.handshake = { k: 'welcome', serverId: undefined };
      ws.send(encodeFrame({ k: 'hello', ...hello }));
    } else {
      const nonce = newNonce();
      this.handshake = { k: 'challenge', hello, nonce, secret };
      ws.send(encodeFrame({ k: 'hello', ...hello, nonce }));
    }
    this.handshakeTimer = setTimeout(() => {
      this.handshakeTimer = null;
      this.fail(`${this.describe()} did not answer the handshake in ${this.settings.handshakeTimeoutMs} ms`);
      ws.terminate();
    }, this.settings.handshakeTimeoutMs);
  }

  private onFrame(ws: WebSocket, data: Buffer, isBinary: boolean): void {
    if (this.phase === 'connecting' && data.length > MAX_HANDSHAKE_FRAME_BYTES) {
      this.fail(`${this.describe()} sent a handshake frame of ${data.length} bytes (at most ${MAX_HANDSHAKE_FRAME_BYTES})`, 'warn');
      ws.close(1002, 'protocol error');
      return;
    }
    let bytes = data;
    if (this.phase === 'open' && this.receiveAuth !== null) {
      const opened = this.receiveAuth.open(data);
      if (opened === null) {
        this.fail(`a frame from ${this.describe()} failed authentication (altered, replayed, reordered or dropped)`, 'warn');
        ws.close(1002, 'protocol error');
        return;
      }
      bytes = opened;
    }
    const frame: Frame | string = isBinary ? decodeFrame(bytes) : 'text frame';
    if (typeof frame === 'string') {
      this.fail(`malformed frame from ${this.describe()}: ${frame}`, 'warn');
      ws.close(1002, 'malformed frame');
      return;
    }
    if (this.phase === 'connecting') {
      const step = this.handshake;
      if (frame.k === 'challenge' && step.k === 'challenge') this.onChallenge(ws, frame, step.hello, step.nonce, step.secret);
      else if (frame.k === 'welcome' && step.k === 'welcome') {
        if (step.serverId !== undefined && frame.nodeId !== step.serverId) {
          this.fail(`${this.describe()} proved to be node ${step.serverId} but welcomed us as node ${frame.nodeId}`, 'warn');
          ws.close(1002, 'protocol error');
        } else this.onWelcome(ws, frame.nodeId);
      } else if (frame.k === 'welcome' && step.k === 'challenge') {
        this.fail(`${this.describe()} welcomed us without proving it holds the cluster secret (it has none?)`, 'warn');
        ws.close(1008, 'authentication failed');
      } else if (frame.k === 'refused') {
        this.fail(`${this.describe()} refused our handshake (${frame.code}): ${frame.reason}`, 'warn');
        ws.close(1000);
      } else {
        this.fail(`${this.describe()} sent ${frame.k} before welcome`, 'warn');
        ws.close(1002, 'protocol error');
      }
      return;
    }
    if (frame.k !== 'res') {
      this.fail(`${this.describe()} sent an unexpected ${frame.k} frame`, 'warn');
      ws.close(1002, 'protocol error');
      return;
    }
    const pending = this.pending.get(frame.id);
    if (pending === undefined) return; // timed out already
    this.pending.delete(frame.id);
    clearTimeout(pending.timer);
    if (frame.ok) pending.resolve(frame.body);
    else pending.reject(new TransportError('REMOTE_ERROR', frame.error.message, frame.error.code));
  }

  /** The server proved it holds the secret (or not): answer with our proof, or hang up. */
  private onChallenge(ws: WebSocket, challenge: ChallengeFrame, hello: HelloFields, nonce: Buffer, secret: Uint8Array): void {
    // Another member than the one this link dials (a relay redirecting us, or a stale address):
    // prove nothing to it, so it never admits us under a connection we did not mean to make.
    if (this.id !== undefined && challenge.nodeId !== this.id) {
      this.fail(`${this.describe()} answered as node ${challenge.nodeId}: refusing before proving anything`, 'warn');
      ws.close(1008, 'wrong peer');
      return;
    }
    // Our own hello as we sent it: if a relay rewrote it, the server's proof covers another transcript.
    const transcript = transcriptOf(hello, nonce, challenge.nodeId, challenge.nonce);
    if (!proofMatches(handshakeProof(secret, 'server', transcript), challenge.proof)) {
      this.fail(`${this.describe()} failed authentication: its proof does not match (another cluster secret, or a relay altered our hello)`, 'warn');
      ws.close(1008, 'authentication failed');
      return;
    }
    ws.send(encodeFrame({ k: 'proof', proof: handshakeProof(secret, 'dialer', transcript) }));
    const keys = sessionKeys(secret, transcript);
    this.sendAuth = new FrameAuthenticator(keys.dialerToServer);
    this.receiveAuth = new FrameAuthenticator(keys.serverToDialer);
    this.handshake = { k: 'welcome', serverId: challenge.nodeId };
  }

  private onWelcome(ws: WebSocket, id: number): void {
    let problem: string | null = null;
    if (id === this.settings.nodeId) problem = `${this.address} answered with our own node id ${id}`;
    else if (this.id !== undefined && id !== this.id) problem = `${this.address} is node ${id}, expected node ${this.id}`;
    else if (this.id === undefined) problem = this.events.identified(this, id);
    if (problem !== null) {
      this.fail(problem, 'warn');
      ws.close(1008, 'wrong peer');
      return;
    }
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
    this.id = id;
    this.phase = 'open';
    this.attempt = 0;
    this.lastError = null;
    this.lastLoggedFailure = null;
    this.settings.logger.info({ peer: id, address: this.address }, `connected to node ${id} at ${this.address}`);
    this.flush();
  }

  /** Hands queued frames to the socket while its unflushed bytes are under the high-water mark;
   * each write's callback (fired once the kernel took the bytes) resumes the flush. */
  private flush(): void {
    const ws = this.ws;
    if (this.phase !== 'open' || ws === null) return;
    while (this.unflushedBytes < this.settings.highWaterBytes) {
      const item = this.queue.shift();
      if (item === undefined) return;
      const size = item.frame.length;
      this.unflushedBytes += size;
      this.sent += 1;
      ws.send(this.sendAuth === null ? item.frame : this.sendAuth.seal(item.frame), { binary: true }, (error) => {
        if (ws !== this.ws) return; // a stale socket's callback
        this.unflushedBytes -= size;
        if (error === undefined || error === null) this.flush();
      });
    }
  }

  private onClose(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.ws) return;
    this.ws = null;
    this.unflushedBytes = 0;
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
    const wasOpen = this.phase === 'open';
    this.dropQueue(new TransportError('DISCONNECTED', `connection to ${this.describe()} closed`));
    if (this.phase === 'closed') return;
    if (wasOpen) {
      this.settings.logger.info({ peer: this.id, address: this.address, code, reason }, `connection to ${this.describe()} closed`);
    } else {
      this.fail(this.lastError ?? `connection to ${this.describe()} closed (${code})`);
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    this.phase = 'backoff';
    const delay = backoffDelay(this.attempt, this.settings.reconnect, this.settings.random());
    this.attempt += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  /** Frames queued for a connection that is gone are dropped (Raft resends); requests fail. */
  private dropQueue(error: TransportError): void {
    this.dropped += this.queue.drain().length;
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.pending.clear();
  }

  private fail(message: string, level: 'warn' | 'debug' = 'debug'): void {
    this.lastError = message;
    const repeated = message === this.lastLoggedFailure;
    this.lastLoggedFailure = message;
    const log = this.settings.logger;
    const fields = { peer: this.id, address: this.address };
    if (level === 'warn' && !repeated) log.warn(fields, message);
    else if (!repeated) log.info(fields, message);
    else log.debug(fields, message);
  }

  private clearTimers(): void {
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.reconnectTimer = null;
    this.handshakeTimer = null;
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
