// An in-memory B+tree: an ordered map with O(log n) get/set/delete and range
// iteration in both directions. Values live in leaves; leaves are linked both
// ways so a range scan walks leaf to leaf without climbing the tree.
//
// Invariants (checked by checkInvariants() in tests):
// - every leaf is at the same depth;
// - every node except the root holds between MIN and MAX entries (children for
//   internal nodes, keys for leaves);
// - internal node keys[i] separates children[i] (keys < keys[i]) from
//   children[i+1] (keys >= keys[i]).
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

export class BTree<K, V> {
  private root: Node<K, V> = new Leaf<K, V>();
  private count = 0;

  constructor(private readonly cmp: Comparator<K>) {}

  get size(): number {
    return this.count;
  }

  /** Index of the first key > key (the child to descend into). */
  private upperBound(keys: K[], key: K): number {
    let hi = keys.length;
    // Time-ordered ids and growing index keys land past the last key: one comparison.
    if (hi === 0 || this.cmp(keys[hi - 1]!, key) <= 0) return hi;
    let lo = 0;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cmp(keys[mid]!, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the first key >= key. */
  private lowerBound(keys: K[], key: K): number {
    let hi = keys.length;
    if (hi === 0 || this.cmp(keys[hi - 1]!, key) < 0) return hi;
    let lo = 0;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cmp(keys[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private leafFor(key: K): Leaf<K, V> {
    let node = this.root;
    while (!node.leaf) node = node.children[this.upperBound(node.keys, key)]!;
    return node;
  }

  get(key: K): V | undefined {
    const leaf = this.leafFor(key);
    const i = this.lowerBound(leaf.keys, key);
    if (i < leaf.keys.length && this.cmp(leaf.keys[i]!, key) === 0) return leaf.values[i];
    return undefined;
  }

  has(key: K): boolean {
    const leaf = this.leafFor(key);
    const i = this.lowerBound(leaf.keys, key);
    return i < leaf.keys.length && this.cmp(leaf.keys[i]!, key) === 0;
  }

  /** True when `key` sorts after every key held (an append), read off the right spine. */
  isAfterLast(key: K): boolean {
    const leaf = this.lastLeaf();
    const n = leaf.keys.length;
    return n === 0 || this.cmp(leaf.keys[n - 1]!, key) < 0;
  }

  /** Inserts or replaces; returns true when the key was new. */
  set(key: K, value: V): boolean {
    const before = this.count;
    const split = this.insert(this.root, key, value);
    if (split !== null) {
      const root = new Internal<K, V>();
      root.keys = [split[0]];
      root.children = [this.root, split[1]];
      this.root = root;
    }
    return this.count > before;
  }

  private insert(node: Node<K, V>, key: K, value: V): [K, Node<K, V>] | null {
    if (node.leaf) {
      const i = this.lowerBound(node.keys, key);
      if (i < node.keys.length && this.cmp(node.keys[i]!, key) === 0) {
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
      return [right.keys[0]!, right];
    }
    const ci = this.upperBound(node.keys, key);
    const split = this.insert(node.children[ci]!, key, value);
    if (split === null) return null;
    node.keys.splice(ci, 0, split[0]);
    node.children.splice(ci + 1, 0, split[1]);
    if (node.children.length <= MAX) return null;
    const mid = node.children.length >> 1;
    const right = new Internal<K, V>();
    right.children = node.children.splice(mid);
    right.keys = node.keys.splice(mid);
    const sep = node.keys.pop()!;
    return [sep, right];
  }

  /** Removes the key; returns true when it was present. */
  delete(key: K): boolean {
    const found = this.remove(this.root, key);
    if (!this.root.leaf && this.root.children.length === 1) this.root = this.root.children[0]!;
    return found;
  }

  private remove(node: Node<K, V>, key: K): boolean {
    if (node.leaf) {
      const i = this.lowerBound(node.keys, key);
      if (i >= node.keys.length || this.cmp(node.keys[i]!, key) !== 0) return false;
      node.keys.splice(i, 1);
      node.values.splice(i, 1);
      this.count--;
      return true;
    }
    const ci = this.upperBound(node.keys, key);
    const child = node.children[ci]!;
    const found = this.remove(child, key);
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
      } else if (!child.leaf && !left.leaf) {
        child.keys.unshift(parent.keys[ci - 1]!);
        child.children.unshift(left.children.pop()!);
        parent.keys[ci - 1] = left.keys.pop()!;
      }
      return;
    }
    if (right !== null && nodeSize(right) > MIN) {
      if (child.leaf && right.leaf) {
        child.keys.push(right.keys.shift()!);
        child.values.push(right.values.shift()!);
        parent.keys[ci] = right.keys[0]!;
      } else if (!child.leaf && !right.leaf) {
        child.keys.push(parent.keys[ci]!);
        child.children.push(right.children.shift()!);
        parent.keys[ci] = right.keys.shift()!;
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
      a.children.push(...b.children);
    } else {
      assert(false, 'btree: siblings at different depths');
    }
    parent.keys.splice(i, 1);
    parent.children.splice(i + 1, 1);
  }

  /**
   * Replaces the contents with keys (strictly ascending, checked) and values,
   * building the tree bottom-up in O(n): for restoring snapshots and building
   * indexes without n separate inserts.
   */
  load(keys: K[], values: V[], order: 'check' | 'sorted-by-caller' = 'check'): void {
    assert(keys.length === values.length, 'btree.load: keys and values differ in length');
    // Not an assertion: a restored snapshot's _ids are checked here (input from disk). A
    // caller that sorted the keys itself (an index build) vouches for them instead.
    if (order === 'check') {
      for (let i = 1; i < keys.length; i++) {
        if (this.cmp(keys[i - 1]!, keys[i]!) >= 0) throw new Error('btree.load: keys not strictly ascending');
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
      at += size;
    }
    while (level.length > 1) {
      const up: Array<Node<K, V>> = [];
      const upMins: K[] = [];
      let i = 0;
      for (const size of level.length <= MAX ? [level.length] : fillSizes(level.length)) {
        const node = new Internal<K, V>();
        node.children = level.slice(i, i + size);
        node.keys = mins.slice(i + 1, i + size);
        up.push(node);
        upMins.push(mins[i]!);
        i += size;
      }
      level = up;
      mins = upMins;
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
   * The tree must not be modified during the scan.
   */
  scan(lo: K | undefined, hi: K | undefined, reverse: boolean, visit: (key: K, value: V) => boolean | void): void {
    if (!reverse) {
      let leaf: Leaf<K, V> | null;
      let i: number;
      if (lo === undefined) {
        leaf = this.firstLeaf();
        i = 0;
      } else {
        leaf = this.leafFor(lo);
        i = this.lowerBound(leaf.keys, lo);
      }
      while (leaf !== null) {
        const keys = leaf.keys;
        for (; i < keys.length; i++) {
          const k = keys[i]!;
          if (hi !== undefined && this.cmp(k, hi) > 0) return;
          if (visit(k, leaf.values[i]!) === false) return;
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
      leaf = this.leafFor(hi);
      i = this.upperBound(leaf.keys, hi) - 1;
    }
    while (leaf !== null) {
      const keys = leaf.keys;
      for (; i >= 0; i--) {
        const k = keys[i]!;
        if (lo !== undefined && this.cmp(k, lo) < 0) return;
        if (visit(k, leaf.values[i]!) === false) return;
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
    const walk = (node: Node<K, V>, depth: number, lo: K | undefined, hi: K | undefined): void => {
      const isRoot = node === this.root;
      if (!isRoot && nodeSize(node) < MIN) assert(false, `btree: underfull node (${nodeSize(node)})`);
      assert(nodeSize(node) <= MAX, 'btree: overfull node');
      for (let i = 1; i < node.keys.length; i++) {
        assert(this.cmp(node.keys[i - 1]!, node.keys[i]!) < 0, 'btree: keys out of order');
      }
      for (const k of node.keys) {
        assert(lo === undefined || this.cmp(k, lo) >= 0, 'btree: key below separator');
        assert(hi === undefined || this.cmp(k, hi) < 0, 'btree: key above separator');
      }
      if (node.leaf) {
        if (leafDepth === -1) leafDepth = depth;
        assert(leafDepth === depth, 'btree: leaves at different depths');
        counted += node.keys.length;
        return;
      }
      assert(node.keys.length === node.children.length - 1, 'btree: key/child count mismatch');
      for (let i = 0; i < node.children.length; i++) {
        walk(node.children[i]!, depth + 1, i === 0 ? lo : node.keys[i - 1], i === node.keys.length ? hi : node.keys[i]);
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
