// Validation of whole commands, which may arrive from the network or the log: their shape,
// collection and index names, and (optionally) the documents they carry.

import { ValidationError } from './errors.ts';
import {
  ANSWERED_THROUGH_RULES,
  APPLY_RULES_VERSION,
  NewerApplyRulesError,
  MAX_BATCH_DOCS,
  MAX_TX_OPS,
  MAX_BATCH_OPS,
  MAX_TX_PRECONDITIONS,
  type Command,
} from './commands.ts';
import { validateIndexFields } from './index-fields.ts';
import { DEFAULT_LIMITS, type Limits } from './types.ts';
import { CheckedStrings, fail, isPlainObject, joinPath } from './validate-common.ts';
import { validateAuthCommand } from './validate-auth-command.ts';
import { validateDocument, validateId } from './validate-document.ts';
import { validateFilter } from './validate-filter.ts';
import { validateUpdate } from './validate-update.ts';
import { validateModelDefinition } from './schema.ts';
import { validateExpireAfter } from './ttl.ts';
import { IDEMPOTENCY_DIGEST_CHARS_MAX, IDEMPOTENCY_KEY, IDEMPOTENCY_USER_CHARS_MAX, clientKeySeq } from './sessions.ts';

export const MAX_COLLECTION_NAME_LENGTH = 128;

const COLLECTION_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const GOOD_COLLECTION_NAMES = new CheckedStrings();

export function validateCollectionName(name: unknown, path = 'collection'): asserts name is string {
  if (typeof name === 'string' && GOOD_COLLECTION_NAMES.has(name)) return;
  if (typeof name !== 'string' || name.length === 0) fail(path, 'collection name must be a non-empty string');
  if (name.length > MAX_COLLECTION_NAME_LENGTH) fail(path, `collection name longer than ${MAX_COLLECTION_NAME_LENGTH}`);
  if (!COLLECTION_NAME.test(name)) {
    fail(path, `invalid collection name "${name}" (letters, digits, "_", "-", "." and not starting with "_", "-" or ".")`);
  }
  GOOD_COLLECTION_NAMES.add(name);
}

export function validateIndexName(name: unknown, path = 'name'): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 256) fail(path, 'index name must be a string of 1 to 256 characters');
  if (name.indexOf('\0') !== -1 || name.charCodeAt(0) === 36) fail(path, 'index name may not contain NUL or start with "$"');
}

function validateRevNumber(v: unknown, path: string): void {
  if (!Number.isSafeInteger(v) || (v as number) < 0) fail(path, 'must be a non-negative integer');
}

function validateBool(v: unknown, path: string): void {
  if (typeof v !== 'boolean') fail(path, 'must be a boolean');
}

/** Fields of the entry rather than of the command (validateEnvelope says where they may be). */
const ENVELOPE_KEYS: ReadonlySet<string> = new Set(['timeMs', 'nodeId', 'rules', 'idempotency', 'user']);
const KEYED_TYPES: ReadonlySet<unknown> = new Set([
  'insert',
  'update',
  'replace',
  'remove',
  'tx',
  'createIndex',
  'dropIndex',
  'dropCollection',
  'setSchema',
  'dropSchema',
]);

function allowedKeys(obj: Record<string, unknown>, keys: readonly string[], path: string): void {
  for (const k of Object.keys(obj)) if (!keys.includes(k) && !ENVELOPE_KEYS.has(k)) fail(joinPath(path, k), 'unknown command field');
}

/** Where a command sits: the top of an entry, an op of a transaction, or an op of a batch. */
type Place = 'top' | 'tx' | 'batch';

/** Commands that name no user of their own (ProposedFor): an `auth` command names it in `by`,
 * a batch on each of its inserts; a noop is the leader's own. */
const UNUSERED_TYPES: ReadonlySet<unknown> = new Set(['auth', 'batch', 'noop']);

/** `timeMs` only at the top of an entry; an idempotency tag at the top of a keyed command,
 * or on an insert of a batch (each op is its own write), never inside a transaction; the
 * user (ProposedFor) where a tag may be, and at the top of a schema command. */
function validateEnvelope(cmd: Record<string, unknown>, path: string, place: Place, entryRules: number): void {
  const timeMs = cmd['timeMs'];
  if (timeMs !== undefined) {
    if (place !== 'top') fail(joinPath(path, 'timeMs'), 'only the entry itself carries a time');
    if (!Number.isSafeInteger(timeMs) || (timeMs as number) < 0) fail(joinPath(path, 'timeMs'), 'must be a non-negative integer');
  }
  const nodeId = cmd['nodeId'];
  if (nodeId !== undefined) {
    if (place !== 'top') fail(joinPath(path, 'nodeId'), 'only the entry itself names its leader');
    if (!Number.isSafeInteger(nodeId) || (nodeId as number) < 1) fail(joinPath(path, 'nodeId'), 'must be a positive integer');
  }
  const rules = cmd['rules'];
  if (rules !== undefined) {
    if (place !== 'top') fail(joinPath(path, 'rules'), 'only the entry itself names its apply rules');
    if (!Number.isSafeInteger(rules) || (rules as number) < 1)
      fail(joinPath(path, 'rules'), `must be an integer from 1 to ${APPLY_RULES_VERSION} (this binary's apply rules)`);
    if ((rules as number) > APPLY_RULES_VERSION) {
      throw new NewerApplyRulesError(
        `${joinPath(path, 'rules')}: must be an integer from 1 to ${APPLY_RULES_VERSION} (this binary's apply rules); ${String(rules)} is a newer binary's`,
      );
    }
  }
  const user = cmd['user'];
  if (user !== undefined) validateProposedFor(cmd, user, joinPath(path, 'user'), place);
  const tag = cmd['idempotency'];
  if (tag === undefined) return;
  const at = joinPath(path, 'idempotency');
  if (place === 'tx') fail(at, 'an op of a transaction has no key of its own (the transaction may)');
  if (!KEYED_TYPES.has(cmd['type'])) fail(at, `a ${String(cmd['type'])} command takes no idempotency key`);
  if (!isPlainObject(tag)) fail(at, 'must be an object {key, digest, user?, answeredThrough?}');
  for (const k of Object.keys(tag)) {
    // answeredThrough exists from apply rules 4: a binary of rules 3 refuses it (unknown field).
    const known = k === 'key' || k === 'digest' || k === 'user' || (k === 'answeredThrough' && entryRules >= ANSWERED_THROUGH_RULES);
    if (!known) fail(joinPath(at, k), 'unknown field');
  }
  if (typeof tag['key'] !== 'string' || !IDEMPOTENCY_KEY.test(tag['key'])) fail(joinPath(at, 'key'), 'must be 1 to 128 of A-Z a-z 0-9 . _ : -');
  const through = tag['answeredThrough'];
  if (through !== undefined) {
    const seq = clientKeySeq(tag['key']);
    if (seq === undefined) fail(joinPath(at, 'answeredThrough'), "needs a key of the client library's form <clientId>.<seq>");
    if (!Number.isSafeInteger(through) || (through as number) < 1 || (through as number) >= seq) {
      fail(joinPath(at, 'answeredThrough'), `must be an integer from 1 to the key's sequence number less one (${seq - 1})`);
    }
  }
  const digest = tag['digest'];
  if (typeof digest !== 'string' || digest.length === 0 || digest.length > IDEMPOTENCY_DIGEST_CHARS_MAX) {
    fail(joinPath(at, 'digest'), `must be a string of 1 to ${IDEMPOTENCY_DIGEST_CHARS_MAX} characters`);
  }
  const tagUser = tag['user'];
  if (tagUser !== undefined && (typeof tagUser !== 'string' || tagUser.length === 0 || tagUser.length > IDEMPOTENCY_USER_CHARS_MAX)) {
    fail(joinPath(at, 'user'), `must be a string of 1 to ${IDEMPOTENCY_USER_CHARS_MAX} characters`);
  }
}

/** The user a write was proposed for (ProposedFor): the entry's, or a batch insert's own. */
function validateProposedFor(cmd: Record<string, unknown>, user: unknown, at: string, place: Place): void {
  if (place === 'tx') fail(at, 'an op of a transaction names no user of its own (the entry does)');
  if (UNUSERED_TYPES.has(cmd['type'])) fail(at, `a command of type ${String(cmd['type'])} names no user`);
  if (typeof user !== 'string' || user.length === 0 || user.length > IDEMPOTENCY_USER_CHARS_MAX) {
    fail(at, `must be a string of 1 to ${IDEMPOTENCY_USER_CHARS_MAX} characters`);
  }
}

export interface CommandValidationOptions {
  /** Validate document contents too (apply skips this: it validates while copying). */
  documents?: boolean;
  limits?: Limits;
  /** An op of a batch, checked on its own (it may carry a key, not a time); default: an entry. */
  inBatch?: boolean;
  /** The apply rules of the entry (EntryStamp.rules; an op of a batch does not carry them);
   * default: the entry's own `rules`, else this binary's (a proposal not yet stamped). */
  rules?: number;
}

/**
 * Shape check for a command from the network or the log. With
 * `documents: true` (the default) documents are fully validated as well.
 */
export function validateCommand(cmd: unknown, options: CommandValidationOptions = {}): asserts cmd is Command {
  const stamped = isPlainObject(cmd) && Number.isSafeInteger(cmd['rules']) ? (cmd['rules'] as number) : undefined;
  validateCommandAt(
    cmd,
    {
      path: 'command',
      documents: options.documents ?? true,
      limits: options.limits ?? DEFAULT_LIMITS,
      rules: options.rules ?? stamped ?? APPLY_RULES_VERSION,
    },
    options.inBatch === true ? 'batch' : 'top',
  );
}

/** Where a command is and how deep to look: the same for a command and the ops it holds. */
interface At {
  readonly path: string;
  readonly documents: boolean;
  readonly limits: Limits;
  /** The entry's apply rules: what its envelopes may carry. */
  readonly rules: number;
}

function validateCommandAt(cmd: unknown, at: At, place: Place): void {
  const { path } = at;
  if (!isPlainObject(cmd)) fail(path, 'a command must be a plain object');
  const type = cmd['type'];
  validateEnvelope(cmd, path, place, at.rules);
  if (place === 'tx' && type !== 'insert' && type !== 'update' && type !== 'replace' && type !== 'remove') {
    fail(joinPath(path, 'type'), `a transaction op must be insert, update, replace or remove, not ${String(type)}`);
  }
  switch (type) {
    case 'insert':
      return validateInsert(cmd, at);
    case 'update':
      return validateUpdateCommand(cmd, path);
    case 'replace':
      return validateReplace(cmd, at);
    case 'remove':
      return validateRemove(cmd, path);
    case 'tx':
      return validateTx(cmd, at);
    case 'batch':
      return validateBatch(cmd, at);
    case 'createIndex':
    case 'dropIndex':
    case 'dropCollection':
      return validateSchemaCommand(type, cmd, path);
    case 'setSchema':
      allowedKeys(cmd, ['type', 'collection', 'schema', 'options', 'force'], path);
      validateCollectionName(cmd['collection'], joinPath(path, 'collection'));
      validateBool(cmd['force'], joinPath(path, 'force'));
      return validateModelDefinition(cmd['schema'], cmd['options'], path);
    case 'dropSchema':
      allowedKeys(cmd, ['type', 'collection'], path);
      return validateCollectionName(cmd['collection'], joinPath(path, 'collection'));
    case 'auth': {
      // Its own validator knows nothing of the entry's envelope (time, leader, apply rules).
      if (cmd['timeMs'] === undefined && cmd['nodeId'] === undefined && cmd['rules'] === undefined) return validateAuthCommand(cmd, path);
      const { timeMs: _timeMs, nodeId: _nodeId, rules: _rules, ...command } = cmd;
      return validateAuthCommand(command, path);
    }
    case 'noop':
      return allowedKeys(cmd, ['type'], path);
    default:
      fail(joinPath(path, 'type'), `unknown command type ${JSON.stringify(type) ?? String(type)}`);
  }
}

function validateInsert(cmd: Record<string, unknown>, { path, documents, limits }: At): void {
  allowedKeys(cmd, ['type', 'collection', 'docs'], path);
  validateCollectionName(cmd['collection'], joinPath(path, 'collection'));
  const docs = cmd['docs'];
  const docsPath = joinPath(path, 'docs');
  if (!Array.isArray(docs) || docs.length === 0) fail(docsPath, 'must be a non-empty array of documents');
  if (docs.length > MAX_BATCH_DOCS) fail(docsPath, `at most ${MAX_BATCH_DOCS} documents per insert`);
  // Without `documents`, the documents are left to whoever copies them (the store
  // validates each while copying it): checking them here too would do it twice.
  if (!documents) return;
  for (let i = 0; i < docs.length; i++) {
    const d: unknown = docs[i];
    const docPath = joinPath(docsPath, i);
    if (!isPlainObject(d)) fail(docPath, 'a document must be a plain object');
    validateId(d['_id'], joinPath(docPath, '_id'));
    try {
      validateDocument(d, limits);
    } catch (e) {
      if (e instanceof ValidationError) fail(docPath, e.message);
      throw e;
    }
  }
}

function validateUpdateCommand(cmd: Record<string, unknown>, path: string): void {
  allowedKeys(cmd, ['type', 'collection', 'filter', 'update', 'multi', 'upsert', 'upsertId', 'ifRev'], path);
  validateCollectionName(cmd['collection'], joinPath(path, 'collection'));
  validateFilter(cmd['filter'], joinPath(path, 'filter'));
  validateUpdate(cmd['update'], joinPath(path, 'update'));
  validateBool(cmd['multi'], joinPath(path, 'multi'));
  validateBool(cmd['upsert'], joinPath(path, 'upsert'));
  if (cmd['upsertId'] !== undefined) validateId(cmd['upsertId'], joinPath(path, 'upsertId'));
  if (cmd['ifRev'] !== undefined) {
    validateRevNumber(cmd['ifRev'], joinPath(path, 'ifRev'));
    if (cmd['multi'] === true) fail(joinPath(path, 'ifRev'), 'ifRev applies to single-document updates only');
  }
}

function validateReplace(cmd: Record<string, unknown>, { path, documents, limits }: At): void {
  allowedKeys(cmd, ['type', 'collection', 'id', 'doc', 'ifRev', 'upsert'], path);
  validateCollectionName(cmd['collection'], joinPath(path, 'collection'));
  validateId(cmd['id'], joinPath(path, 'id'));
  const doc = cmd['doc'];
  if (!isPlainObject(doc)) fail(joinPath(path, 'doc'), 'a document must be a plain object');
  if (doc['_id'] !== undefined && doc['_id'] !== cmd['id']) fail(joinPath(joinPath(path, 'doc'), '_id'), 'must equal the id being replaced');
  if (documents) validateDocument({ ...doc, _id: cmd['id'] }, limits);
  if (cmd['ifRev'] !== undefined) validateRevNumber(cmd['ifRev'], joinPath(path, 'ifRev'));
  validateBool(cmd['upsert'], joinPath(path, 'upsert'));
}

function validateRemove(cmd: Record<string, unknown>, path: string): void {
  allowedKeys(cmd, ['type', 'collection', 'filter', 'multi', 'ifRev'], path);
  validateCollectionName(cmd['collection'], joinPath(path, 'collection'));
  validateFilter(cmd['filter'], joinPath(path, 'filter'));
  validateBool(cmd['multi'], joinPath(path, 'multi'));
  if (cmd['ifRev'] !== undefined) {
    validateRevNumber(cmd['ifRev'], joinPath(path, 'ifRev'));
    if (cmd['multi'] === true) fail(joinPath(path, 'ifRev'), 'ifRev applies to single-document removes only');
  }
}

function validateTx(cmd: Record<string, unknown>, at: At): void {
  const { path } = at;
  allowedKeys(cmd, ['type', 'ops', 'if'], path);
  const ops = cmd['ops'];
  const pre = cmd['if'];
  if (!Array.isArray(ops)) fail(joinPath(path, 'ops'), 'must be an array of operations');
  if (ops.length > MAX_TX_OPS) fail(joinPath(path, 'ops'), `at most ${MAX_TX_OPS} operations per transaction`);
  if (!Array.isArray(pre)) fail(joinPath(path, 'if'), 'must be an array of preconditions');
  if (pre.length > MAX_TX_PRECONDITIONS) fail(joinPath(path, 'if'), `at most ${MAX_TX_PRECONDITIONS} preconditions`);
  ops.forEach((op: unknown, i) => validateCommandAt(op, { ...at, path: joinPath(joinPath(path, 'ops'), i) }, 'tx'));
  pre.forEach((p: unknown, i) => validatePrecondition(p, joinPath(joinPath(path, 'if'), i)));
}

function validateBatch(cmd: Record<string, unknown>, at: At): void {
  const { path } = at;
  allowedKeys(cmd, ['type', 'ops'], path);
  const ops = cmd['ops'];
  if (!Array.isArray(ops) || ops.length === 0) fail(joinPath(path, 'ops'), 'must be a non-empty array of insert commands');
  if (ops.length > MAX_BATCH_OPS) fail(joinPath(path, 'ops'), `at most ${MAX_BATCH_OPS} commands per batch`);
  for (let i = 0; i < ops.length; i++) {
    const op: unknown = ops[i];
    const opPath = joinPath(joinPath(path, 'ops'), i);
    if (!isPlainObject(op) || op['type'] !== 'insert') fail(opPath, 'a batch holds insert commands only');
    // Applying a batch checks each op on its own (a bad op fails alone), so the shape
    // check of the envelope stops here; a full check (documents) covers the ops too.
    if (at.documents) validateCommandAt(op, { ...at, path: opPath }, 'batch');
  }
}

/** createIndex, dropIndex, dropCollection. */
function validateSchemaCommand(type: 'createIndex' | 'dropIndex' | 'dropCollection', cmd: Record<string, unknown>, path: string): void {
  switch (type) {
    case 'createIndex':
      allowedKeys(cmd, ['type', 'collection', 'fields', 'unique', 'name', 'expireAfterSeconds'], path);
      validateCollectionName(cmd['collection'], joinPath(path, 'collection'));
      validateIndexFields(cmd['fields'], joinPath(path, 'fields'));
      validateBool(cmd['unique'], joinPath(path, 'unique'));
      if (cmd['name'] !== undefined) validateIndexName(cmd['name'], joinPath(path, 'name'));
      if (cmd['expireAfterSeconds'] !== undefined) validateExpireAfter(cmd['expireAfterSeconds'], cmd['fields'] as unknown[], path);
      return;
    case 'dropIndex':
      allowedKeys(cmd, ['type', 'collection', 'name'], path);
      validateCollectionName(cmd['collection'], joinPath(path, 'collection'));
      validateIndexName(cmd['name'], joinPath(path, 'name'));
      return;
    case 'dropCollection':
      allowedKeys(cmd, ['type', 'collection'], path);
      validateCollectionName(cmd['collection'], joinPath(path, 'collection'));
      return;
  }
}

function validatePrecondition(p: unknown, path: string): void {
  if (!isPlainObject(p)) fail(path, 'a precondition must be an object');
  validateCollectionName(p['collection'], joinPath(path, 'collection'));
  if ('rev' in p) {
    allowedKeys(p, ['collection', 'id', 'rev'], path);
    validateId(p['id'], joinPath(path, 'id'));
    validateRevNumber(p['rev'], joinPath(path, 'rev'));
  } else if ('exists' in p) {
    allowedKeys(p, ['collection', 'id', 'exists'], path);
    validateId(p['id'], joinPath(path, 'id'));
    validateBool(p['exists'], joinPath(path, 'exists'));
  } else if ('count' in p) {
    allowedKeys(p, ['collection', 'filter', 'count'], path);
    validateFilter(p['filter'], joinPath(path, 'filter'));
    validateRevNumber(p['count'], joinPath(path, 'count'));
  } else {
    fail(path, 'a precondition has rev, exists or count');
  }
}
