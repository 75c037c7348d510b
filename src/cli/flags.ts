// Parsing and validation of flag values. Commander hands every value over as a string;
// these functions turn them into typed values or throw a UsageError naming the flag, so
// that every bad flag gives the same one-line message.
import { isIP } from 'node:net';
import { parseAddress, parsePeers, type PeerAddress } from '../transport/peer-spec.ts';
import { UsageError } from './usage-error.ts';

export const DEFAULT_HOST = '127.0.0.1';
export const MAX_NODE_ID = 2_147_483_647;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A decimal integer within [min, max]; `flag` is e.g. `--port`. */
export function parseIntegerFlag(flag: string, value: unknown, min: number, max: number): number {
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !/^\d+$/.test(text.trim())) {
    throw new UsageError(`${flag} must be an integer from ${min} to ${max} (got ${JSON.stringify(value)})`);
  }
  const n = Number(text.trim());
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} must be an integer from ${min} to ${max} (got ${JSON.stringify(value)})`);
  }
  return n;
}

export function parsePortFlag(flag: string, value: unknown): number {
  return parseIntegerFlag(flag, value, 1, 65535);
}

/** A bind address: a host name, an IPv4 address, or an IPv6 address (brackets optional). */
export function parseHostFlag(flag: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`${flag} must not be empty`);
  const host = value.trim();
  const unbracketed = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(unbracketed) !== 0) return unbracketed;
  if (!/^[A-Za-z0-9._-]+$/.test(host) || host.length > 253) {
    throw new UsageError(`${flag} "${host}" is not a host name or IP address`);
  }
  return host;
}

/** `host:port` as peers and clients reach a node (IPv6 in brackets). */
export function parseAdvertiseFlag(flag: string, value: unknown): string {
  if (typeof value !== 'string') throw new UsageError(`${flag} must be host:port`);
  try {
    const { host, port } = parseAddress(value.trim());
    return `${host}:${port}`;
  } catch (error) {
    throw new UsageError(`${flag}: ${error instanceof Error ? error.message.replace(/^peer address/, 'address') : String(error)}`);
  }
}

/** `h:p,h:p` or `2=h:p,3=h:p`; empty means no peers (a cluster of one). */
export function parsePeersFlag(flag: string, value: unknown): PeerAddress[] {
  if (value === undefined) return [];
  if (typeof value !== 'string') throw new UsageError(`${flag} must be a comma-separated list of host:port`);
  try {
    return parsePeers(value);
  } catch (error) {
    throw new UsageError(`${flag}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export function parseLogLevelFlag(flag: string, value: unknown): LogLevel {
  const level = LOG_LEVELS.find((l) => l === value);
  if (level === undefined) {
    throw new UsageError(`${flag} must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(value)})`);
  }
  return level;
}

/** A cluster id is sent in every peer handshake: short, printable, no spaces. */
export function parseClusterIdFlag(flag: string, value: unknown): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9._:-]{1,128}$/.test(value)) {
    throw new UsageError(`${flag} must be 1 to 128 characters of letters, digits, '.', '_', ':' or '-' (got ${JSON.stringify(value)})`);
  }
  return value;
}

/** An http(s) URL of a node, without a trailing slash. */
export function parseNodeUrlFlag(flag: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`${flag} must be a URL like http://127.0.0.1:8080`);
  let text = value.trim();
  if (!/^[a-z]+:\/\//i.test(text)) text = `http://${text}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${flag} "${value}" is not a URL like http://127.0.0.1:8080`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${flag} must be an http:// or https:// URL (got ${JSON.stringify(value)})`);
  }
  return url.origin;
}

/** The timing and storage flags shared by `start` and `cluster`. */
export interface NodeTuning {
  readonly clusterId: string;
  readonly snapshotThreshold: number;
  readonly electionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly logLevel: LogLevel;
}

export const TUNING_DEFAULTS = {
  clusterId: 'collection-store',
  snapshotThreshold: 10_000,
  electionTimeoutMs: 150,
  heartbeatIntervalMs: 50,
  logLevel: 'info',
} as const;

/** Raw values as commander collects them (camelCase of the flag names). */
export interface RawTuning {
  readonly clusterId?: unknown;
  readonly snapshotThreshold?: unknown;
  readonly electionTimeout?: unknown;
  readonly heartbeatInterval?: unknown;
  readonly logLevel?: unknown;
}

export function parseTuning(raw: RawTuning): NodeTuning {
  const electionTimeoutMs = parseIntegerFlag('--election-timeout', raw.electionTimeout ?? TUNING_DEFAULTS.electionTimeoutMs, 10, 60_000);
  const heartbeatIntervalMs = parseIntegerFlag('--heartbeat-interval', raw.heartbeatInterval ?? TUNING_DEFAULTS.heartbeatIntervalMs, 1, 60_000);
  // Followers must hear from the leader well within an election timeout, or they depose it.
  if (heartbeatIntervalMs >= electionTimeoutMs) {
    throw new UsageError(`--heartbeat-interval (${heartbeatIntervalMs} ms) must be less than --election-timeout (${electionTimeoutMs} ms)`);
  }
  return {
    clusterId: parseClusterIdFlag('--cluster-id', raw.clusterId ?? TUNING_DEFAULTS.clusterId),
    snapshotThreshold: parseIntegerFlag('--snapshot-threshold', raw.snapshotThreshold ?? TUNING_DEFAULTS.snapshotThreshold, 1, 1_000_000_000),
    electionTimeoutMs,
    heartbeatIntervalMs,
    logLevel: parseLogLevelFlag('--log-level', raw.logLevel ?? TUNING_DEFAULTS.logLevel),
  };
}

/** The same tuning as command-line arguments, for child processes. */
export function tuningArgs(tuning: NodeTuning): string[] {
  return [
    '--cluster-id',
    tuning.clusterId,
    '--snapshot-threshold',
    String(tuning.snapshotThreshold),
    '--election-timeout',
    String(tuning.electionTimeoutMs),
    '--heartbeat-interval',
    String(tuning.heartbeatIntervalMs),
    '--log-level',
    tuning.logLevel,
  ];
}

const DURATION_UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration: `3600` (seconds), `500ms`, `90s`, `30m` or `1h`, in milliseconds within [minMs, maxMs]. */
export function parseDurationFlag(flag: string, value: unknown, minMs: number, maxMs: number): number {
  const match = typeof value === 'string' ? /^(\d{1,9})(ms|s|m|h)?$/.exec(value.trim()) : null;
  if (match === null) throw new UsageError(`${flag} must be a duration such as 3600, 90s, 30m or 1h (got ${JSON.stringify(value)})`);
  const ms = Number(match[1]) * DURATION_UNIT_MS[match[2] ?? 's']!;
  if (ms < minMs || ms > maxMs) throw new UsageError(`${flag} must be between ${minMs / 1000} s and ${maxMs / 3_600_000} h (got ${String(value)})`);
  return ms;
}
