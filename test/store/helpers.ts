// Test helpers: a store with an automatic log index.
import assert from 'node:assert/strict';
import { Store } from '../../src/store/store.ts';
import type { Command, CommandResult, ResultValues } from '../../src/store/commands.ts';
import type { ErrorInfo } from '../../src/store/errors.ts';
import type { JsonObject, Limits } from '../../src/store/types.ts';

export class TestStore {
  readonly store: Store;
  index = 0;
  constructor(limits?: Partial<Limits>, store?: Store) {
    this.store = store ?? new Store(limits);
    this.index = this.store.lastApplied;
  }
  apply<C extends Command>(cmd: C): CommandResult<C['type']> {
    return this.store.apply(cmd, ++this.index);
  }
  ok<C extends Command>(cmd: C): ResultValues[C['type']] {
    const r = this.apply(cmd);
    if (!r.ok) assert.fail(`expected ok, got ${r.error.code}: ${r.error.message}`);
    return r.value;
  }
  fail<C extends Command>(cmd: C, code: ErrorInfo['code'], message?: RegExp): ErrorInfo {
    const r = this.apply(cmd);
    if (r.ok) assert.fail(`expected ${code}, got ok`);
    assert.equal(r.error.code, code, r.error.message);
    if (message) assert.match(r.error.message, message);
    return r.error;
  }
  insert(collection: string, ...docs: JsonObject[]): void {
    this.ok({ type: 'insert', collection, docs });
  }
  ids(collection: string, filter: JsonObject = {}, options = {}): string[] {
    return this.store.find(collection, filter, options).map((d) => d._id);
  }
}
