// Helpers for the transport tests: real HTTP servers on 127.0.0.1 with random ports,
// transports attached to them, log capture, and polling.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { PeerTransport, type TransportOptions, type UpgradeServer } from '../../src/transport/index.ts';
import type { Entry, Message } from '../../src/raft/types.ts';

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

export interface CapturedLogger {
  readonly logger: Logger;
  readonly lines: LogLine[];
  /** Lines at warn level or above whose message contains `text`. */
  warnings(text: string): LogLine[];
}

export function captureLogger(): CapturedLogger {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return {
    logger,
    lines,
    warnings: (text) => lines.filter((l) => l.level >= 40 && l.msg.includes(text)),
  };
}

export async function listen(port = 0): Promise<{ server: http.Server; address: string; port: number }> {
  const server = http.createServer((_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return { server, address: `127.0.0.1:${actual}`, port: actual };
}

export async function closeServer(server: UpgradeServer): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface TestNode {
  readonly id: number;
  readonly transport: PeerTransport;
  readonly server: UpgradeServer;
  readonly address: string;
  readonly inbox: Message[];
  readonly log: CapturedLogger;
  close(): Promise<void>;
}

type NodeOptions = Partial<Omit<TransportOptions, 'nodeId' | 'advertiseAddress' | 'onMessage' | 'logger'>>;

/** A transport attached to its own fresh server (or `listening`, when given). */
export async function startNode(
  id: number,
  options: NodeOptions = {},
  listening?: { server: UpgradeServer; address: string },
  dial = true,
): Promise<TestNode> {
  const { server, address } = listening ?? (await listen());
  const inbox: Message[] = [];
  const log = captureLogger();
  const transport = new PeerTransport({
    clusterId: 'test-cluster',
    peers: [],
    reconnect: { delayMsInitial: 10, delayMsMax: 100 },
    incarnation: `incarnation-${id}`,
    ...options,
    nodeId: id,
    advertiseAddress: address,
    onMessage: (m) => inbox.push(m),
    logger: log.logger,
  });
  transport.attach(server);
  if (dial) transport.start();
  return {
    id,
    transport,
    server,
    address,
    inbox,
    log,
    close: async () => {
      await transport.close();
      await closeServer(server);
    },
  };
}

export function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** One message of every type from `from` to `to`, with byte payloads that must survive. */
export function everyMessage(from: number, to: number): Message[] {
  const term = 7;
  const entries: Entry[] = [
    { index: 10, term: 6, type: 'noop', data: new Uint8Array(0) },
    { index: 11, term: 7, type: 'normal', data: bytes(1000, from * 31 + to) },
    { index: 12, term: 7, type: 'conf', data: bytes(3, 5) },
    { index: 13, term: 7, type: 'normal', data: bytes(100_000, to) },
  ];
  return [
    { type: 'PreVote', from, to, term: term + 1, lastLogIndex: 13, lastLogTerm: 7 },
    { type: 'PreVoteResponse', from, to, term, granted: true },
    { type: 'RequestVote', from, to, term, lastLogIndex: 13, lastLogTerm: 7, transfer: true },
    { type: 'RequestVoteResponse', from, to, term, granted: false },
    { type: 'AppendEntries', from, to, term, prevLogIndex: 9, prevLogTerm: 6, entries, leaderCommit: 9 },
    { type: 'AppendEntriesResponse', from, to, term, success: false, matchIndex: 0, conflictIndex: 4, conflictTerm: 3 },
    { type: 'Heartbeat', from, to, term, commit: 9, context: 42 },
    { type: 'HeartbeatResponse', from, to, term, context: 42 },
    {
      type: 'InstallSnapshot',
      from,
      to,
      term,
      meta: { index: 500, term: 6, conf: { voters: [1, 2, 3], learners: [4] } },
      offset: 262_144,
      chunk: bytes(262_144, from + to),
      done: false,
      crc32c: 0xdeadbeef,
      size: 1_048_576,
    },
    { type: 'InstallSnapshotResponse', from, to, term, snapshotIndex: 500, nextOffset: -1, done: false },
    { type: 'TimeoutNow', from, to, term },
    { type: 'ReadIndex', from, to, term, context: 7 },
    { type: 'ReadIndexResponse', from, to, term, index: 99, context: 7 },
  ];
}
