import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestStore } from './helpers.ts';
import { ValidationError } from '../../src/store/errors.ts';

function people(): TestStore {
  const t = new TestStore();
  t.insert(
    'p',
    { _id: 'a', name: 'Ann', age: 31, tags: ['x', 'y'], addr: { city: 'Oslo', zip: 100 }, pets: [{ kind: 'cat', n: 2 }] },
    { _id: 'b', name: 'bob', age: 25, tags: ['y'], addr: { city: 'Rome', zip: 200 }, pets: [] },
    {
      _id: 'c',
      name: 'Cid',
      age: 40,
      tags: [],
      addr: { city: 'Oslo', zip: 300 },
      pets: [
        { kind: 'dog', n: 1 },
        { kind: 'cat', n: 5 },
      ],
    },
    { _id: 'd', name: 'Dee', age: null, score: 7 },
    { _id: 'e', name: 'Eve', age: '31' },
  );
  return t;
}

describe('queries', () => {
  test('comparison operators (type-bracketed like MongoDB)', () => {
    const t = people();
    assert.deepEqual(t.ids('p', { age: 31 }), ['a']);
    assert.deepEqual(t.ids('p', { age: { $eq: '31' } }), ['e']);
    assert.deepEqual(t.ids('p', { age: { $ne: 31 } }), ['b', 'c', 'd', 'e']);
    assert.deepEqual(t.ids('p', { age: { $gt: 25 } }), ['a', 'c']);
    assert.deepEqual(t.ids('p', { age: { $gte: 25, $lt: 40 } }), ['a', 'b']);
    assert.deepEqual(t.ids('p', { age: { $lte: 25 } }), ['b']);
    assert.deepEqual(t.ids('p', { age: null }), ['d']);
  });

  test('$mod matches numbers only (as MongoDB), in arrays too, and survives objects with "toString" or "valueOf" keys', () => {
    const t = new TestStore();
    t.insert(
      'm',
      { _id: 'four', v: 4 },
      { _id: 'five', v: 5 },
      { _id: 'neg', v: -6 },
      { _id: 'str', v: '4' },
      { _id: 'null', v: null },
      { _id: 'bool', v: false },
      { _id: 'arr', v: [3, 8] },
      { _id: 'nested', v: { w: 10 } },
      { _id: 'evil', v: { toString: { x: 1 }, valueOf: { y: 2 } } },
      { _id: 'evil-arr', v: [{ toString: 1 }, 2] },
    );
    assert.deepEqual(t.ids('m', { v: { $mod: [2, 0] } }), ['arr', 'evil-arr', 'four', 'neg']);
    assert.deepEqual(t.ids('m', { v: { $mod: [2, 1] } }), ['arr', 'five']);
    assert.deepEqual(t.ids('m', { 'v.w': { $mod: [5, 0] } }), ['nested']);
    assert.deepEqual(t.ids('m', { $and: [{ $and: [{ v: { $mod: [2, 0] } }] }, { _id: { $ne: 'neg' } }] }), ['arr', 'evil-arr', 'four']);
  });

  test('$in, $nin, $exists, $regex', () => {
    const t = people();
    assert.deepEqual(t.ids('p', { age: { $in: [25, 40, '31'] } }), ['b', 'c', 'e']);
    assert.deepEqual(t.ids('p', { tags: { $in: ['x'] } }), ['a']);
    assert.deepEqual(t.ids('p', { tags: { $nin: ['y'] } }), ['c', 'd', 'e']);
    assert.deepEqual(t.ids('p', { score: { $exists: true } }), ['d']);
    assert.deepEqual(t.ids('p', { addr: { $exists: false } }), ['d', 'e']);
    assert.deepEqual(t.ids('p', { name: { $regex: '^[a-c]' } }), ['b']);
    assert.deepEqual(t.ids('p', { name: { $regex: '^[a-c]', $options: 'i' } }), ['a', 'b', 'c']);
  });

  test('logical operators $and, $or, $nor, $not', () => {
    const t = people();
    assert.deepEqual(t.ids('p', { $and: [{ 'addr.city': 'Oslo' }, { age: { $gt: 35 } }] }), ['c']);
    assert.deepEqual(t.ids('p', { $or: [{ age: 25 }, { score: 7 }] }), ['b', 'd']);
    assert.deepEqual(t.ids('p', { $nor: [{ age: 25 }, { age: 31 }] }), ['c', 'd', 'e']);
    assert.deepEqual(t.ids('p', { age: { $not: { $gt: 30 } } }), ['b', 'd', 'e']);
  });

  test('arrays: $elemMatch, $size, $all, element equality, dot paths into arrays', () => {
    const t = people();
    assert.deepEqual(t.ids('p', { tags: 'y' }), ['a', 'b']);
    assert.deepEqual(t.ids('p', { tags: { $size: 0 } }), ['c']);
    assert.deepEqual(t.ids('p', { tags: { $all: ['x', 'y'] } }), ['a']);
    assert.deepEqual(t.ids('p', { pets: { $elemMatch: { kind: 'cat', n: { $gt: 3 } } } }), ['c']);
    assert.deepEqual(t.ids('p', { 'pets.kind': 'cat' }), ['a', 'c']);
    assert.deepEqual(t.ids('p', { 'pets.0.kind': 'dog' }), ['c']);
    assert.deepEqual(t.ids('p', { 'addr.zip': { $gte: 200 } }), ['b', 'c']);
  });

  test('sort (multi-key, missing as null, arrays by min/max), skip, limit', () => {
    const t = people();
    assert.deepEqual(t.ids('p', {}, { sort: { age: 1 } }), ['d', 'b', 'a', 'c', 'e']);
    assert.deepEqual(t.ids('p', {}, { sort: { age: -1 } }), ['e', 'c', 'a', 'b', 'd']);
    assert.deepEqual(t.ids('p', {}, { sort: { 'addr.city': 1, age: -1 } }), ['e', 'd', 'c', 'a', 'b']);
    assert.deepEqual(t.ids('p', {}, { sort: { _id: -1 } }), ['e', 'd', 'c', 'b', 'a']);
    assert.deepEqual(t.ids('p', {}, { sort: { age: 1 }, skip: 1, limit: 2 }), ['b', 'a']);
    assert.deepEqual(t.ids('p', {}, { skip: 3 }), ['d', 'e']);
    assert.deepEqual(t.ids('p', {}, { limit: 2 }), ['a', 'b']);
    // tags a=['x','y'] b=['y'] c=[]: ascending by the smallest element, descending by the
    // largest; an empty array is an array value, which sorts after strings.
    assert.deepEqual(t.ids('p', { tags: { $exists: true } }, { sort: { tags: 1 } }), ['a', 'b', 'c']);
    assert.deepEqual(t.ids('p', { tags: { $exists: true } }, { sort: { tags: -1 } }), ['c', 'a', 'b']);
  });

  test('ties are broken by _id ascending', () => {
    const t = new TestStore();
    t.insert('c', { _id: 'z', k: 1 }, { _id: 'm', k: 1 }, { _id: 'a', k: 1 }, { _id: 'q', k: 0 });
    assert.deepEqual(t.ids('c', {}, { sort: { k: -1 } }), ['a', 'm', 'z', 'q']);
  });

  test('projection: inclusion, exclusion, nested, _id', () => {
    const t = people();
    assert.deepEqual(t.store.find('p', { _id: 'a' }, { projection: { name: 1 } }), [{ _id: 'a', name: 'Ann' }]);
    assert.deepEqual(t.store.find('p', { _id: 'a' }, { projection: { 'addr.city': 1, _id: 0 } }), [{ addr: { city: 'Oslo' } }]);
    const ex = t.store.find('p', { _id: 'b' }, { projection: { tags: 0, pets: 0, addr: 0 } });
    assert.deepEqual(ex, [{ _id: 'b', _rev: 1, name: 'bob', age: 25 }]);
    assert.deepEqual(t.store.findOne('p', { age: { $gt: 30 } }, { projection: { age: 1 } }), { _id: 'a', age: 31 });
  });

  test('count, findOne, get, unknown collections', () => {
    const t = people();
    assert.equal(t.store.count('p'), 5);
    assert.equal(t.store.count('p', { 'addr.city': 'Oslo' }), 2);
    assert.equal(t.store.findOne('p', { name: 'bob' })?._id, 'b');
    assert.equal(t.store.findOne('p', { name: 'nobody' }), undefined);
    assert.equal(t.store.get('p', 'c')?.['name'], 'Cid');
    assert.equal(t.store.get('p', 'zz'), undefined);
    assert.equal(t.store.get('nope', 'a'), undefined);
    assert.deepEqual(t.store.find('nope', { a: 1 }), []);
    assert.equal(t.store.count('nope'), 0);
  });

  test('returned documents are the frozen stored objects', () => {
    const t = people();
    const doc = t.store.get('p', 'a')!;
    assert.equal(t.store.find('p', { _id: 'a' })[0], doc);
    assert.ok(Object.isFrozen(doc) && Object.isFrozen(doc['addr']) && Object.isFrozen(doc['tags']));
    assert.throws(() => {
      (doc as Record<string, unknown>)['name'] = 'x';
    }, TypeError);
  });

  test('invalid queries throw ValidationError', () => {
    const t = people();
    assert.throws(() => t.store.find('p', { a: { $where: 'x' } }), ValidationError);
    assert.throws(() => t.store.find('p', { a: undefined as unknown as number }), ValidationError);
    assert.throws(() => t.store.find('p', {}, { sort: { a: 0 as 1 } }), ValidationError);
    assert.throws(() => t.store.count('p', { $text: 'x' }), ValidationError);
  });
});
