import { Store } from './src/store/index.ts';
const s = new Store();
const N = 200_000;
let idx = 0;
s.apply({ type: 'createIndex', collection: 'c', fields: [['email', 1]], unique: true }, ++idx);
s.apply({ type: 'createIndex', collection: 'c', fields: [['group', 1]], unique: false }, ++idx);
let t = performance.now();
for (let i = 0; i < N; i++) {
  const r = s.apply({ type: 'insert', collection: 'c', docs: [{ _id: 'id' + String(i).padStart(8, '0'), n: i, email: `u${i}@x.com`, group: i % 1000, name: 'user ' + i }] }, ++idx);
  if (!r.ok) throw new Error(r.error.message);
}
console.log(`insert w/ 2 idx: ${(N / (performance.now() - t) * 1000).toFixed(0)}/s`);
t = performance.now();
const snap = s.encodeSnapshot();
console.log(`encode ${(performance.now() - t).toFixed(0)} ms`);
t = performance.now();
Store.restoreSnapshot(snap);
console.log(`restore ${(performance.now() - t).toFixed(0)} ms`);
