// A projection (find options, what fields= becomes) with a "__proto__", "constructor" or
// "prototype" path segment is refused with a ValidationError naming it, in the store too:
// the embedded API and the client's find options never reach HTTP's fields= parsing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../../src/store/errors.ts';
import { validateFindOptions } from '../../src/store/validate-find-options.ts';

test('a projection path with a __proto__, constructor or prototype segment is a ValidationError naming the key', () => {
  for (const key of ['__proto__', 'constructor', 'prototype', 'a.__proto__', 'constructor.x', 'a.prototype.b']) {
    // Built from JSON: an object literal's "__proto__" would set the prototype, not a key.
    const projection: unknown = JSON.parse(`{${JSON.stringify(key)}: 1}`);
    assert.throws(
      () => validateFindOptions({ projection }),
      (error: unknown) => {
        assert.ok(error instanceof ValidationError, `${key}: ${String(error)}`);
        assert.match(error.message, /key "(__proto__|constructor|prototype)" is not allowed/);
        return true;
      },
      key,
    );
  }
  validateFindOptions({ projection: { a: 1, 'b.c': 1 } });
});
