// What models cost per write in the state machine (docs/benchmarks.md, "Models"): 20,000
// single-document inserts applied to a Store, best of 3, without a schema, with one, and with
// trackHistory and audited. Run: node --import tsx test/store/schema-bench.ts
import { Store } from '../../src/store/store.ts';
import type { ModelOptions } from '../../src/store/schema.ts';

const N = 20_000;
const schema = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 1 }, price: { type: 'number', minimum: 0.01 }, stock: { type: 'integer', default: 0 } },
  required: ['name', 'price'],
};

function run(label: string, options?: ModelOptions): void {
  const times: number[] = [];
  for (let round = 0; round < 3; round++) {
    const store = new Store();
    let index = 0;
    if (options !== undefined) store.apply({ type: 'setSchema', collection: 'p', schema, options, force: false }, ++index);
    const started = performance.now();
    for (let k = 0; k < N; k++) {
      const docs = [{ _id: `d${k}`, name: 'Pen', price: 1.5 }];
      store.apply({ type: 'insert', collection: 'p', docs, timeMs: 1_700_000_000_000 + k, nodeId: 1 }, ++index, { term: 1 });
    }
    times.push(performance.now() - started);
  }
  const ms = Math.min(...times);
  console.log(`${label}: ${Math.round((N / ms) * 1000)} inserts/s, ${((ms * 1000) / N).toFixed(2)} µs per insert`);
}

run('no schema');
run('schema', {});
run('schema + trackHistory', { trackHistory: true });
run('schema + audited', { audited: true });
run('schema + trackHistory + audited', { trackHistory: true, audited: true });
