// The peer transport: WebSocket connections between cluster nodes on path /raft.
export {
  PeerTransport,
  TRANSPORT_DEFAULTS,
  normalizeAddress,
  type TransportOptions,
  type PeerTls,
  type PeerStats,
  type UpgradeServer,
} from './peer-transport.ts';
export { parsePeers, parseAddress, type PeerAddress, type HostPort } from './peer-spec.ts';
export { TransportError, type TransportErrorCode } from './errors.ts';
export { RAFT_PATH } from './outbound-link.ts';
export { PROTOCOL_VERSION, MAX_HANDSHAKE_FRAME_BYTES } from './frame-codec.ts';
export { MIN_SECRET_BYTES } from './peer-auth.ts';
export type { BackoffPolicy } from '../backoff.ts';
export { HANDSHAKE_RECEIVED_BYTES_MAX, HANDSHAKES_PER_ADDRESS_MAX, HANDSHAKES_MAX } from './handshake-limits.ts';
export { LogLimiter } from './log-limiter.ts';
