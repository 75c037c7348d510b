// The one normaliser of index fields (src/store/index-fields.ts): every friendly shape
// createIndex takes becomes [path, 1 | -1] pairs; every bad shape is a ValidationError
// naming the field. test/client/same-as-embedded.test.ts checks that the client and the
// embedded database give the same answers.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../../src/store/errors.ts';
import { normalizeIndexFields } from '../../src/store/index-fields.ts';
import { BAD_INDEX_FIELD_FORMS, INDEX_FIELD_FORMS } from './shared-forms.ts';

describe('normalizeIndexFields', () => {
  for (const [what, input, fields] of INDEX_FIELD_FORMS) {
    test(`accepts ${what}`, () => {
      assert.deepEqual(normalizeIndexFields(input), fields);
    });
  }

  for (const [what, input, message] of BAD_INDEX_FIELD_FORMS) {
    test(`refuses ${what}`, () => {
      assert.throws(
        () => normalizeIndexFields(input),
        (e: unknown) => e instanceof ValidationError && message.test(e.message),
      );
    });
  }

  test('returns new pairs: the caller changing its array later changes nothing', () => {
    const pair: [string, 1 | -1] = ['a', 1];
    const fields = normalizeIndexFields([pair]);
    pair[1] = -1;
    assert.deepEqual(fields, [['a', 1]]);
  });

  test('names the path given', () => {
    assert.throws(() => normalizeIndexFields([], 'createIndex.fields'), /^ValidationError: createIndex\.fields: /);
  });
});
