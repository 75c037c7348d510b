// Index field lists arrive in several friendly shapes ('a', ['a', 'b'],
// { a: 1, b: -1 }, [['a', 1]]); the store takes one: [path, direction][].
import { ValidationError } from '../store/errors.ts';
import type { IndexField } from '../store/types.ts';

export type IndexFieldsInput = string | readonly string[] | Readonly<Record<string, 1 | -1>> | readonly IndexField[];

export function normalizeIndexFields(input: IndexFieldsInput): IndexField[] {
  if (typeof input === 'string') return [[input, 1]];
  if (Array.isArray(input)) {
    return input.map((item: unknown, i: number): IndexField => {
      if (typeof item === 'string') return [item, 1];
      if (Array.isArray(item) && item.length === 2 && typeof item[0] === 'string' && (item[1] === 1 || item[1] === -1)) {
        return [item[0], item[1]];
      }
      throw new ValidationError(`index field ${i} must be a path or [path, 1 | -1]`);
    });
  }
  if (input !== null && typeof input === 'object') {
    return Object.entries(input).map(([path, dir]): IndexField => {
      if (dir !== 1 && dir !== -1) throw new ValidationError(`index field "${path}" must have direction 1 or -1`);
      return [path, dir];
    });
  }
  throw new ValidationError('index fields must be a path, a list of paths, or {path: 1 | -1}');
}
