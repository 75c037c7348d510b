// Errors the transport hands to its callers. `code` is stable so that the node and
// the HTTP server can map a failed forwarded request to a retryable response.

export type TransportErrorCode =
  /** No peer with that id is configured (or its id has not been learned yet). */
  | 'UNKNOWN_PEER'
  /** The per-peer queue is full: the frame was dropped. */
  | 'QUEUE_FULL'
  /** The connection closed (or failed to open) before the response arrived. */
  | 'DISCONNECTED'
  /** No response within the caller's timeout. */
  | 'TIMEOUT'
  /** The transport (or the peer link) has been closed. */
  | 'CLOSED'
  /** The frame could not be encoded (e.g. a body msgpack cannot carry). */
  | 'ENCODE_FAILED'
  /** The peer ran the request and its handler failed; see `remoteCode`. */
  | 'REMOTE_ERROR';

export class TransportError extends Error {
  readonly code: TransportErrorCode;
  /** For REMOTE_ERROR: the `code` property of the error thrown by the peer's handler, if any. */
  readonly remoteCode: string | undefined;

  constructor(code: TransportErrorCode, message: string, remoteCode?: string) {
    super(message);
    this.name = 'TransportError';
    this.code = code;
    this.remoteCode = remoteCode;
  }
}
