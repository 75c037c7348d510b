// The documents of a collection with TTL rules in order of expiry: a B+tree of
// (expiry ms, _id) pairs, one per document that has an expiry by the rules (store/ttl.ts,
// expiryByRulesMs: the earliest of the model's `ttlField` and every TTL index). The
// collection keeps it on every write (its rollbacks are writes too); the store builds it
// anew when the rules change and when a snapshot is loaded. Derived state, never in a
// snapshot. What the leader's sweep asks for is the start of the tree: the work is
// O(log n) plus the documents returned, whatever the collection's size and `_id` order.

import { assert } from '../assert.ts';
import { BTree } from './btree.ts';
import { compareStrings } from './key-order.ts';
import { expiryByRulesMs, type TtlRule } from './ttl.ts';
import type { Document } from './types.ts';

type ExpiryKey = readonly [atMs: number, id: string];

function compareMs(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareExpiryKeys(a: ExpiryKey, b: ExpiryKey): number {
  return compareMs(a[0], b[0]) || compareStrings(a[1], b[1]);
}

/** Whether two lists of rules are the same, in the same order. */
export function sameTtlRules(a: readonly TtlRule[], b: readonly TtlRule[]): boolean {
  return a.length === b.length && a.every((rule, i) => rule.field === b[i]!.field && rule.afterMs === b[i]!.afterMs);
}

export class ExpiryOrder {
  /** Expiry ms, then _id: the pairs in the leaves' parallel arrays (no array per entry). */
  private readonly tree = new BTree<number, string>(compareMs, compareStrings);

  /** The order of `docs` (every document of the collection) by `rules`. */
  constructor(
    readonly rules: readonly TtlRule[],
    docs: Iterable<Document>,
  ) {
    const keys: ExpiryKey[] = [];
    for (const doc of docs) {
      const at = expiryByRulesMs(doc, rules);
      if (at !== undefined) keys.push([at, doc._id]);
    }
    keys.sort(compareExpiryKeys);
    this.tree.load(
      keys.map(([at]) => at),
      keys.map(([, id]) => id),
    );
  }

  /** Documents that have an expiry. */
  get size(): number {
    return this.tree.size;
  }

  /** Called by the collection for every write of `id`: `oldDoc` its document until now,
   * `newDoc` the one it gets (undefined: absent). Never throws on a valid state. */
  noteWrite(id: string, oldDoc: Document | undefined, newDoc: Document | undefined): void {
    const before = oldDoc === undefined ? undefined : expiryByRulesMs(oldDoc, this.rules);
    const after = newDoc === undefined ? undefined : expiryByRulesMs(newDoc, this.rules);
    if (before === after) return;
    if (before !== undefined && !this.tree.delete(before, id)) assert(false, `expiry order: no entry for "${id}" at ${before}`);
    if (after !== undefined && !this.tree.set(after, id)) assert(false, `expiry order: "${id}" at ${after} twice`);
  }

  /** How many documents expired at or before `nowMs`: looks at that many entries plus one. */
  expiredCount(nowMs: number): number {
    let n = 0;
    this.tree.scan(undefined, undefined, false, (atMs) => {
      if (!(atMs <= nowMs)) return false;
      n++;
      return true;
    });
    return n;
  }

  /** The `_id`s of documents whose expiry is at or before `nowMs`, earliest first (then by
   * `_id`), at most `max`: looks at `max` + 1 entries at most. */
  expired(nowMs: number, max: number): string[] {
    const out: string[] = [];
    if (!(max >= 1)) return out;
    this.tree.scan(undefined, undefined, false, (atMs, id) => {
      // As isExpiredByRules: at <= nowMs (a NaN `nowMs` expires nothing).
      if (!(atMs <= nowMs)) return false;
      out.push(id);
      return out.length < max;
    });
    return out;
  }
}
