// Commands: the only way the store changes. Each is a plain serialisable object
// (msgpack-encoded into the log) applied in log order by Store.apply on every
// replica. Results are plain data too, so a node can return them to a client.

import type { AuthCommand, AuthResultValue } from './auth-state.ts';
import { ValidationError, type ErrorInfo } from './errors.ts';
import type { ModelOptions, StoredModel } from './schema.ts';
import type { IdempotencyTag } from './sessions.ts';
import type { Document, Filter, IndexField, IndexSpec, JsonObject, UpdateSpec } from './types.ts';

/** Insert a batch of documents (all-or-nothing). Each carries a string `_id` assigned by the caller. */
export interface InsertCommand {
  type: 'insert';
  collection: string;
  docs: JsonObject[];
  /** Applied at most once per key (store/sessions.ts); not inside a transaction's ops. */
  idempotency?: IdempotencyTag;
  /** The authenticated user it was proposed for (ProposedFor): on an insert inside a batch
   * too, since the inserts a batch holds may come from different users' requests. */
  user?: string;
}

/** Apply update operators to the first (`multi: false`, in `_id` order) or every matching document. */
export interface UpdateCommand {
  type: 'update';
  collection: string;
  filter: Filter;
  update: UpdateSpec;
  multi: boolean;
  upsert: boolean;
  /** `_id` of the document created by an upsert, unless the filter has an `_id` equality. */
  upsertId?: string;
  /** Single-document updates only: the matched document's `_rev` must equal this. */
  ifRev?: number;
  idempotency?: IdempotencyTag;
}

/** Replace the whole document `id` (or create it when `upsert`). */
export interface ReplaceCommand {
  type: 'replace';
  collection: string;
  id: string;
  doc: JsonObject;
  /** Current `_rev` must equal this; 0 means the document must not exist. */
  ifRev?: number;
  upsert: boolean;
  idempotency?: IdempotencyTag;
}

export interface RemoveCommand {
  type: 'remove';
  collection: string;
  filter: Filter;
  multi: boolean;
  /** Single-document removes only: the matched document's `_rev` must equal this. */
  ifRev?: number;
  idempotency?: IdempotencyTag;
}

export type { AuthCommand } from './auth-state.ts';

export type TxOp = InsertCommand | UpdateCommand | ReplaceCommand | RemoveCommand;

/** Current `_rev` of the document equals rev (0: the document is absent). */
export interface RevPrecondition {
  collection: string;
  id: string;
  rev: number;
}
export interface ExistsPrecondition {
  collection: string;
  id: string;
  exists: boolean;
}
/** The filter matches exactly `count` documents. */
export interface CountPrecondition {
  collection: string;
  filter: Filter;
  count: number;
}
export type Precondition = RevPrecondition | ExistsPrecondition | CountPrecondition;

/** Check every precondition, then apply every op in order; all or nothing. */
export interface TxCommand {
  type: 'tx';
  ops: TxOp[];
  if: Precondition[];
  idempotency?: IdempotencyTag;
}

export interface CreateIndexCommand {
  type: 'createIndex';
  collection: string;
  fields: IndexField[];
  unique: boolean;
  name?: string;
  /** A TTL index: one field; documents expire this many seconds after its time (store/ttl.ts). */
  expireAfterSeconds?: number;
  idempotency?: IdempotencyTag;
}

export interface DropIndexCommand {
  type: 'dropIndex';
  collection: string;
  name: string;
  idempotency?: IdempotencyTag;
}

export interface DropCollectionCommand {
  type: 'dropCollection';
  collection: string;
  idempotency?: IdempotencyTag;
}

/** Sets the model of a collection (store/schema.ts): its schema, options and declared indexes.
 * Existing documents are checked unless `force`. */
export interface SetSchemaCommand {
  type: 'setSchema';
  collection: string;
  schema: JsonObject;
  options: ModelOptions;
  force: boolean;
}

/** Removes the model of a collection (documents, indexes and history stay). */
export interface DropSchemaCommand {
  type: 'dropSchema';
  collection: string;
}

/**
 * Independent inserts that share one log entry (a node coalesces concurrent writes into
 * it): each op applies all or nothing on its own, and one op failing (a duplicate `_id`)
 * does not fail the others. Only inserts: every document in the entry then changes at
 * most once, so the `_rev` the entry gives them still names one change each.
 */
export interface BatchCommand {
  type: 'batch';
  ops: InsertCommand[];
}

/** Appended by a new Raft leader; changes nothing but lastApplied. */
export interface NoopCommand {
  type: 'noop';
}

/** What the leader adds to every command it proposes: the log's time. */
export interface EntryStamp {
  /** Milliseconds since the epoch, by the leader's clock when it proposed the entry. The
   * state machine's clock is the largest stamp applied so far (never a node's own clock):
   * what depends on time in applied state (session expiry) reads only that. */
  timeMs?: number;
  /** The id of the leader that proposed the entry (history records name it). */
  nodeId?: number;
  /** The apply rules the leader proposed the entry under (APPLY_RULES_VERSION): an entry
   * written before a rule existed is applied as it was then, on every replica, whether it is
   * replayed from the log or was applied before a snapshot. Absent: 1. */
  rules?: number;
}

/**
 * Who a write was proposed for: the authenticated user of the HTTP request, set by the server
 * from the request's credentials (server/backend-access.ts, never from its body) and carried by
 * the entry to every replica, which records it in history and audit records. Absent with
 * authentication off, and on the node's own proposals (TTL sweeps, the auth bootstrap). At the
 * top of an entry, or on each insert of a batch; never in a transaction's ops, never on an
 * `auth` command (it names its user in `by`), a batch itself or a noop. At most
 * IDEMPOTENCY_USER_CHARS_MAX characters. An entry without it (written before it existed) names
 * the user of its idempotency tag, if any, as it did then.
 */
export interface ProposedFor {
  user?: string;
}

/**
 * The user a write was proposed for (ProposedFor, set by the server from the request's
 * credentials), read from the entry so that every replica records the same; an entry written
 * before the field existed names the user of its idempotency tag, as it did then. History,
 * audit and change events all take it from here.
 */
export function proposedUser(command: ProposedFor & { idempotency?: { readonly user?: string } }): string | undefined {
  return command.user ?? command.idempotency?.user;
}

/**
 * The apply rules of the entries this binary proposes. 1: as first released. 2: a write
 * changes at most WRITE_DOCS_CHANGED_MAX documents by filter, and a transaction's filters and
 * count preconditions share one WRITE_SCAN_DOCS_MAX (rule 1: each filter has its own). 3: an
 * entry (and each insert of a batch) may name the user it was proposed for (ProposedFor):
 * applying an entry of rules 1 or 2 is unchanged, but a binary of rules 2 would refuse the field
 * (an unknown command field: nothing applied) where its replicas apply the write, so it stops at
 * such an entry instead (NewerApplyRulesError). 4: an idempotency tag may carry
 * `answeredThrough` (IdempotencyTag), which drops its client's records through it; a binary of
 * rules 3 would refuse the field and keep the records, so it stops at such an entry instead.
 */
export const APPLY_RULES_VERSION = 4;
/** The apply rules from which an idempotency tag may carry `answeredThrough`. */
export const ANSWERED_THROUGH_RULES = 4;

/**
 * An entry stamped with apply rules newer than this binary's: refused as input (400), and a
 * node that finds one in its log stops rather than apply it differently from the replicas
 * that know the rules (after a downgrade of its binary, say): see RaftNode's apply.
 */
export class NewerApplyRulesError extends ValidationError {}

export type Command = (
  | InsertCommand
  | UpdateCommand
  | ReplaceCommand
  | RemoveCommand
  | TxCommand
  | BatchCommand
  | CreateIndexCommand
  | DropIndexCommand
  | DropCollectionCommand
  | SetSchemaCommand
  | DropSchemaCommand
  | AuthCommand
  | NoopCommand
) &
  EntryStamp &
  ProposedFor;

/** The commands that may carry an idempotency tag (at the top of an entry; inserts also inside a batch). */
export type KeyedCommand =
  | InsertCommand
  | UpdateCommand
  | ReplaceCommand
  | RemoveCommand
  | TxCommand
  | CreateIndexCommand
  | DropIndexCommand
  | DropCollectionCommand
  | SetSchemaCommand
  | DropSchemaCommand;

export type CommandType = Command['type'];

export interface UpdateResultValue {
  matched: number;
  modified: number;
  upsertedId?: string;
  /** The matched documents as they are after the command (unchanged ones included), plus an upserted one. */
  docs: Document[];
}

export interface ReplaceResultValue {
  doc: Document;
  created: boolean;
}

export interface RemoveResultValue {
  removed: number;
  ids: string[];
}

export interface DropResultValue {
  dropped: boolean;
}

export type TxOpResult = Document[] | UpdateResultValue | ReplaceResultValue | RemoveResultValue;

/** The success value of each command type. */
export interface ResultValues {
  insert: Document[];
  update: UpdateResultValue;
  replace: ReplaceResultValue;
  remove: RemoveResultValue;
  /** One result per op, in order (the value its standalone command would return). */
  tx: TxOpResult[];
  /** One result per op, in order: each succeeded or failed on its own. */
  batch: CommandResult<'insert'>[];
  createIndex: IndexSpec;
  dropIndex: DropResultValue;
  dropCollection: DropResultValue;
  setSchema: StoredModel;
  dropSchema: DropResultValue;
  auth: AuthResultValue;
  noop: null;
}

/** `replayed`: the command carried an idempotency key already applied, and this is the
 * result recorded then (the command itself applied nothing). */
export type CommandResult<T extends CommandType = CommandType> = ({ ok: true; value: ResultValues[T] } | { ok: false; error: ErrorInfo }) & {
  replayed?: true;
};

/** Bounds on one command, so a single log entry cannot hold unbounded work. */
export const MAX_BATCH_DOCS = 10_000;
export const MAX_TX_OPS = 1_000;
export const MAX_BATCH_OPS = 1_024;
export const MAX_TX_PRECONDITIONS = 1_000;
export const MAX_INDEX_FIELDS = 16;
export const MAX_INDEXES_PER_COLLECTION = 64;

/**
 * JSON values in one request body, at most (every object, array, string, number, boolean
 * and null counts one). What a request costs every node (parsing, validating, encoding,
 * and applying its entry on every replica, which cannot be cut into slices because it is
 * atomic) grows with its values far more than with its bytes: about 0.5 µs per value per
 * step on the development machine, and a write runs several steps in one turn of the event
 * loop (parse, validate, copy, encode), and every node applies it whole: 10,000 values keep
 * each turn near 20 ms, well under half the election timeout, where 16 MiB of small keys took
 * seconds and deposed the leader (issue #11).
 */
export const REQUEST_VALUES_MAX = 10_000;

/**
 * Documents a write's filter may examine when it is applied (an update or remove by
 * filter, a transaction's count precondition), at most, weighted by the filter's size:
 * a write is applied on every replica in one piece, so a filter that must scan a large
 * collection without an index would hold every node's event loop for as long as the scan.
 * See WRITE_SCAN_UNITS_MAX in query-exec.ts for the weighting.
 */
export const WRITE_SCAN_DOCS_MAX = 100_000;

/**
 * Documents one write may change through a filter (a multi-document update or remove), at
 * most; a transaction's ops count together. Every replica applies a write in one piece, and
 * changing a document costs far more than examining one: an update of 100,000 documents held
 * every node's event loop for 2.5 s (2026-12-06), past the election timeout. At 1,000 (as
 * MAX_TX_OPS) a write changes no more documents than the largest transaction inserts. A larger
 * change is made in several writes, each with a narrower filter (an `_id` or indexed range).
 */
export const WRITE_DOCS_CHANGED_MAX = 1_000;

/** A write over WRITE_DOCS_CHANGED_MAX: a ValidationError (400 VALIDATION) that a pre-check
 * may answer before proposing, as apply would refuse the entry whatever the documents. */
export class TooManyToChangeError extends ValidationError {}

/** The refusal of a write that matched `matched` documents to change, over WRITE_DOCS_CHANGED_MAX
 * (apply's, and the pre-check's that spares it a log entry; `atLeast`: it stopped counting). */
export function tooManyToChange(matched: number, atLeast = false): TooManyToChangeError {
  return new TooManyToChangeError(
    `filter: a write may change at most ${WRITE_DOCS_CHANGED_MAX} documents (WRITE_DOCS_CHANGED_MAX), a transaction's ops together; ` +
      `this one matched ${atLeast ? 'more' : matched}: change them in several writes, each with a narrower filter (an _id or indexed range)`,
  );
}

export function isRevPrecondition(p: Precondition): p is RevPrecondition {
  return 'rev' in p;
}
export function isExistsPrecondition(p: Precondition): p is ExistsPrecondition {
  return 'exists' in p;
}
export function isCountPrecondition(p: Precondition): p is CountPrecondition {
  return 'count' in p;
}
