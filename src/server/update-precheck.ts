// The pre-check of updates by filter (`POST /api/:collection/_update`, a PATCH, a transaction's
// update ops) against their collection's model, before anything is proposed (issue #14): an
// update that would make a document invalid is refused with VALIDATION_FAILED naming every
// failing document, path and rule, and costs no log entry. model-precheck.ts decides when a
// failure is trusted (again at a linearizable read point); this file finds the failures.
//
// The documents an update would change are found as a read finds them (sliced-query.ts: in
// slices that take turns on the event loop, over a consistent view of the collection at or
// after the read barrier), then the update is run on each, and the result validated, in
// slices too: no pre-check holds the loop for more than READ_SLICE_MS at a time.
//
// Bounded: at most UPDATE_PRECHECK_DOCS_MAX documents, the most one write may change
// (WRITE_DOCS_CHANGED_MAX). An update matching more is refused here as apply would refuse it,
// with no log entry; apply, bounded by WRITE_SCAN_DOCS_MAX and WRITE_DOCS_CHANGED_MAX, is the
// check that decides (the documents may change before it).
//
// Races: the documents are those of one moment P (the view's) and the model's version is read
// before the documents are taken and after they are checked: when it changed meanwhile, the
// check says nothing (apply decides). Otherwise the model in force at P is the one used, so a
// failure is what applying the update at P would answer. A transaction's update op is checked
// only when no earlier op of the transaction writes its collection (what it matches at apply
// depends on them), and only when the transaction's preconditions hold now. In a collection
// whose documents expire, only updates of many documents without upsert are checked (reads
// leave out expired documents that apply still updates until the sweep removes them).
import { tooManyToChange, WRITE_DOCS_CHANGED_MAX, type Command, type UpdateCommand } from '../store/commands.ts';
import { StoreError } from '../store/errors.ts';
import { writeExaminedMax } from '../store/query-exec.ts';
import type { Store } from '../store/store.ts';
import type { Document } from '../store/types.ts';
import { RequestSlicer } from './loop-turns.ts';
import { findSliced } from './sliced-query.ts';

/** Documents one update's pre-check runs the update on and validates, at most (each ~10 µs to
 * ~100 µs: 0.1 s of work at most, in slices): as many as one write may change. */
export const UPDATE_PRECHECK_DOCS_MAX = WRITE_DOCS_CHANGED_MAX;
/** Failing documents one refusal names, at most (the count says how many failed in all). */
export const UPDATE_PRECHECK_FAILURES_LISTED_MAX = 100;

/** A slicer that has waited for its first turn, made the first time a pre-check needs one
 * (writes to collections without a model never wait). */
class LazySlicer {
  private slicer: RequestSlicer | undefined;
  async get(): Promise<RequestSlicer> {
    if (this.slicer === undefined) {
      this.slicer = new RequestSlicer();
      await this.slicer.next();
    }
    return this.slicer;
  }
}

/**
 * The VALIDATION_FAILED error applying `command` to `store`'s state would end with because an
 * update by filter makes a document fail its model, or undefined (valid, unknown, or past the
 * bound). Commands without updates by filter: undefined (model-precheck.ts checks the rest).
 */
export async function updateFailure(store: Store, command: Command): Promise<StoreError | undefined> {
  const lazy = new LazySlicer();
  if (command.type === 'update') return opFailure(store, command, lazy);
  if (command.type !== 'tx') return undefined;
  if (!command.ops.some((op) => op.type === 'update' && store.model(op.collection) !== undefined)) return undefined;
  if (!store.preconditionsHold(command.if)) return undefined;
  const written = new Set<string>();
  for (const [i, op] of command.ops.entries()) {
    const failure = op.type === 'update' && !written.has(op.collection) ? await opFailure(store, op, lazy) : undefined;
    if (failure !== undefined) return new StoreError(failure.code, `transaction op ${i}: ${failure.message}`);
    written.add(op.collection);
  }
  return undefined;
}

async function opFailure(store: Store, op: UpdateCommand, lazy: LazySlicer): Promise<StoreError | undefined> {
  const version = store.model(op.collection)?.version;
  if (version === undefined) return undefined;
  // Reads leave out expired documents that apply still matches until the sweep removes them:
  // the documents read are then a part of those apply updates. Every failure found among them
  // is one apply meets too (multi), but which document comes first (one) or whether none
  // matches (upsert) may differ: those are left to apply.
  if (store.expires(op.collection) && (!op.multi || op.upsert)) return undefined;
  const slicer = await lazy.get();
  let docs: readonly Document[];
  try {
    const limit = op.multi ? UPDATE_PRECHECK_DOCS_MAX + 1 : 1;
    const found = await findSliced(store, op.collection, op.filter, { limit }, slicer);
    // A write that examines more is refused by apply with VALIDATION, whatever its documents.
    if (found.explain.docsExamined > writeExaminedMax(op.filter)) return undefined;
    docs = found.docs as Document[];
  } catch (e) {
    if (e instanceof StoreError && e.code !== 'TOO_MANY_REQUESTS') return undefined; // apply answers it
    throw e;
  }
  // Apply refuses it whatever its documents (a transaction's other ops only add to the count).
  if (docs.length > UPDATE_PRECHECK_DOCS_MAX) return tooManyToChange(docs.length, true);
  const failures: StoreError[] = [];
  if (docs.length === 0) {
    const failure = op.upsert && (op.ifRev === undefined || op.ifRev === 0) ? store.upsertModelFailure(op) : undefined;
    if (failure !== undefined) failures.push(failure);
  } else if (op.ifRev === undefined || docs[0]!._rev === op.ifRev) {
    // The read learnt to look at the clock every few thousand cheap units; one document's
    // check costs ~100 times more.
    slicer.repace();
    for (const doc of docs) {
      if (slicer.due()) await slicer.next();
      const failure = store.updateModelFailure(op.collection, doc, op.update);
      if (failure !== undefined) failures.push(failure);
    }
  }
  if (failures.length === 0 || store.model(op.collection)?.version !== version) return undefined;
  return refusal(op.collection, failures);
}

/** One error naming every failing document (each message names its id, paths and rules,
 * separated by "; "; documents are separated by " | "). */
function refusal(collection: string, failures: readonly StoreError[]): StoreError {
  if (failures.length === 1) return failures[0]!;
  const listed = failures.slice(0, UPDATE_PRECHECK_FAILURES_LISTED_MAX).map((f) => f.message);
  const more = failures.length - listed.length;
  const tail = more > 0 ? ` | and ${more} more (UPDATE_PRECHECK_FAILURES_LISTED_MAX, ${UPDATE_PRECHECK_FAILURES_LISTED_MAX})` : '';
  return new StoreError(
    'VALIDATION_FAILED',
    `the update would make ${failures.length} documents of "${collection}" fail its schema: ${listed.join(' | ')}${tail}`,
  );
}
