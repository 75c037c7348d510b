// The store: the state machine of the database. apply(command, index) is
// called for every committed log entry, in order, on every replica; it is
// deterministic (no clock, no randomness, a total order on every result) and
// atomic (a command that fails is rolled back completely through an undo log).
// Reads (get/find/count/explain) never change state.

import { update as mingoUpdate } from 'mingo/updater';
import { assert, InvariantError } from '../assert.ts';
import { Collection } from './collection.ts';
import {
  isCountPrecondition,
  isExistsPrecondition,
  MAX_INDEXES_PER_COLLECTION,
  type Command,
  type CommandResult,
  type CommandType,
  type BatchCommand,
  type CreateIndexCommand,
  type DropSchemaCommand,
  type SetSchemaCommand,
  type InsertCommand,
  type Precondition,
  proposedUser,
  type RemoveCommand,
  type RemoveResultValue,
  type ReplaceCommand,
  type ReplaceResultValue,
  type ResultValues,
  type TxCommand,
  type TxOp,
  type TxOpResult,
  type UpdateCommand,
  type UpdateResultValue,
  ANSWERED_THROUGH_RULES,
  APPLY_RULES_VERSION,
  tooManyToChange,
  TooManyToChangeError,
  NewerApplyRulesError,
  WRITE_DOCS_CHANGED_MAX,
  WRITE_SCAN_DOCS_MAX,
} from './commands.ts';
import { BadRequestError, ConflictError, errorFromInfo, NotFoundError, PreconditionFailedError, StoreError, ValidationError } from './errors.ts';
import { equalityFields } from './filter-analysis.ts';
import { defaultIndexName, SecondaryIndex } from './index-secondary.ts';
import { FilterCache, MINGO_OPTIONS, QUERY_OPTIONS, type CompiledFilter } from './query-cache.ts';
import { mingoUpdateSpec } from './query-regex.ts';
import { executeQuery, filterWeight, type ExecOptions } from './query-exec.ts';
import {
  decodeSnapshotData,
  encodeSnapshotData,
  SNAPSHOT_FORMAT,
  SNAPSHOT_VERSION,
  SNAPSHOT_VERSION_WITH_AUTH,
  SNAPSHOT_VERSION_WITH_MODELS,
  SNAPSHOT_VERSION_WITH_SESSIONS,
  type SnapshotData,
} from './snapshot.ts';
import { AuthState } from './auth-state.ts';
import { AUDIT_GENESIS_HASH, AuditChain, type AuditRecord, type AuditVerification } from './audit.ts';
import { HistoryStore, type AsOf } from './history.ts';
import type { RaftEvent, RaftEventType } from './raft-event.ts';
import { CompiledModel, SCHEMA_CHECK_DOCS_MAX, SCHEMA_FAILING_IDS_MAX, type StoredModel } from './schema.ts';
import { EXPIRE_AFTER_SECONDS_MAX, isExpiredByRules, TTL_EXPIRED_DOCS_MAX, withoutExpired, type TtlRule } from './ttl.ts';
import { DEFAULT_SESSION_BOUNDS, SessionTable, type IdempotencyTag, type SessionBounds } from './sessions.ts';
import { normalizeSort } from './sort.ts';
import type { CursorPosition } from './cursor.ts';
import { runPage } from './page.ts';
import { Query } from 'mingo';
import { copyDocument, withRevision, validateCollectionName, validateCommand, validateFindOptions } from './validate.ts';
import type { Document, Explain, Filter, FindOptions, IndexSpec, JsonObject, Limits, UpdateSpec } from './types.ts';
import { resolveLimits } from './types.ts';

type UndoEntry = { kind: 'doc'; coll: Collection; id: string; prev: Document | undefined } | { kind: 'collection'; name: string };

function deepFreeze(v: unknown): unknown {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
    Object.freeze(v);
  }
  return v;
}

function withPrefix(e: unknown, prefix: string): unknown {
  if (e instanceof StoreError) return errorFromInfo({ code: e.code, message: `${prefix}${e.message}` });
  return e;
}

function cloneMutable(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) return v.map(cloneMutable);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = cloneMutable((v as Record<string, unknown>)[k]);
  return out;
}

function runUpdate(target: Record<string, unknown>, spec: UpdateSpec): string[] {
  try {
    // $pull's conditions run as filters do: $regex on RE2, our $mod, no scripts.
    return mingoUpdate(target, mingoUpdateSpec(spec) as Parameters<typeof mingoUpdate>[1], undefined, undefined, {
      cloneMode: 'deep',
      queryOptions: QUERY_OPTIONS,
    });
  } catch (e) {
    if (e instanceof StoreError) throw e;
    throw new ValidationError(`update: ${(e as Error).message}`);
  }
}

/**
 * $inc and $mul on an existing non-numeric field are errors in MongoDB; mingo
 * silently skips them, so check first (plain dotted paths; paths through
 * arrays are left to mingo).
 */
function checkNumericTargets(doc: Record<string, unknown>, spec: UpdateSpec): void {
  for (const op of ['$inc', '$mul'] as const) {
    const fields = spec[op];
    if (fields === undefined || fields === null || typeof fields !== 'object') continue;
    for (const path of Object.keys(fields)) {
      let cur: unknown = doc;
      for (const seg of path.split('.')) {
        if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) {
          cur = undefined;
          break;
        }
        cur = Object.hasOwn(cur, seg) ? (cur as Record<string, unknown>)[seg] : undefined;
      }
      if (cur !== undefined && typeof cur !== 'number') {
        throw new ValidationError(`update.${op}.${path}: cannot apply ${op} to a non-numeric value`);
      }
    }
  }
}

/**
 * What the session table keeps of a keyed write's result, frozen (callers get the same
 * objects): the result itself, except that a multi-document update keeps its counts and
 * not its documents, and a multi-document remove its count and not its ids (up to
 * WRITE_SCAN_DOCS_MAX of them, which the table would keep and every snapshot carry; no API
 * returns them: `_update`, `_delete` and a transaction's update and remove answer counts,
 * and a replay emits no change events).
 */
function recordedForm(command: Command, result: CommandResult): CommandResult {
  if (!result.ok) return deepFreeze(result) as CommandResult;
  const withoutDocs = (op: TxOp, value: TxOpResult): TxOpResult =>
    op.type === 'update' && op.multi
      ? { ...(value as UpdateResultValue), docs: [] }
      : op.type === 'remove' && op.multi
        ? { ...(value as RemoveResultValue), ids: [] }
        : value;
  if ((command.type === 'update' || command.type === 'remove') && command.multi)
    return deepFreeze({ ...result, value: withoutDocs(command, result.value as TxOpResult) }) as CommandResult;
  if (command.type === 'tx') {
    const values = (result.value as TxOpResult[]).map((v, i) => withoutDocs(command.ops[i]!, v));
    return deepFreeze({ ...result, value: values }) as CommandResult;
  }
  return deepFreeze(result) as CommandResult;
}

/** A change of a document of a collection with history or audit, made by the command being
 * applied; it becomes a RaftEvent record once the command succeeds. */
interface PendingChange {
  readonly model: CompiledModel;
  readonly id: string;
  readonly doc: Document | undefined;
  readonly type: RaftEventType;
  /** The change's position among every document change of the entry (the change stream's). */
  readonly position: number;
  readonly user: string | undefined;
}

export interface ApplyOptions {
  /** The term of the log entry (history records carry it); 0 when unknown. */
  readonly term?: number;
  /** The documents of an insert command are copyNewDocument results under this store's
   * limits (validated, frozen, owned by the command): they are stored without a second
   * copy. Only the node that built the command may say so; commands decoded from the log
   * or a peer are validated and copied here. */
  readonly documentsCopied?: boolean;
}

export class Store {
  readonly limits: Limits;
  private readonly colls = new Map<string, Collection>();
  /** Users and roles (replicated like documents; changed only by `auth` commands). */
  readonly auth = new AuthState();
  /** Idempotency keys applied and their first results, and the log clock (sessions.ts). */
  readonly sessions: SessionTable;
  private readonly filters = new FilterCache(1024);
  private readonly projector = new Query({}, MINGO_OPTIONS);
  private applied = 0;
  /** Undo entries of the command being applied (empty between commands). */
  private undo: UndoEntry[] = [];
  /** Collection models (schema.ts), by collection name. */
  private readonly modelsByName = new Map<string, CompiledModel>();
  /** Per-document history of collections with `trackHistory` (history.ts). */
  readonly history = new HistoryStore();
  /** The audit chains of collections with `audited` (audit.ts). */
  private readonly audits = new Map<string, AuditChain>();
  /** Document changes made so far by the command being applied, and the ones to record. */
  private writesInCommand = 0;
  /** Documents the command being applied matched to change by filter (WRITE_DOCS_CHANGED_MAX). */
  private matchedToChange = 0;
  /** Documents the command being applied may still examine, each weighted by its filter's
   * size (WRITE_SCAN_DOCS_MAX): a transaction's filters and count preconditions share it. Set
   * by the command's first filter (examineForWrite); a pre-check outside apply starts afresh too. */
  private writeScanLeft = WRITE_SCAN_DOCS_MAX;
  /** Whether a filter of the command being applied has drawn on writeScanLeft yet. */
  private writeScanStarted = false;
  /** The apply rules of the command being applied (EntryStamp.rules; APPLY_RULES_VERSION for a
   * pre-check, which judges a command this binary will stamp). */
  private rules = APPLY_RULES_VERSION;
  private pending: PendingChange[] = [];
  /** Set while a replace writes (its change is `Replaced`, not `Updated`). */
  private replacing = false;
  /** The user the write being applied was proposed for, for history and audit records
   * (proposedUser). */
  private writeUser: string | undefined;

  /** `sessionBounds`: for tests; every replica must use the same (the defaults). */
  constructor(limits?: Partial<Limits>, sessionBounds: SessionBounds = DEFAULT_SESSION_BOUNDS) {
    this.limits = resolveLimits(limits);
    this.sessions = new SessionTable(sessionBounds);
  }

  /** The clock reads of TTL collections compare against (ms since the epoch). A store alone
   * (no I/O here) uses its log clock; a node gives it its wall clock (useReadClock), so an
   * expired document is hidden at once, before the sweep's entry removes it. Never read at
   * apply: applied state depends on the log only. */
  private readClockMs: () => number = () => this.logTimeMs;

  /** Reads of TTL collections compare against `clockMs` from now on (a node: Date.now). */
  useReadClock(clockMs: () => number): void {
    this.readClockMs = clockMs;
  }

  /** The log clock: the largest entry timestamp applied (ms since the epoch; 0: none yet). */
  get logTimeMs(): number {
    return this.sessions.logTimeMs;
  }

  /** Log index of the last applied command (0: none). */
  get lastApplied(): number {
    return this.applied;
  }

  // -------------------------------------------------------------------------
  // Writes

  /**
   * Applies the command at log index `index` (> lastApplied). User errors
   * (validation, conflicts, preconditions) come back as `{ok: false}` after
   * the command is rolled back; the index is consumed either way. Throws only
   * on a broken invariant, or on an entry stamped with apply rules newer than
   * this binary's (NewerApplyRulesError: the node must stop, not skip it).
   */
  apply<C extends Command>(command: C, index: number, options: ApplyOptions = {}): CommandResult<C['type']> {
    if (!Number.isSafeInteger(index) || index <= this.applied) {
      assert(false, `apply: index ${index} must be an integer greater than lastApplied ${this.applied}`);
    }
    assert(this.undo.length === 0, 'apply: undo log not empty (re-entrant apply?)');
    try {
      // The shape is checked on every path, the proposer's own command included: every
      // replica must refuse exactly what the proposer refuses. Only the copy is skipped.
      validateCommand(command, { documents: false, limits: this.limits, rules: command.rules ?? 1 });
    } catch (e) {
      // Refused before anything ran: nothing is recorded (its key cannot be trusted either).
      // An entry of newer apply rules is not refused but thrown: replicas that know the rules
      // apply it, so this one must not carry on without it (the node stops).
      if (!(e instanceof StoreError) || e instanceof NewerApplyRulesError) throw e;
      this.applied = index;
      return { ok: false, error: { code: e.code, message: e.message } };
    }
    if (command.timeMs !== undefined) this.sessions.advance(command.timeMs);
    const tag = command.type === 'batch' ? undefined : (command as { idempotency?: IdempotencyTag }).idempotency;
    if (tag !== undefined) {
      const seen = this.sessionLookup(tag, command.rules ?? 1);
      if (seen !== undefined) {
        this.applied = index;
        return seen as CommandResult<C['type']>;
      }
    }
    const copied = options.documentsCopied === true && (command.type === 'insert' || command.type === 'batch');
    this.writeUser = proposedUser(command);
    const result = this.runCommand(command, index, copied);
    if (this.pending.length !== 0) this.record(command, index, options.term ?? 0, result.ok);
    if (tag !== undefined) this.sessions.record(tag, recordedForm(command, result));
    return result as CommandResult<C['type']>;
  }

  /** The answer to a key already applied (its first result, or IDEMPOTENCY_KEY_REUSED when
   * the request differs), or IDEMPOTENCY_KEY_EXPIRED for a client-library key at or below its
   * client's watermark (nothing applied, nothing recorded); undefined for a new key. */
  private sessionLookup(tag: IdempotencyTag, rules: number): CommandResult | undefined {
    // What its client says it has answered goes first (validated: below the tag's own seq).
    if (rules >= ANSWERED_THROUGH_RULES) this.sessions.acknowledge(tag);
    const seen = this.sessions.lookup(tag);
    if (seen.kind === 'new') return undefined;
    if (seen.kind === 'replay') return { ...seen.result, replayed: true };
    if (seen.kind === 'expired') {
      return {
        ok: false,
        error: {
          code: 'IDEMPOTENCY_KEY_EXPIRED',
          message: `Idempotency-Key ${JSON.stringify(tag.key)} is older than the records kept: its first attempt's outcome can no longer be known, and this request was not applied`,
        },
      };
    }
    return {
      ok: false,
      error: { code: 'IDEMPOTENCY_KEY_REUSED', message: `Idempotency-Key ${JSON.stringify(tag.key)} was used for a different request` },
    };
  }

  /** Runs a validated command at `index`: its value, or its error after a full rollback. */
  private runCommand(command: Command, index: number, copied: boolean): CommandResult {
    this.writesInCommand = 0;
    this.beginWriteBudgets(command.rules ?? 1);
    this.pending = [];
    try {
      const value = this.execute(command, index, copied);
      // A fresh array costs less than truncating this one (a runtime call) once per command.
      if (this.undo.length !== 0) this.undo = [];
      this.applied = index;
      return { ok: true, value };
    } catch (e) {
      this.rollback();
      if (e instanceof StoreError) {
        this.applied = index;
        return { ok: false, error: { code: e.code, message: e.message } };
      }
      throw e;
    } finally {
      // The commands that may change a collection's TTL rules, applied or not (a model whose
      // indexes failed takes back the ones it created): its order of expiry follows them.
      if (command.type === 'createIndex' || command.type === 'dropIndex' || command.type === 'setSchema' || command.type === 'dropSchema') {
        this.colls.get(command.collection)?.setExpiryRules(this.ttlRules(command.collection));
      }
    }
  }

  private execute(command: Command, index: number, copied: boolean): ResultValues[CommandType] {
    switch (command.type) {
      case 'insert':
        return this.insert(command, index, copied);
      case 'batch':
        return this.batch(command, index, copied);
      case 'update':
        return this.update(command, index);
      case 'replace':
        return this.replace(command, index);
      case 'remove':
        return this.remove(command);
      case 'tx':
        return this.transaction(command, index);
      case 'createIndex':
        return this.createIndex(command);
      case 'dropIndex': {
        const coll = this.colls.get(command.collection);
        const i = coll === undefined ? -1 : coll.indexes.findIndex((x) => x.name === command.name);
        if (coll === undefined || i === -1) {
          throw new NotFoundError(`index "${command.name}" not found in collection "${command.collection}"`);
        }
        coll.indexes.splice(i, 1);
        return { dropped: true };
      }
      case 'dropCollection':
        return { dropped: this.colls.delete(command.collection) };
      case 'setSchema':
        return this.setSchema(command, index);
      case 'dropSchema':
        return this.dropSchema(command);
      case 'auth':
        // Nothing to roll back: AuthState checks everything before it changes anything.
        return this.auth.apply(command, index);
      case 'noop':
        return null;
    }
  }

  private rollback(): void {
    this.rollbackTo(0);
  }

  /** Undoes the changes recorded after `mark` (the undo log's length when they started). */
  private rollbackTo(mark: number): void {
    const undo = this.undo;
    this.undo = undo.slice(0, mark);
    // The changes undone are no changes: positions start again after the ones that stand.
    let writes = 0;
    for (const u of this.undo) if (u.kind === 'doc') writes++;
    this.writesInCommand = writes;
    if (this.pending.length !== 0) this.pending = this.pending.filter((c) => c.position < writes);
    try {
      for (let i = undo.length - 1; i >= mark; i--) {
        const u = undo[i]!;
        if (u.kind === 'doc') u.coll.write(u.id, u.prev, false);
        else this.colls.delete(u.name);
      }
    } catch (e) {
      throw new InvariantError(`rollback failed: ${(e as Error).message}`, { cause: e });
    }
  }

  private collection(name: string, create: boolean): Collection | undefined {
    let coll = this.colls.get(name);
    if (coll === undefined && create) {
      coll = new Collection(name);
      // A model's `ttlField` outlives the collection: a new one expires by it from the start.
      coll.setExpiryRules(this.ttlRules(name));
      this.colls.set(name, coll);
      this.undo.push({ kind: 'collection', name });
    }
    return coll;
  }

  private write(coll: Collection, id: string, doc: Document | undefined, expectNew: boolean): void {
    const prev = coll.write(id, doc, expectNew);
    this.undo.push({ kind: 'doc', coll, id, prev });
    const position = this.writesInCommand++;
    const model = this.modelsByName.get(coll.name);
    if (model !== undefined && (model.options.trackHistory === true || model.options.audited === true)) {
      const type: RaftEventType = doc === undefined ? 'Deleted' : prev === undefined ? 'Created' : this.replacing ? 'Replaced' : 'Updated';
      this.pending.push({ model, id, doc, type, position, user: this.writeUser });
    }
  }

  /**
   * Turns the changes of a command into history and audit records. A failed command changed
   * nothing (its writes were undone). Every field comes from the entry (index, term, the
   * leader's stamp) or from applying it, so every replica records the same.
   */
  private record(command: Command, index: number, term: number, ok: boolean): void {
    const pending = this.pending;
    this.pending = [];
    this.writesInCommand = 0;
    if (!ok) return;
    for (const c of pending) {
      const event: RaftEvent = Object.freeze({
        eventId: `${index}.${c.position}`,
        collection: c.model.collection,
        aggregateId: c.id,
        eventType: c.type,
        ...(c.doc !== undefined ? { data: c.doc } : {}),
        sequence: index,
        position: c.position,
        term,
        timestamp: command.timeMs ?? 0,
        nodeId: command.nodeId ?? 0,
        ...(c.user !== undefined ? { user: c.user } : {}),
      });
      const options = c.model.options;
      if (options.trackHistory === true) this.history.append(event, options.history, this.logTimeMs);
      if (options.audited === true) {
        let chain = this.audits.get(event.collection);
        if (chain === undefined) {
          chain = new AuditChain(event.collection);
          this.audits.set(event.collection, chain);
        }
        chain.append(event);
      }
    }
  }

  /**
   * `raw` as stored at `index`: validated and copied, then, in a collection with a model,
   * conformed to its schema (defaults filled, types coerced) and copied again. Throws
   * VALIDATION_FAILED naming every failing path and rule.
   */
  private stored(collection: string, raw: unknown, index: number): Document {
    const doc = copyDocument(raw, this.limits, index);
    const model = this.modelsByName.get(collection);
    if (model === undefined) return doc;
    const work = cloneMutable(doc) as Record<string, unknown>;
    model.conform(work, `document "${doc._id}"`);
    return copyDocument(work, this.limits, index);
  }

  private execOp(op: TxOp, index: number): TxOpResult {
    switch (op.type) {
      case 'insert':
        return this.insert(op, index);
      case 'update':
        return this.update(op, index);
      case 'replace':
        return this.replace(op, index);
      case 'remove':
        return this.remove(op);
    }
  }

  private insert(cmd: InsertCommand, index: number, copied = false): Document[] {
    const coll = this.collection(cmd.collection, true)!;
    const out: Document[] = [];
    for (let i = 0; i < cmd.docs.length; i++) {
      try {
        const given = cmd.docs[i]!;
        // A copy is trusted only if it is one (frozen); anything else is validated here.
        const modeled = this.modelsByName.has(cmd.collection);
        const doc = copied && !modeled && Object.isFrozen(given) ? withRevision(given, index) : this.stored(cmd.collection, given, index);
        this.write(coll, doc._id, doc, true);
        out.push(doc);
      } catch (e) {
        throw cmd.docs.length > 1 ? withPrefix(e, `docs.${i}: `) : e;
      }
    }
    return out;
  }

  /** Each op on its own: a failed one is undone and reported, the others stand. */
  private batch(cmd: BatchCommand, index: number, copied: boolean): CommandResult<'insert'>[] {
    const results: CommandResult<'insert'>[] = [];
    for (const op of cmd.ops) {
      const mark = this.undo.length;
      let result: CommandResult<'insert'>;
      let tag: IdempotencyTag | undefined;
      try {
        validateCommand(op, { documents: false, limits: this.limits, inBatch: true, rules: this.rules });
        // Each op is its own write: its key is looked up and recorded on its own.
        tag = op.idempotency;
        this.writeUser = proposedUser(op);
        const seen = tag === undefined ? undefined : this.sessionLookup(tag, this.rules);
        if (seen !== undefined) {
          results.push(seen as CommandResult<'insert'>);
          continue;
        }
        result = { ok: true, value: this.insert(op, index, copied) };
      } catch (e) {
        if (!(e instanceof StoreError)) throw e; // a broken invariant fails the whole command
        this.rollbackTo(mark);
        result = { ok: false, error: { code: e.code, message: e.message } };
      }
      if (tag !== undefined) this.sessions.record(tag, recordedForm(op, result));
      results.push(result);
    }
    return results;
  }

  /** Matching documents in _id order; the first only unless multi. */
  private matching(collection: string, filter: Filter, multi: boolean): Document[] {
    // Applied in one piece on every replica: the scan is bounded (WRITE_SCAN_DOCS_MAX).
    return this.examineForWrite(collection, filter, { sortKeys: [], skip: 0, limit: multi ? 0 : 1 });
  }

  /** A command (applied, or pre-checked under this binary's rules) starts with nothing
   * matched to change and its scan budget untouched (its first filter sets it). */
  private beginWriteBudgets(rules: number): void {
    this.matchedToChange = 0;
    this.writeScanStarted = false;
    this.rules = rules;
  }

  /** A write's scan, within what is left of the command's WRITE_SCAN_DOCS_MAX. */
  private examineForWrite(collection: string, filter: Filter, opts: Omit<ExecOptions, 'examinedMax'>): Document[] {
    const compiled = this.filters.get(filter);
    const weight = Math.max(1, filterWeight(filter));
    // Rule 1: each filter has the whole budget. The command's first filter may be heavier than
    // the budget and still look at one document: its budget is its weight then, and what it
    // leaves is at most WRITE_SCAN_DOCS_MAX (a heavy first filter that examined nothing must
    // not hand the next one more than the budget).
    const first = this.rules < 2 || !this.writeScanStarted;
    this.writeScanStarted = true;
    if (first) this.writeScanLeft = Math.max(WRITE_SCAN_DOCS_MAX, weight);
    const examinedMax = Math.floor(this.writeScanLeft / weight);
    if (examinedMax < 1) {
      throw new ValidationError(
        `filter: a write may examine at most ${WRITE_SCAN_DOCS_MAX} documents (WRITE_SCAN_DOCS_MAX), each counted once per part of its filter, ` +
          "a transaction's filters together; this one's earlier ops used them up: split it, or index the fields they test",
      );
    }
    const run = executeQuery(this.colls.get(collection), compiled, { ...opts, examinedMax, examinedShared: this.rules >= 2 });
    this.writeScanLeft = Math.min(WRITE_SCAN_DOCS_MAX, this.writeScanLeft - run.explain.docsExamined * weight);
    return run.docs;
  }

  /** The updated document, or undefined when the update changes nothing. */
  private updatedDocument(collection: string, doc: Document, spec: UpdateSpec, index: number): Document | undefined {
    const work = cloneMutable(doc) as Record<string, unknown>;
    checkNumericTargets(work, spec);
    const changed = runUpdate(work, spec);
    if (changed.length === 0) return undefined;
    if (work['_id'] !== doc._id) throw new ValidationError(`update: may not change _id of document "${doc._id}"`);
    return this.stored(collection, work, index);
  }

  /** Counts documents a write matched to change against WRITE_DOCS_CHANGED_MAX, the
   * command's earlier ops (a transaction's) included; refuses the write before it changes any. */
  private toChange(matches: readonly Document[]): readonly Document[] {
    this.matchedToChange += matches.length;
    if (this.rules >= 2 && this.matchedToChange > WRITE_DOCS_CHANGED_MAX) throw tooManyToChange(this.matchedToChange);
    return matches;
  }

  private update(cmd: UpdateCommand, index: number): UpdateResultValue {
    const matches = this.toChange(this.matching(cmd.collection, cmd.filter, cmd.multi));
    if (matches.length === 0) {
      if (!cmd.upsert || (cmd.ifRev !== undefined && cmd.ifRev !== 0)) return { matched: 0, modified: 0, docs: [] };
      return this.upsert(cmd, index);
    }
    if (cmd.ifRev !== undefined && matches[0]!._rev !== cmd.ifRev) {
      throw new PreconditionFailedError(`document "${matches[0]!._id}" has _rev ${matches[0]!._rev}, expected ${cmd.ifRev}`);
    }
    const coll = this.colls.get(cmd.collection);
    assert(coll !== undefined, 'update: documents matched in a collection that does not exist');
    const docs: Document[] = [];
    let modified = 0;
    for (const doc of matches) {
      const next = this.updatedDocument(cmd.collection, doc, cmd.update, index);
      if (next === undefined) {
        docs.push(doc);
        continue;
      }
      this.write(coll, doc._id, next, false);
      modified++;
      docs.push(next);
    }
    return { matched: matches.length, modified, docs };
  }

  private upsert(cmd: UpdateCommand, index: number): UpdateResultValue {
    const doc = this.upsertedDocument(cmd, index);
    this.write(this.collection(cmd.collection, true)!, doc._id, doc, true);
    return { matched: 0, modified: 0, upsertedId: doc._id, docs: [doc] };
  }

  /** The document an upsert creates (read-only: what upsert writes, and what modelFailure checks). */
  private upsertedDocument(cmd: UpdateCommand, index: number): Document {
    const eq = equalityFields(cmd.filter);
    let id: unknown = eq['_id'];
    delete eq['_id']; // mingo refuses to $set _id; it is placed directly below
    if (id === undefined) {
      if (cmd.upsertId === undefined) throw new ValidationError('upsertId: required for an upsert whose filter has no _id equality');
      id = cmd.upsertId;
    }
    const base: Record<string, unknown> = { _id: id };
    if (Object.keys(eq).length > 0) runUpdate(base, { $set: eq });
    checkNumericTargets(base, cmd.update);
    runUpdate(base, cmd.update);
    if (base['_id'] !== id) throw new ValidationError('update: may not change _id');
    return this.stored(cmd.collection, base, index);
  }

  private replace(cmd: ReplaceCommand, index: number): ReplaceResultValue {
    const cur = this.colls.get(cmd.collection)?.get(cmd.id);
    if (cmd.ifRev !== undefined) {
      const rev = cur?._rev ?? 0;
      if (rev !== cmd.ifRev) {
        throw new PreconditionFailedError(
          cur === undefined
            ? `document "${cmd.id}" does not exist, expected _rev ${cmd.ifRev}`
            : `document "${cmd.id}" has _rev ${rev}, expected ${cmd.ifRev}`,
        );
      }
    }
    if (cur === undefined && !cmd.upsert) {
      throw new NotFoundError(`document "${cmd.id}" not found in collection "${cmd.collection}"`);
    }
    const doc = this.stored(cmd.collection, { ...cmd.doc, _id: cmd.id }, index);
    this.replacing = true;
    try {
      this.write(this.collection(cmd.collection, true)!, cmd.id, doc, false);
    } finally {
      this.replacing = false;
    }
    return { doc, created: cur === undefined };
  }

  private remove(cmd: RemoveCommand): RemoveResultValue {
    const matches = this.toChange(this.matching(cmd.collection, cmd.filter, cmd.multi));
    if (cmd.ifRev !== undefined && matches.length > 0 && matches[0]!._rev !== cmd.ifRev) {
      throw new PreconditionFailedError(`document "${matches[0]!._id}" has _rev ${matches[0]!._rev}, expected ${cmd.ifRev}`);
    }
    if (matches.length === 0) return { removed: 0, ids: [] };
    const coll = this.colls.get(cmd.collection);
    assert(coll !== undefined, 'remove: documents matched in a collection that does not exist');
    const ids: string[] = [];
    for (const doc of matches) {
      this.write(coll, doc._id, undefined, false);
      ids.push(doc._id);
    }
    return { removed: ids.length, ids };
  }

  private transaction(cmd: TxCommand, index: number): TxOpResult[] {
    cmd.if.forEach((p, i) => {
      const why = this.preconditionFailure(p);
      if (why !== undefined) throw new ConflictError(`transaction precondition ${i} failed: ${why}`);
    });
    return cmd.ops.map((op, i) => {
      try {
        return this.execOp(op, index);
      } catch (e) {
        throw withPrefix(e, `transaction op ${i}: `);
      }
    });
  }

  /** Why the precondition does not hold, or undefined when it does. */
  private preconditionFailure(p: Precondition): string | undefined {
    if (isCountPrecondition(p)) {
      const n = this.countForWrite(p.collection, p.filter);
      return n === p.count ? undefined : `"${p.collection}" has ${n} documents matching the filter, expected ${p.count}`;
    }
    const doc = this.storedDoc(p.collection, p.id);
    if (isExistsPrecondition(p)) {
      if ((doc !== undefined) === p.exists) return undefined;
      return `document "${p.id}" in "${p.collection}" ${p.exists ? 'does not exist' : 'exists'}`;
    }
    const rev = doc?._rev ?? 0;
    return rev === p.rev ? undefined : `document "${p.id}" in "${p.collection}" has _rev ${rev}, expected ${p.rev}`;
  }

  private createIndex(cmd: CreateIndexCommand): IndexSpec {
    const name = cmd.name ?? defaultIndexName(cmd.fields);
    if (name === '_id_') throw new ValidationError('name: "_id_" is reserved for the primary key');
    const fields = cmd.fields.map(([p, d]) => [p, d] as [string, 1 | -1]);
    const coll = this.collection(cmd.collection, true)!;
    const existing = coll.index(name);
    if (existing !== undefined) {
      if (
        existing.spec.unique === cmd.unique &&
        existing.spec.expireAfterSeconds === cmd.expireAfterSeconds &&
        JSON.stringify(existing.spec.fields) === JSON.stringify(fields)
      )
        return existing.spec;
      throw new ConflictError(`index "${name}" already exists in "${cmd.collection}" with a different definition`);
    }
    if (coll.indexes.length >= MAX_INDEXES_PER_COLLECTION) {
      throw new ValidationError(`collection "${cmd.collection}" already has ${MAX_INDEXES_PER_COLLECTION} indexes`);
    }
    const spec: IndexSpec = Object.freeze({
      name,
      fields: Object.freeze(fields) as IndexSpec['fields'],
      unique: cmd.unique,
      // A TTL index (store/ttl.ts): its documents expire that long after the field's time.
      ...(cmd.expireAfterSeconds !== undefined ? { expireAfterSeconds: cmd.expireAfterSeconds } : {}),
    });
    const index = new SecondaryIndex(spec);
    index.build(coll.byId.values());
    coll.indexes.push(index);
    return spec;
  }

  /**
   * Sets a collection's model. Unless `force`, every existing document must match the new
   * schema (at most SCHEMA_CHECK_DOCS_MAX of them: a larger collection needs `force`); the
   * refusal names up to SCHEMA_FAILING_IDS_MAX failing ids. Existing documents are not
   * rewritten (defaults apply to later writes). Declared indexes are created with it.
   */
  private setSchema(cmd: SetSchemaCommand, index: number): StoredModel {
    const stored = deepFreeze(
      structuredClone({ collection: cmd.collection, schema: cmd.schema, options: cmd.options, version: index }),
    ) as StoredModel;
    const model = new CompiledModel(stored);
    const existing = this.colls.get(cmd.collection);
    if (!cmd.force && existing !== undefined && existing.size > 0) {
      if (existing.size > SCHEMA_CHECK_DOCS_MAX) {
        throw new StoreError(
          'VALIDATION_FAILED',
          `"${cmd.collection}" has ${existing.size} documents, more than SCHEMA_CHECK_DOCS_MAX (${SCHEMA_CHECK_DOCS_MAX}) a schema change checks: set it with force`,
        );
      }
      const failing: string[] = [];
      let count = 0;
      for (const [, doc] of existing.byId.entries()) {
        const why = model.failure(doc);
        if (why === undefined) continue;
        count++;
        if (failing.length < SCHEMA_FAILING_IDS_MAX) failing.push(`"${doc._id}": ${why}`);
      }
      if (count > 0) {
        throw new StoreError(
          'VALIDATION_FAILED',
          `${count} existing document(s) of "${cmd.collection}" do not match the new schema (force accepts it anyway)${count > failing.length ? `; the first ${failing.length}` : ''}: ${failing.join(' | ')}`,
        );
      }
    }
    // Indexes last: an index this command created is taken back if a later one fails.
    const created: string[] = [];
    try {
      for (const ix of cmd.options.indexes ?? []) {
        const name = ix.name ?? defaultIndexName(ix.fields);
        const had = this.colls.get(cmd.collection)?.index(name) !== undefined;
        this.createIndex({
          type: 'createIndex',
          collection: cmd.collection,
          fields: ix.fields,
          unique: ix.unique === true,
          name,
          ...(ix.expireAfterSeconds !== undefined ? { expireAfterSeconds: ix.expireAfterSeconds } : {}),
        });
        if (!had) created.push(name);
      }
    } catch (e) {
      const coll = this.colls.get(cmd.collection);
      if (coll !== undefined) {
        for (const name of created) {
          const i = coll.indexes.findIndex((x) => x.name === name);
          if (i !== -1) coll.indexes.splice(i, 1);
        }
      }
      throw e;
    }
    this.modelsByName.set(cmd.collection, model);
    return stored;
  }

  private dropSchema(cmd: DropSchemaCommand): { dropped: boolean } {
    return { dropped: this.modelsByName.delete(cmd.collection) };
  }

  // -------------------------------------------------------------------------
  // Models, history, audit (reads)

  /** The model of a collection, or undefined. */
  model(collection: string): StoredModel | undefined {
    return this.modelsByName.get(collection)?.stored;
  }

  /** Every model, by collection name. */
  models(): StoredModel[] {
    return [...this.modelsByName.keys()].sort().map((name) => this.modelsByName.get(name)!.stored);
  }

  /**
   * A new document as a collection's model would store it (defaults filled, types coerced),
   * or VALIDATION_FAILED: what a writer checks before proposing. The entry is checked again
   * at apply, against the model then in force.
   */
  conformNew<T extends JsonObject>(collection: string, doc: T): T {
    const model = this.modelsByName.get(collection);
    if (model === undefined) return doc;
    const work = cloneMutable(doc) as Record<string, unknown>;
    model.conform(work, doc['_id'] === undefined ? 'document' : `document ${JSON.stringify(doc['_id'])}`);
    return work as T;
  }

  /**
   * The VALIDATION_FAILED error applying `command` now would end with because a document it
   * writes fails its collection's model, or undefined: what a writer checks before proposing
   * (src/server/model-precheck.ts), so that an invalid document costs no log entry. Read-only
   * (it builds the documents as apply would and writes none). Checked: inserts and replaces
   * (their documents depend only on the model), standalone updates and upserts (against the
   * documents as they are now, in one piece: the embedded API's check); a transaction's inserts
   * and replaces. The HTTP routes check updates by filter, standalone or in a transaction, in
   * slices and bounded, with updateModelFailure (src/server/update-precheck.ts). The entry is
   * checked again at apply, against the model and documents then, and that check decides.
   */
  modelFailure(command: Command): StoreError | undefined {
    if (this.modelsByName.size === 0) return undefined;
    this.beginWriteBudgets(APPLY_RULES_VERSION);
    try {
      if (command.type === 'tx') {
        // A failing precondition is what apply answers first (409): left to it.
        if (command.if.some((p) => this.preconditionFailure(p) !== undefined)) return undefined;
        command.ops.forEach((op, i) => {
          try {
            if (op.type === 'insert' || op.type === 'replace') this.checkModelOp(op);
          } catch (e) {
            throw withPrefix(e, `transaction op ${i}: `);
          }
        });
      } else if (command.type === 'insert' || command.type === 'replace' || command.type === 'update') {
        this.checkModelOp(command);
      }
      return undefined;
    } catch (e) {
      // An update over WRITE_DOCS_CHANGED_MAX is refused by apply whatever its documents: no
      // entry for it either. Anything else (a malformed command, a conflict) is left to
      // validation and apply.
      if (e instanceof TooManyToChangeError) return e;
      return e instanceof StoreError && e.code === 'VALIDATION_FAILED' ? e : undefined;
    }
  }

  /**
   * The VALIDATION_FAILED error applying `update` to `doc` (a document of `collection` as it
   * is now, or was at a read point) would end with because the result fails the collection's
   * model, or undefined (no model, a valid result, no change, or another error, which apply
   * answers). Read-only: what the pre-check of an update by filter runs per matching document
   * (src/server/update-precheck.ts), in slices, where this method is one document's work.
   */
  updateModelFailure(collection: string, doc: Document, update: UpdateSpec): StoreError | undefined {
    if (!this.modelsByName.has(collection)) return undefined;
    try {
      this.updatedDocument(collection, doc, update, this.applied + 1);
      return undefined;
    } catch (e) {
      return e instanceof StoreError && e.code === 'VALIDATION_FAILED' ? e : undefined;
    }
  }

  /** The VALIDATION_FAILED error the document an upsert creates (when nothing matches) would
   * fail its collection's model with, or undefined; read-only, like updateModelFailure. */
  upsertModelFailure(op: UpdateCommand): StoreError | undefined {
    if (!this.modelsByName.has(op.collection)) return undefined;
    try {
      this.upsertedDocument(op, this.applied + 1);
      return undefined;
    } catch (e) {
      return e instanceof StoreError && e.code === 'VALIDATION_FAILED' ? e : undefined;
    }
  }

  /** Whether every precondition of a transaction holds now (apply answers 409 first when one
   * does not, so a pre-check of its documents is then moot). */
  preconditionsHold(preconditions: readonly Precondition[]): boolean {
    this.beginWriteBudgets(APPLY_RULES_VERSION);
    try {
      return preconditions.every((p) => this.preconditionFailure(p) === undefined);
    } catch (e) {
      if (e instanceof StoreError) return false; // a malformed precondition: apply refuses it
      throw e;
    }
  }

  /** Builds the documents `op` would write, as apply does, and throws what apply would. */
  private checkModelOp(op: InsertCommand | ReplaceCommand | UpdateCommand): void {
    if (!this.modelsByName.has(op.collection)) return;
    const index = this.applied + 1;
    switch (op.type) {
      case 'insert':
        op.docs.forEach((doc, i) => {
          try {
            this.stored(op.collection, doc, index);
          } catch (e) {
            throw op.docs.length > 1 ? withPrefix(e, `docs.${i}: `) : e;
          }
        });
        return;
      case 'replace': {
        // Apply answers a failed If-Match (412) or a missing document (404) before validating.
        const cur = this.storedDoc(op.collection, op.id);
        if (op.ifRev !== undefined && (cur?._rev ?? 0) !== op.ifRev) return;
        if (cur === undefined && !op.upsert) return;
        this.stored(op.collection, { ...op.doc, _id: op.id }, index);
        return;
      }
      case 'update': {
        const matches = this.matching(op.collection, op.filter, op.multi);
        if (matches.length === 0) {
          if (op.upsert && (op.ifRev === undefined || op.ifRev === 0)) this.upsertedDocument(op, index);
          return;
        }
        if (op.ifRev !== undefined && matches[0]!._rev !== op.ifRev) return; // 412 at apply
        // Apply refuses it whatever its documents: no need to build them (in one piece).
        if (matches.length > WRITE_DOCS_CHANGED_MAX) throw tooManyToChange(matches.length);
        for (const doc of matches) this.updatedDocument(op.collection, doc, op.update, index);
        return;
      }
    }
  }

  /**
   * Documents of a TTL collection expired at `nowMs` (`_id` and `_rev`), earliest expiry first
   * (then `_id`), at most `max` (and TTL_EXPIRED_DOCS_MAX): what the leader's sweep removes
   * (src/node/ttl-sweeper.ts). Read off the collection's order of expiry (store/ttl-order.ts):
   * O(log n + returned), whatever the collection's size and where the documents sort by `_id`.
   */
  expiredDocuments(collection: string, nowMs: number, max: number): { _id: string; _rev: number }[] {
    const coll = this.colls.get(collection);
    const order = coll?.expiry;
    if (coll === undefined || order === undefined) return [];
    return order.expired(nowMs, Math.min(max, TTL_EXPIRED_DOCS_MAX)).map((id) => {
      const doc = coll.docs.get(id);
      if (doc === undefined) assert(false, `expiry order of "${collection}": "${id}" is not a document`);
      return { _id: doc._id, _rev: doc._rev };
    });
  }

  /** Whether documents of the collection expire (a model's `ttlField` or a TTL index): its
   * reads then leave out expired documents that its writes still match until the sweep. */
  expires(collection: string): boolean {
    return this.ttlRules(collection) !== undefined;
  }

  /** Collections whose documents expire (a model's `ttlField` or a TTL index), sorted: what
   * the leader's sweep looks at. */
  ttlCollections(): string[] {
    return this.collections().filter((name) => this.ttlRules(name) !== undefined);
  }

  /** When documents of the collection expire: its model's `ttlField` and its TTL indexes
   * (`expireAfterSeconds`), or undefined when they never do. */
  private ttlRules(collection: string): readonly TtlRule[] | undefined {
    let rules: TtlRule[] | undefined;
    const ttlField = this.modelsByName.get(collection)?.options.ttlField;
    if (ttlField !== undefined) rules = [{ field: ttlField, afterMs: 0 }];
    for (const index of this.colls.get(collection)?.indexes ?? []) {
      const after = index.spec.expireAfterSeconds;
      if (after !== undefined) (rules ??= []).push({ field: index.spec.fields[0]![0], afterMs: after * 1000 });
    }
    return rules;
  }

  /** A document's versions, oldest first ([] without `trackHistory`). */
  documentHistory(collection: string, id: string): readonly RaftEvent[] {
    return this.history.versions(collection, id, this.modelsByName.get(collection)?.options.history, this.logTimeMs);
  }

  /** The history record in force at `at`, under the same retention as documentHistory()
   * (undefined: nothing yet, or that record is no longer kept). A `Deleted` record has no data. */
  historyAsOf(collection: string, id: string, at: AsOf): RaftEvent | undefined {
    return this.history.asOf(collection, id, at, this.modelsByName.get(collection)?.options.history, this.logTimeMs);
  }

  /** The document as it was at `at` (undefined: absent then, or no history kept that far back). */
  getAsOf(collection: string, id: string, at: AsOf): Document | undefined {
    return this.historyAsOf(collection, id, at)?.data as Document | undefined;
  }

  /** The audit chain of a collection, oldest record first. */
  auditRecords(collection: string): AuditRecord[] {
    return this.audits.get(collection)?.kept() ?? [];
  }

  verifyAudit(collection: string): AuditVerification {
    return this.audits.get(collection)?.verify() ?? { ok: true, checked: 0, head: { hash: AUDIT_GENESIS_HASH } };
  }

  // -------------------------------------------------------------------------
  // Reads

  /** The stored (frozen) document, or undefined (also when its collection's `ttlField` or a TTL index says it
   * expired by this node's clock, though the sweep has not removed it yet). */
  get(collection: string, id: string): Document | undefined {
    const doc = this.colls.get(collection)?.docs.get(id);
    if (doc === undefined) return undefined;
    const rules = this.ttlRules(collection);
    return rules !== undefined && isExpiredByRules(doc, rules, this.readClockMs()) ? undefined : doc;
  }

  /** The stored document, expired or not: what a write's preconditions see (applied state). */
  private storedDoc(collection: string, id: string): Document | undefined {
    return this.colls.get(collection)?.docs.get(id);
  }

  /** The compiled filter of a read: without documents expired by this node's clock in a TTL collection. */
  private readFilter(collection: string, compiled: CompiledFilter): CompiledFilter {
    const rules = this.ttlRules(collection);
    return rules === undefined ? compiled : withoutExpired(compiled, rules, this.readClockMs());
  }

  /** Matching documents ordered by options.sort then _id. With a projection, partial copies. */
  find(collection: string, filter?: Filter, options?: FindOptions & { projection?: undefined }): Document[];
  find(collection: string, filter: Filter | undefined, options: FindOptions): JsonObject[];
  find(collection: string, filter: Filter = {}, options: FindOptions = {}): Document[] | JsonObject[] {
    return this.run(collection, filter, options).docs;
  }

  findOne(collection: string, filter?: Filter, options?: FindOptions & { projection?: undefined }): Document | undefined;
  findOne(collection: string, filter: Filter | undefined, options: FindOptions): JsonObject | undefined;
  findOne(collection: string, filter: Filter = {}, options: FindOptions = {}): Document | JsonObject | undefined {
    return this.run(collection, filter, { ...options, limit: 1 }).docs[0];
  }

  /**
   * One keyset page (store/page.ts): the first `limit` matches after `after` (a position from
   * pageStart) in the order of options.sort then _id, and the cursor of the next page when
   * this one is full. The embedded API's findPage; the server runs the same walks in slices.
   */
  findPage(
    collection: string,
    filter: Filter,
    options: FindOptions,
    after: CursorPosition | undefined,
  ): { docs: Document[] | JsonObject[]; next: string | undefined } {
    validateCollectionName(collection);
    validateFindOptions(options);
    if (options.skip !== undefined) throw new BadRequestError('skip: a page starts after a cursor, not at an offset');
    const compiled = this.readFilter(collection, this.filters.get(filter));
    const { docs, next } = runPage(this.colls.get(collection), compiled, normalizeSort(options.sort), options.limit ?? 0, after);
    if (options.projection === undefined || Object.keys(options.projection).length === 0) return { docs, next };
    return { docs: this.projector.find(docs, options.projection).all() as JsonObject[], next };
  }

  count(collection: string, filter: Filter = {}): number {
    validateCollectionName(collection);
    const plain = this.filters.get(filter);
    // All the documents of a collection whose documents expire: all but the expired ones not
    // yet swept, counted off the order of expiry (what the sweep has not removed yet), not by
    // testing every document against the clock.
    const coll = this.colls.get(collection);
    if (plain.matchAll && coll?.expiry !== undefined) return coll.size - coll.expiry.expiredCount(this.readClockMs());
    const compiled = this.readFilter(collection, plain);
    if (compiled.matchAll) return this.colls.get(collection)?.size ?? 0;
    return executeQuery(this.colls.get(collection), compiled, { sortKeys: [], skip: 0, limit: 0, countOnly: true }).docs.length;
  }

  /** count() inside a write: its scan is bounded as a write's (WRITE_SCAN_DOCS_MAX). */
  private countForWrite(collection: string, filter: Filter): number {
    const compiled = this.filters.get(filter);
    if (compiled.matchAll) return this.colls.get(collection)?.size ?? 0;
    return this.examineForWrite(collection, filter, { sortKeys: [], skip: 0, limit: 0, countOnly: true }).length;
  }

  /**
   * What a read run in slices (src/server/sliced-query.ts) starts from: the compiled filter
   * and the collection as it is when `coll()` is called. The collection is live (the next
   * apply changes it): take what the read needs from it in one piece, before yielding; the
   * documents themselves are frozen and replaced on change, so references to them stay as
   * they were.
   */
  readTarget(collection: string, filter: Filter): { coll: () => Collection | undefined; compiled: CompiledFilter } {
    validateCollectionName(collection);
    return { coll: () => this.colls.get(collection), compiled: this.readFilter(collection, this.filters.get(filter)) };
  }

  /** readTarget, with a wide filter not yet cached compiled in slices (FilterCache.getSliced):
   * for the server's sliced reads (src/server/sliced-query.ts). */
  async readTargetSliced(
    collection: string,
    filter: Filter,
    slicer: { due(): boolean; next(): Promise<void> },
  ): Promise<{ coll: () => Collection | undefined; compiled: CompiledFilter }> {
    validateCollectionName(collection);
    const compiled = this.readFilter(collection, await this.filters.getSliced(filter, slicer));
    return { coll: () => this.colls.get(collection), compiled };
  }

  /** Runs the query and reports how. */
  explain(collection: string, filter: Filter = {}, options: FindOptions = {}): Explain {
    return this.run(collection, filter, options).explain;
  }

  private run(collection: string, filter: Filter, options: FindOptions): { docs: Document[] | JsonObject[]; explain: Explain } {
    validateCollectionName(collection);
    validateFindOptions(options);
    const compiled = this.readFilter(collection, this.filters.get(filter));
    const { docs, explain } = executeQuery(this.colls.get(collection), compiled, {
      sortKeys: normalizeSort(options.sort),
      skip: options.skip ?? 0,
      limit: options.limit ?? 0,
    });
    if (options.projection === undefined || Object.keys(options.projection).length === 0) return { docs, explain };
    const projected = this.projector.find(docs, options.projection).all() as JsonObject[];
    return { docs: projected, explain };
  }

  indexes(collection: string): IndexSpec[] {
    return this.colls.get(collection)?.indexes.map((i) => i.spec) ?? [];
  }

  /** Collection names, sorted. */
  collections(): string[] {
    return [...this.colls.keys()].sort();
  }

  // -------------------------------------------------------------------------
  // Snapshots

  encodeSnapshot(): Uint8Array {
    return encodeSnapshotData(this.captureSnapshot());
  }

  /**
   * The state as of now (lastApplied), holding references to the immutable documents:
   * O(documents) to take, and it stays as it is while the store goes on applying commands.
   * Encode it at once with encodeSnapshotData, or in parts with snapshotParts.
   */
  captureSnapshot(): SnapshotData {
    const auth = this.auth.toSnapshot();
    // Version 1 has no users: an older binary refuses a snapshot that has some rather than
    // dropping them (and with them, authentication) silently. Likewise version 3 for the
    // session table and the log clock (sessions.ts).
    const sessions = this.sessions.logTimeMs > 0 || this.sessions.size > 0 ? this.sessions.toSnapshot() : undefined;
    // Version 4 once there are models or records of them: an older binary refuses it.
    const v4 = this.modelsByName.size > 0 || this.history.size > 0 || this.audits.size > 0;
    const version = v4
      ? SNAPSHOT_VERSION_WITH_MODELS
      : sessions !== undefined
        ? SNAPSHOT_VERSION_WITH_SESSIONS
        : auth === undefined
          ? SNAPSHOT_VERSION
          : SNAPSHOT_VERSION_WITH_AUTH;
    return {
      format: SNAPSHOT_FORMAT,
      version,
      lastApplied: this.applied,
      ...(auth !== undefined ? { auth } : {}),
      ...(sessions !== undefined ? { sessions } : {}),
      ...(v4
        ? {
            models: this.models(),
            history: this.history.records(),
            audit: [...this.audits.keys()].sort().map((name) => this.audits.get(name)!.toSnapshot()),
          }
        : {}),
      collections: this.collections().map((name) => {
        const coll = this.colls.get(name)!;
        return { name, indexes: coll.indexes.map((i) => i.spec), docs: coll.byId.values() };
      }),
    };
  }

  static restoreSnapshot(bytes: Uint8Array, limits?: Partial<Limits>, sessionBounds?: SessionBounds): Store {
    const data = decodeSnapshotData(bytes);
    const store = new Store(limits, sessionBounds);
    for (const c of data.collections) {
      const coll = new Collection(c.name);
      const docs: Document[] = new Array<Document>(c.docs.length);
      for (let i = 0; i < c.docs.length; i++) {
        const raw = c.docs[i]!;
        const rev = (raw as { _rev?: unknown })._rev;
        if (!Number.isSafeInteger(rev) || (rev as number) < 1 || (rev as number) > data.lastApplied) {
          throw new Error(`invalid snapshot: document _rev ${String(rev)} in "${c.name}"`);
        }
        const id = (raw as { _id?: unknown })._id;
        if (typeof id !== 'string' || id.length === 0) throw new Error(`invalid snapshot: document without a string _id in "${c.name}"`);
        // The snapshot was written from validated documents (and the log layer
        // checksums it), so restore only freezes: re-validating 1M documents
        // would double the catch-up time.
        docs[i] = deepFreeze(raw) as Document;
      }
      coll.load(docs); // checks strictly ascending _ids
      for (const spec of c.indexes) {
        const fields = spec.fields.map(([p, d]) => [p, d] as [string, 1 | -1]);
        const after = spec.expireAfterSeconds;
        if (after !== undefined && (!Number.isSafeInteger(after) || after < 0 || after > EXPIRE_AFTER_SECONDS_MAX || fields.length !== 1)) {
          throw new Error(`invalid snapshot: index "${spec.name}" of "${c.name}" has expireAfterSeconds ${String(after)}`);
        }
        const frozen: IndexSpec = Object.freeze({
          name: spec.name,
          fields: Object.freeze(fields) as IndexSpec['fields'],
          unique: spec.unique,
          ...(after !== undefined ? { expireAfterSeconds: after } : {}),
        });
        const index = new SecondaryIndex(frozen);
        index.build(docs); // the collection's, in _id order
        coll.indexes.push(index);
      }
      store.colls.set(c.name, coll);
    }
    if (data.auth !== undefined) store.auth.load(data.auth);
    if (data.sessions !== undefined) {
      for (const record of data.sessions.records) deepFreeze(record);
      store.sessions.load(data.sessions);
    }
    for (const model of data.models ?? []) store.modelsByName.set(model.collection, new CompiledModel(deepFreeze(model) as StoredModel));
    // The orders of expiry are derived state, not in the snapshot: built from the rules and documents.
    for (const [name, coll] of store.colls) coll.setExpiryRules(store.ttlRules(name));
    if (data.history !== undefined) store.history.load(data.history.map((e) => deepFreeze(e) as RaftEvent));
    for (const chain of data.audit ?? []) {
      for (const r of chain.records) deepFreeze(r);
      store.audits.set(chain.collection, AuditChain.fromSnapshot(chain));
    }
    store.applied = data.lastApplied;
    return store;
  }
}
