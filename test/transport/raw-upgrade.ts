// Raw TCP clients of /raft for the pre-handshake tests: a hand-written upgrade request, and
// a frame streamed from one shared buffer (so the attacker's side of the test holds no
// memory of its own while it sends megabytes).
import { randomBytes } from 'node:crypto';
import net from 'node:net';

export interface RawUpgrade {
  /** 101 when the upgrade went through, else the HTTP status (or -1: closed without one). */
  readonly status: number;
  readonly socket: net.Socket;
  /** Resolves when the socket is closed. */
  readonly closed: Promise<void>;
}

export function rawUpgrade(address: string, timeoutMs = 5000): Promise<RawUpgrade> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise<RawUpgrade>((resolve) => {
    const socket = net.connect({ host, port });
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    let text = '';
    const timer = setTimeout(() => finish(-1), timeoutMs);
    const finish = (status: number): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      resolve({ status, socket, closed });
    };
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end >= 0) finish(Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? -1));
    };
    socket.on('data', onData);
    socket.on('error', () => undefined);
    void closed.then(() => finish(-1));
    socket.once('connect', () => {
      socket.write(
        `GET /raft HTTP/1.1\r\nHost: ${address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
  });
}

/** The header of one masked binary frame (client to server) announcing `length` bytes. */
export function frameHeader(length: number): Buffer {
  const header = Buffer.alloc(14);
  header[0] = 0x82; // FIN, binary
  header[1] = 0x80 | 127; // masked, 64-bit length
  header.writeBigUInt64BE(BigInt(length), 2);
  randomBytes(4).copy(header, 10);
  return header;
}

const CHUNK = Buffer.alloc(64 * 1024, 0x61);

/**
 * Sends a frame header announcing `length` bytes, then that many bytes of payload in chunks of
 * one shared buffer, each after the previous one drained, until sent or the socket closes.
 * Resolves with the payload bytes handed to the socket.
 */
export async function streamFrame(socket: net.Socket, length: number): Promise<number> {
  socket.write(frameHeader(length));
  let sent = 0;
  while (sent < length && !socket.destroyed) {
    const n = Math.min(CHUNK.length, length - sent);
    const more = socket.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
    sent += n;
    if (!more) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          socket.off('drain', done);
          socket.off('close', done);
          resolve();
        };
        socket.once('drain', done);
        socket.once('close', done);
      });
    }
  }
  return sent;
}
