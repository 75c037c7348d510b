// Validates a decoded Raft message from the network and rebuilds it field by field,
// so that nothing a peer sends (extra keys, prototypes, wrong types) reaches the core.
// Returns the message, or a string saying what is wrong.

import { isMemberAddress } from '../raft/configuration.ts';
import type { ConfState, Entry, EntryType, MemberAddress, Message, SnapshotMeta } from '../raft/types.ts';

type Fields = Record<string, unknown>;

class Invalid extends Error {}

function isRecord(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function record(value: unknown, what: string): Fields {
  if (!isRecord(value)) throw new Invalid(`${what} is not an object`);
  return value;
}

/** A log index, term, offset or node id: a non-negative safe integer. */
function natural(fields: Fields, key: string): number {
  const value = fields[key];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new Invalid(`${key} is not a non-negative integer`);
  }
  return value;
}

function integer(fields: Fields, key: string): number {
  const value = fields[key];
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new Invalid(`${key} is not an integer`);
  return value;
}

function bool(fields: Fields, key: string): boolean {
  const value = fields[key];
  if (typeof value !== 'boolean') throw new Invalid(`${key} is not a boolean`);
  return value;
}

/** msgpackr decodes `bin` as a Buffer; hand out a plain Uint8Array view (no copy). */
function bytes(fields: Fields, key: string): Uint8Array {
  const value = fields[key];
  if (!(value instanceof Uint8Array)) throw new Invalid(`${key} is not bytes`);
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

/** An optional CRC-32C: absent, or an unsigned 32-bit integer. */
function optionalUint32(fields: Fields, key: string): number | undefined {
  const value = fields[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new Invalid(`${key} is not an unsigned 32-bit integer`);
  }
  return value;
}

function array(fields: Fields, key: string): unknown[] {
  const value = fields[key];
  if (!Array.isArray(value)) throw new Invalid(`${key} is not an array`);
  return value;
}

function nodeIds(fields: Fields, key: string): number[] {
  return array(fields, key).map((id, i) => {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) throw new Invalid(`${key}[${i}] is not a node id`);
    return id;
  });
}

function memberAddresses(fields: Fields, key: string): MemberAddress[] {
  return array(fields, key).map((value, i) => {
    const row = record(value, `${key}[${i}]`);
    const id = row['id'];
    const address = row['address'];
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) throw new Invalid(`${key}[${i}].id is not a node id`);
    if (!isMemberAddress(address)) throw new Invalid(`${key}[${i}].address is not host:port`);
    return { id, address };
  });
}

const ENTRY_TYPES: ReadonlySet<string> = new Set<EntryType>(['normal', 'noop', 'conf']);

function entry(value: unknown, i: number): Entry {
  const fields = record(value, `entries[${i}]`);
  const type = fields['type'];
  if (typeof type !== 'string' || !ENTRY_TYPES.has(type)) throw new Invalid(`entries[${i}].type is invalid`);
  return {
    index: natural(fields, 'index'),
    term: natural(fields, 'term'),
    type: type as EntryType,
    data: bytes(fields, 'data'),
  };
}

function snapshotMeta(value: unknown): SnapshotMeta {
  const fields = record(value, 'meta');
  const confFields = record(fields['conf'], 'meta.conf');
  const voters = nodeIds(confFields, 'voters');
  const learners = nodeIds(confFields, 'learners');
  // Members' addresses (protocol 5): carried so that a node installing the snapshot knows them.
  const conf: ConfState =
    confFields['addresses'] === undefined ? { voters, learners } : { voters, learners, addresses: memberAddresses(confFields, 'addresses') };
  return { index: natural(fields, 'index'), term: natural(fields, 'term'), conf };
}

function build(fields: Fields): Message {
  const type = fields['type'];
  const from = natural(fields, 'from');
  const to = natural(fields, 'to');
  const term = natural(fields, 'term');
  if (from === 0 || to === 0) throw new Invalid('from/to must be node ids (> 0)');
  const header = { from, to, term };
  switch (type) {
    case 'PreVote':
      return { type, ...header, lastLogIndex: natural(fields, 'lastLogIndex'), lastLogTerm: natural(fields, 'lastLogTerm') };
    case 'PreVoteResponse':
      return { type, ...header, granted: bool(fields, 'granted') };
    case 'RequestVote':
      return {
        type,
        ...header,
        lastLogIndex: natural(fields, 'lastLogIndex'),
        lastLogTerm: natural(fields, 'lastLogTerm'),
        transfer: bool(fields, 'transfer'),
      };
    case 'RequestVoteResponse':
      return { type, ...header, granted: bool(fields, 'granted') };
    case 'AppendEntries':
      return {
        type,
        ...header,
        prevLogIndex: natural(fields, 'prevLogIndex'),
        prevLogTerm: natural(fields, 'prevLogTerm'),
        entries: array(fields, 'entries').map(entry),
        leaderCommit: natural(fields, 'leaderCommit'),
      };
    case 'AppendEntriesResponse':
      return {
        type,
        ...header,
        success: bool(fields, 'success'),
        matchIndex: natural(fields, 'matchIndex'),
        conflictIndex: natural(fields, 'conflictIndex'),
        conflictTerm: natural(fields, 'conflictTerm'),
      };
    case 'Heartbeat':
      return { type, ...header, commit: natural(fields, 'commit'), context: integer(fields, 'context') };
    case 'HeartbeatResponse':
      return { type, ...header, context: integer(fields, 'context') };
    case 'InstallSnapshot': {
      const crc32c = optionalUint32(fields, 'crc32c');
      return {
        type,
        ...header,
        meta: snapshotMeta(fields['meta']),
        offset: natural(fields, 'offset'),
        chunk: bytes(fields, 'chunk'),
        done: bool(fields, 'done'),
        ...(crc32c === undefined ? {} : { crc32c }),
        size: natural(fields, 'size'),
      };
    }
    case 'InstallSnapshotResponse': {
      const nextOffset = integer(fields, 'nextOffset');
      if (nextOffset < -1) throw new Invalid('nextOffset must be >= -1');
      return { type, ...header, snapshotIndex: natural(fields, 'snapshotIndex'), nextOffset, done: bool(fields, 'done') };
    }
    case 'TimeoutNow':
      return { type, ...header };
    case 'ReadIndex':
      return { type, ...header, context: integer(fields, 'context') };
    case 'ReadIndexResponse':
      return { type, ...header, index: natural(fields, 'index'), context: integer(fields, 'context') };
    default:
      throw new Invalid(`unknown message type ${JSON.stringify(String(type)).slice(0, 64)}`);
  }
}

/** Returns a fresh, well-typed Message, or a description of why `value` is not one. */
export function parseMessage(value: unknown): Message | string {
  try {
    return build(record(value, 'message'));
  } catch (error) {
    if (error instanceof Invalid) return error.message;
    throw error;
  }
}
