// Inputs shared by the store's tests and the client's (test/client/same-as-embedded.test.ts),
// so that both paths are checked against one list.
import { ID_BYTES_MAX } from '../../src/store/id-limit.ts';

/** Each accepted shape and the fields it means. Shared with the client test. */
export const INDEX_FIELD_FORMS: ReadonlyArray<readonly [string, unknown, Array<[string, 1 | -1]>]> = [
  ['a path', 'price', [['price', 1]]],
  ['a dotted path', 'meta.level', [['meta.level', 1]]],
  [
    'a list of paths',
    ['a', 'b.c'],
    [
      ['a', 1],
      ['b.c', 1],
    ],
  ],
  ['an object spec', { price: 1 }, [['price', 1]]],
  ['a descending object spec', { price: -1 }, [['price', -1]]],
  [
    'a compound object spec (key order)',
    { b: 1, a: -1 },
    [
      ['b', 1],
      ['a', -1],
    ],
  ],
  [
    'pairs',
    [
      ['a', 1],
      ['b', -1],
    ],
    [
      ['a', 1],
      ['b', -1],
    ],
  ],
  ['a descending pair', [['price', -1]], [['price', -1]]],
  [
    'paths and pairs mixed',
    ['a', ['b', -1]],
    [
      ['a', 1],
      ['b', -1],
    ],
  ],
];

/** Each refused shape and the message it gets. Shared with the client test. */
export const BAD_INDEX_FIELD_FORMS: ReadonlyArray<readonly [string, unknown, RegExp]> = [
  ['an empty path', '', /^fields\.0: field path must be a non-empty string/],
  ['an empty list', [], /^fields: an index needs at least one/],
  ['an empty object', {}, /^fields: an index needs at least one/],
  ['direction 2 in an object', { a: 2 }, /^fields\.0\.1: index direction must be 1 or -1/],
  ['direction 0 in a pair', [['a', 0]], /^fields\.0\.1: index direction must be 1 or -1/],
  ['a pair of three', [['a', 1, 1]], /^fields\.0: an index field is \[path, 1\|-1\]/],
  ['a number', 5, /^fields: index fields are a path/],
  ['null', null, /^fields: index fields are a path/],
  ['a field twice', ['a', ['a', -1]], /^fields\.1: field "a" appears twice/],
  ['a $ path', '$where', /^fields\.0\.\$where: key "\$where" may not start with "\$"/],
  ['an empty segment', 'a..b', /^fields\.0\.a\.\.b: empty path segment/],
];

/** Ids of exactly ID_BYTES_MAX bytes, in characters of 1 to 4 bytes. Shared with the client test. */
export function idsAtLimit(): Array<readonly [string, string]> {
  return [
    ['ASCII', 'a'.repeat(ID_BYTES_MAX)],
    ['2-byte é', 'é'.repeat(ID_BYTES_MAX / 2)],
    ['3-byte €, then ASCII', '€'.repeat(170) + 'ab'],
    ['4-byte emoji (a surrogate pair)', '😀'.repeat(ID_BYTES_MAX / 4)],
  ];
}
