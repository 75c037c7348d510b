// An in-memory B+tree: an ordered map with O(log n) get/set/delete and range
// iteration in both directions. Values live in leaves; leaves are linked both
// ways so a range scan walks leaf to leaf without climbing the tree.
//
// Given a second comparator (`tie`), the tree is an ordered set of (key, value)
// pairs instead: entries are ordered by key, then by value, and one key may hold
// many values. A secondary index is such a tree of (field values, _id): the two
// live in the leaves' parallel arrays, with no [values..., _id] array per entry
// (1,000,000 of those cost a restore about 0.2 s per index, and 32 bytes each).
//
// Invariants (checked by checkInvariants() in tests):
// - every leaf is at the same depth;
// - every node except the root holds between MIN and MAX entries (children for
//   internal nodes, keys for leaves);
// - internal node entry i (keys[i], with vals[i] when the tree has a tie order)
//   separates children[i] (entries below it) from children[i+1] (entries at or
//   above it).
import { assert } from '../assert.ts';

export type Comparator<K> = (a: K, b: K) => number;

const MAX = 64;
const MIN = MAX >> 1;

class Leaf<K, V> {
  readonly leaf = true;
  keys: K[] = [];
  values: V[] = [];
  next: Leaf<K, V> | null = null;
  prev: Leaf<K, V> | null = null;
}

class Internal<K, V> {
  readonly leaf = false;
  keys: K[] = [];
  /** The separators' values when the tree orders by them too (a tie order); else undefined,
   * so that the separators of a map keep no removed entry's value (a document) alive. A pair
   * tree's separators may keep a removed pair's value, as they keep its key. Always as long
   * as keys. */
  vals: Array<V | undefined> = [];
  children: Array<Node<K, V>> = [];
}

type Node<K, V> = Leaf<K, V> | Internal<K, V>;

/** Node sizes for n entries, each within [MIN, MAX] (n > MAX). */
function fillSizes(n: number): number[] {
  const target = MAX - (MAX >> 3);
  const count = Math.ceil(n / target);
  const sizes: number[] = [];
  for (let i = 0; i < count; i++) sizes.push(Math.floor((n * (i + 1)) / count) - Math.floor((n * i) / count));
  return sizes;
}

function nodeSize<K, V>(node: Node<K, V>): number {
  return node.leaf ? node.keys.length : node.children.length;
}

/** A separator pushed up by a split: the right node's first entry, and the node. */
type Split<K, V> = readonly [K, V | undefined, Node<K, V>];

export class BTree<K, V> {
  private root: Node<K, V> = new Leaf<K, V>();
  private count = 0;

  /** `tie`: order entries of equal keys by their values, and hold each (key, value) pair once,
   * rather than one value per key. */
  constructor(
    private readonly cmp: Comparator<K>,
    private readonly tie?: Comparator<V>,
  ) {}

  get size(): number {
    return this.count;
  }

  /** The order of entries (k, v) and (key, value): by key, then (tie order) by value. */
  private order(k: K, v: V | undefined, key: K, value: V | undefined): number {
    const c = this.cmp(k, key);
    return c !== 0 || this.tie === undefined ? c : this.tie(v as V, value as V);
  }

  /** A tree of pairs finds an entry by its key and value: the value must be given. */
  private assertValueGiven(operation: string, value: V | undefined): void {
    assert(this.tie === undefined || value !== undefined, `btree.${operation} on a tree of pairs needs the value`);
  }

  /** What a separator keeps of an entry's value: all of it under a tie order, else nothing. */
  private separatorValue(value: V): V | undefined {
    return this.tie === undefined ? undefined : value;
  }

  /** Index of the first entry > (key, value) (the child to descend into). */
  private upperBound(keys: K[], vals: ReadonlyArray<V | undefined>, key: K, value: V | undefined): number {
    let hi = keys.length;
    // Time-ordered ids and growing index keys land past the last key: one comparison.
    if (hi === 0 || this.order(keys[hi - 1]!, vals[hi - 1], key, value) <= 0) return hi;
    let lo = 0;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.order(keys[mid]!, vals[mid], key, value) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the first entry >= (key, value). */
  private lowerBound(keys: K[], vals: ReadonlyArray<V | undefined>, key: K, value: V | undefined): number {
    let hi = keys.length;
    if (hi === 0 || this.order(keys[hi - 1]!, vals[hi - 1], key, value) < 0) return hi;
    let lo = 0;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.order(keys[mid]!, vals[mid], key, value) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private leafFor(key: K, value: V | undefined): Leaf<K, V> {
    let node = this.root;
    while (!node.leaf) node = node.children[this.upperBound(node.keys, node.vals, key, value)]!;
    return node;
  }

  /** The value of `key` (a tree without a tie order: one value per key). */
  get(key: K): V | undefined {
    assert(this.tie === undefined, 'btree.get on a tree of (key, value) pairs');
    const leaf = this.leafFor(key, undefined);
    const i = this.lowerBound(leaf.keys, leaf.values, key, undefined);
    if (i < leaf.keys.length && this.cmp(leaf.keys[i]!, key) === 0) return leaf.values[i];
    return undefined;
  }

  /** Whether `key` is held (with a tie order: the pair (key, value)). */
  has(key: K, value?: V): boolean {
    this.assertValueGiven('has', value);
    const leaf = this.leafFor(key, value);
    const i = this.lowerBound(leaf.keys, leaf.values, key, value);
    return i < leaf.keys.length && this.order(leaf.keys[i]!, leaf.values[i], key, value) === 0;
  }

  /** True when `key` sorts after every key held (an append), read off the right spine. */
  isAfterLast(key: K): boolean {
    const leaf = this.lastLeaf();
    const n = leaf.keys.length;
    return n === 0 || this.cmp(leaf.keys[n - 1]!, key) < 0;
  }

  /** Inserts or replaces; returns true when the key was new. With a tie order: adds the pair
   * (key, value); true when it was not held. */
  set(key: K, value: V): boolean {
    this.assertValueGiven('set', value);
    const before = this.count;
    const split = this.insert(this.root, key, value);
    if (split !== null) {
      const root = new Internal<K, V>();
      root.keys = [split[0]];
      root.vals = [split[1]];
      root.children = [this.root, split[2]];
      this.root = root;
    }
    return this.count > before;
  }

  private insert(node: Node<K, V>, key: K, value: V): Split<K, V> | null {
    if (node.leaf) {
      const i = this.lowerBound(node.keys, node.values, key, value);
      if (i < node.keys.length && this.order(node.keys[i]!, node.values[i], key, value) === 0) {
        node.values[i] = value;
        return null;
      }
      if (i === node.keys.length) {
        // Appending (time-ordered ids): push, which is cheaper than splice.
        node.keys.push(key);
        node.values.push(value);
      } else {
        node.keys.splice(i, 0, key);
        node.values.splice(i, 0, value);
      }
      this.count++;
      if (node.keys.length <= MAX) return null;
      const half = node.keys.length >> 1;
      const right = new Leaf<K, V>();
      right.keys = node.keys.splice(half);
      right.values = node.values.splice(half);
      right.next = node.next;
      if (right.next !== null) right.next.prev = right;
      right.prev = node;
      node.next = right;
      return [right.keys[0]!, this.separatorValue(right.values[0]!), right];
    }
    const ci = this.upperBound(node.keys, node.vals, key, value);
    const split = this.insert(node.children[ci]!, key, value);
    if (split === null) return null;
    node.keys.splice(ci, 0, split[0]);
    node.vals.splice(ci, 0, split[1]);
    node.children.splice(ci + 1, 0, split[2]);
    if (node.children.length <= MAX) return null;
    const mid = node.children.length >> 1;
    const right = new Internal<K, V>();
    right.children = node.children.splice(mid);
    right.keys = node.keys.splice(mid);
    right.vals = node.vals.splice(mid);
    const sep = node.keys.pop()!;
    const sepValue = node.vals.pop();
    return [sep, sepValue, right];
  }

  /** Removes the key (with a tie order: the pair (key, value)); returns true when it was present. */
  delete(key: K, value?: V): boolean {
    this.assertValueGiven('delete', value);
    const found = this.remove(this.root, key, value);
    if (!this.root.leaf && this.root.children.length === 1) this.root = this.root.children[0]!;
    return found;
  }

  private remove(node: Node<K, V>, key: K, value: V | undefined): boolean {
    if (node.leaf) {
      const i = this.lowerBound(node.keys, node.values, key, value);
      if (i >= node.keys.length || this.order(node.keys[i]!, node.values[i], key, value) !== 0) return false;
      node.keys.splice(i, 1);
      node.values.splice(i, 1);
      this.count--;
      return true;
    }
    const ci = this.upperBound(node.keys, node.vals, key, value);
    const child = node.children[ci]!;
    const found = this.remove(child, key, value);
    if (found && nodeSize(child) < MIN) this.rebalance(node, ci);
    return found;
  }

  private rebalance(parent: Internal<K, V>, ci: number): void {
    const child = parent.children[ci]!;
    const left = ci > 0 ? parent.children[ci - 1]! : null;
    const right = ci + 1 < parent.children.length ? parent.children[ci + 1]! : null;
    if (left !== null && nodeSize(left) > MIN) {
      if (child.leaf && left.leaf) {
        child.keys.unshift(left.keys.pop()!);
        child.values.unshift(left.values.pop()!);
        parent.keys[ci - 1] = child.keys[0]!;
        parent.vals[ci - 1] = this.separatorValue(child.values[0]!);
      } else if (!child.leaf && !left.leaf) {
        child.keys.unshift(parent.keys[ci - 1]!);
        child.vals.unshift(parent.vals[ci - 1]);
        child.children.unshift(left.children.pop()!);
        parent.keys[ci - 1] = left.keys.pop()!;
        parent.vals[ci - 1] = left.vals.pop();
      }
      return;
    }
    if (right !== null && nodeSize(right) > MIN) {
      if (child.leaf && right.leaf) {
        child.keys.push(right.keys.shift()!);
        child.values.push(right.values.shift()!);
        parent.keys[ci] = right.keys[0]!;
        parent.vals[ci] = this.separatorValue(right.values[0]!);
      } else if (!child.leaf && !right.leaf) {
        child.keys.push(parent.keys[ci]!);
        child.vals.push(parent.vals[ci]);
        child.children.push(right.children.shift()!);
        parent.keys[ci] = right.keys.shift()!;
        parent.vals[ci] = right.vals.shift();
      }
      return;
    }
    if (left !== null) this.merge(parent, ci - 1);
    else if (right !== null) this.merge(parent, ci);
  }

  /** Merges children[i+1] into children[i]. */
  private merge(parent: Internal<K, V>, i: number): void {
    const a = parent.children[i]!;
    const b = parent.children[i + 1]!;
    if (a.leaf && b.leaf) {
      a.keys.push(...b.keys);
      a.values.push(...b.values);
      a.next = b.next;
      if (b.next !== null) b.next.prev = a;
    } else if (!a.leaf && !b.leaf) {
      a.keys.push(parent.keys[i]!, ...b.keys);
      a.vals.push(parent.vals[i], ...b.vals);
      a.children.push(...b.children);
    } else {
      assert(false, 'btree: siblings at different depths');
    }
    parent.keys.splice(i, 1);
    parent.vals.splice(i, 1);
    parent.children.splice(i + 1, 1);
  }

  /**
   * Replaces the contents with keys (strictly ascending, checked; with a tie order: the
   * entries (keys[i], values[i])) and values, building the tree bottom-up in O(n): for
   * restoring snapshots and building indexes without n separate inserts.
   */
  load(keys: K[], values: V[], order: 'check' | 'sorted-by-caller' = 'check'): void {
    assert(keys.length === values.length, 'btree.load: keys and values differ in length');
    // Not an assertion: a restored snapshot's _ids are checked here (input from disk). A
    // caller that sorted the keys itself (an index build) vouches for them instead.
    if (order === 'check') {
      for (let i = 1; i < keys.length; i++) {
        if (this.order(keys[i - 1]!, values[i - 1], keys[i]!, values[i]) >= 0) throw new Error('btree.load: keys not strictly ascending');
      }
    }
    this.count = keys.length;
    if (keys.length <= MAX) {
      const leaf = new Leaf<K, V>();
      leaf.keys = keys.slice();
      leaf.values = values.slice();
      this.root = leaf;
      return;
    }
    let level: Array<Node<K, V>> = [];
    let mins: K[] = [];
    let minVals: Array<V | undefined> = [];
    let prev: Leaf<K, V> | null = null;
    let at = 0;
    for (const size of fillSizes(keys.length)) {
      const leaf = new Leaf<K, V>();
      leaf.keys = keys.slice(at, at + size);
      leaf.values = values.slice(at, at + size);
      leaf.prev = prev;
      if (prev !== null) prev.next = leaf;
      prev = leaf;
      level.push(leaf);
      mins.push(keys[at]!);
      minVals.push(this.separatorValue(values[at]!));
      at += size;
    }
    while (level.length > 1) {
      const up: Array<Node<K, V>> = [];
      const upMins: K[] = [];
      const upMinVals: Array<V | undefined> = [];
      let i = 0;
      for (const size of level.length <= MAX ? [level.length] : fillSizes(level.length)) {
        const node = new Internal<K, V>();
        node.children = level.slice(i, i + size);
        node.keys = mins.slice(i + 1, i + size);
        node.vals = minVals.slice(i + 1, i + size);
        up.push(node);
        upMins.push(mins[i]!);
        upMinVals.push(minVals[i]);
        i += size;
      }
      level = up;
      mins = upMins;
      minVals = upMinVals;
    }
    this.root = level[0]!;
  }

  clear(): void {
    this.root = new Leaf<K, V>();
    this.count = 0;
  }

  /**
   * Visits entries with lo <= key <= hi (either bound may be undefined: open),
   * ascending, or descending when reverse. The visitor returns false to stop.
   * The tree must not be modified during the scan. With a tie order the bounds are
   * the entries (lo, loValue) and (hi, hiValue), each value given with its key.
   */
  scan(lo: K | undefined, hi: K | undefined, reverse: boolean, visit: (key: K, value: V) => boolean | void, loValue?: V, hiValue?: V): void {
    assert(
      this.tie === undefined || ((lo === undefined || loValue !== undefined) && (hi === undefined || hiValue !== undefined)),
      'btree.scan on a tree of pairs: a bound needs its value',
    );
    if (!reverse) {
      let leaf: Leaf<K, V> | null;
      let i: number;
      if (lo === undefined) {
        leaf = this.firstLeaf();
        i = 0;
      } else {
        leaf = this.leafFor(lo, loValue);
        i = this.lowerBound(leaf.keys, leaf.values, lo, loValue);
      }
      while (leaf !== null) {
        const keys = leaf.keys;
        const values = leaf.values;
        for (; i < keys.length; i++) {
          const k = keys[i]!;
          if (hi !== undefined && this.order(k, values[i], hi, hiValue) > 0) return;
          if (visit(k, values[i]!) === false) return;
        }
        leaf = leaf.next;
        i = 0;
      }
      return;
    }
    let leaf: Leaf<K, V> | null;
    let i: number;
    if (hi === undefined) {
      leaf = this.lastLeaf();
      i = leaf.keys.length - 1;
    } else {
      leaf = this.leafFor(hi, hiValue);
      i = this.upperBound(leaf.keys, leaf.values, hi, hiValue) - 1;
    }
    while (leaf !== null) {
      const keys = leaf.keys;
      const values = leaf.values;
      for (; i >= 0; i--) {
        const k = keys[i]!;
        if (lo !== undefined && this.order(k, values[i], lo, loValue) < 0) return;
        if (visit(k, values[i]!) === false) return;
      }
      leaf = leaf.prev;
      if (leaf !== null) i = leaf.keys.length - 1;
    }
  }

  /** Convenience iterator over all entries (or a range), for tests and snapshots. */
  entries(lo?: K, hi?: K, reverse = false): Array<[K, V]> {
    const out: Array<[K, V]> = [];
    this.scan(lo, hi, reverse, (k, v) => {
      out.push([k, v]);
    });
    return out;
  }

  /** Every value in key order, in one array (leaf by leaf: no pair per entry, unlike entries()). */
  values(): V[] {
    const out = new Array<V>(this.count);
    let at = 0;
    for (let leaf: Leaf<K, V> | null = this.firstLeaf(); leaf !== null; leaf = leaf.next) {
      for (const v of leaf.values) out[at++] = v;
    }
    assert(at === this.count, 'btree.values: leaves hold a different count');
    return out;
  }

  /** Levels from the root to the leaves, both counted (a lone leaf: 1). */
  depth(): number {
    let levels = 1;
    for (let node = this.root; !node.leaf; node = node.children[0]!) levels++;
    return levels;
  }

  private firstLeaf(): Leaf<K, V> {
    let node = this.root;
    while (!node.leaf) node = node.children[0]!;
    return node;
  }

  private lastLeaf(): Leaf<K, V> {
    let node = this.root;
    while (!node.leaf) node = node.children[node.children.length - 1]!;
    return node;
  }

  /** Throws InvariantError if a structural invariant is broken. For tests: it walks the whole tree. */
  checkInvariants(): void {
    let leafDepth = -1;
    let counted = 0;
    type Bound = { readonly key: K; readonly value: V | undefined } | undefined;
    const walk = (node: Node<K, V>, depth: number, lo: Bound, hi: Bound): void => {
      const isRoot = node === this.root;
      if (!isRoot && nodeSize(node) < MIN) assert(false, `btree: underfull node (${nodeSize(node)})`);
      assert(nodeSize(node) <= MAX, 'btree: overfull node');
      const vals: ReadonlyArray<V | undefined> = node.leaf ? node.values : node.vals;
      assert(vals.length === node.keys.length, 'btree: key/value count mismatch');
      if (!node.leaf && this.tie === undefined)
        assert(
          vals.every((v) => v === undefined),
          'btree: a separator holds a value',
        );
      if (this.tie !== undefined)
        assert(
          vals.every((v) => v !== undefined),
          'btree: an entry of a tree of pairs without its value',
        );
      for (let i = 1; i < node.keys.length; i++) {
        assert(this.order(node.keys[i - 1]!, vals[i - 1], node.keys[i]!, vals[i]) < 0, 'btree: keys out of order');
      }
      for (let i = 0; i < node.keys.length; i++) {
        assert(lo === undefined || this.order(node.keys[i]!, vals[i], lo.key, lo.value) >= 0, 'btree: key below separator');
        assert(hi === undefined || this.order(node.keys[i]!, vals[i], hi.key, hi.value) < 0, 'btree: key above separator');
      }
      if (node.leaf) {
        if (leafDepth === -1) leafDepth = depth;
        assert(leafDepth === depth, 'btree: leaves at different depths');
        counted += node.keys.length;
        return;
      }
      assert(node.keys.length === node.children.length - 1, 'btree: key/child count mismatch');
      const separator = (i: number): Bound => ({ key: node.keys[i]!, value: node.vals[i] });
      for (let i = 0; i < node.children.length; i++) {
        walk(node.children[i]!, depth + 1, i === 0 ? lo : separator(i - 1), i === node.keys.length ? hi : separator(i));
      }
    };
    walk(this.root, 0, undefined, undefined);
    if (counted !== this.count) assert(false, `btree: size ${this.count} but ${counted} keys`);
    // The leaf chain must visit every key in order, both ways.
    const forward = this.entries();
    const backward = this.entries(undefined, undefined, true);
    assert(forward.length === this.count && backward.length === this.count, 'btree: broken leaf chain');
  }
}
