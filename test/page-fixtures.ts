// What the embedded and the client keyset-page tests share: the documents, the walk from the
// first page to the last, and the expected orders. Each test brings its own findPage.
import assert from 'node:assert/strict';

const N = 25;
export const LIMIT = 10;
const id = (i: number): string => `d${String(i).padStart(2, '0')}`;
/** rank: 8 values, so ties straddle page boundaries; score: unindexed, unique. */
export const DOCS = Array.from({ length: N }, (_, i) => ({ _id: id(i), rank: i % 8, score: (i * 7) % N }));

interface PageLike {
  readonly docs: ReadonlyArray<{ readonly _id: string }>;
  readonly next?: string;
}

/** Pages until the last one: `findPage(cursor)` reads one (no cursor: the first);
 * `between(n, page)` runs after page n (writes between pages). */
export async function walkPages<P extends PageLike>(
  findPage: (cursor: string | undefined) => P | Promise<P>,
  limit: number,
  between: (n: number, page: P) => Promise<void> = async () => {},
): Promise<P[]> {
  const pages: P[] = [];
  let cursor: string | undefined;
  for (let n = 0; n < 20; n++) {
    const page = await findPage(cursor);
    pages.push(page);
    if (page.next === undefined) return pages;
    assert.equal(page.docs.length, limit, 'a page with a next is full');
    await between(n, page);
    cursor = page.next;
  }
  throw new Error('more than 20 pages');
}

export const idsOf = (pages: readonly PageLike[]): string[] => pages.flatMap((p) => p.docs.map((d) => d._id));

/** The order of `sort: { rank: dir }`, ties by _id ascending. */
export function byRank(dir: 1 | -1): (a: { _id: string; rank: number }, b: { _id: string; rank: number }) => number {
  return (a, b) => (a.rank - b.rank) * dir || (a._id < b._id ? -1 : a._id > b._id ? 1 : 0);
}
