import { Store } from './src/store/index.ts';
const s = new Store();
const N = 1_000_000;
let t = performance.now();
let idx = 0;
for (let i = 0; i < N; i++) {
  const r = s.apply({ type: 'insert', collection: 'c', docs: [{ _id: 'id' + String(i).padStart(8, '0'), n: i, email: `u${i}@x.com`, group: i % 1000, name: 'user ' + i }] }, ++idx);
  if (!r.ok) throw new Error(r.error.message);
}
let dt = performance.now() - t;
console.log(`insert (no secondary index): ${(N / dt * 1000).toFixed(0)}/s`);
t = performance.now();
const r = s.apply({ type: 'createIndex', collection: 'c', fields: [['email', 1]], unique: true }, ++idx);
if (!r.ok) throw new Error(r.error.message);
console.log(`build unique index on 1M: ${(performance.now() - t).toFixed(0)} ms`);
s.apply({ type: 'createIndex', collection: 'c', fields: [['group', 1]], unique: false }, ++idx);
// gets
t = performance.now();
let found = 0;
const G = 2_000_000;
for (let i = 0; i < G; i++) if (s.get('c', 'id' + String(i % N).padStart(8, '0'))) found++;
dt = performance.now() - t;
console.log(`get: ${(G / dt * 1000).toFixed(0)}/s (incl id string building) found=${found}`);
const ids = Array.from({ length: 100000 }, (_, i) => 'id' + String((i * 7919) % N).padStart(8, '0'));
t = performance.now();
for (let k = 0; k < 20; k++) for (const id of ids) s.get('c', id);
dt = performance.now() - t;
console.log(`get (precomputed ids): ${(2_000_000 / dt * 1000).toFixed(0)}/s`);
// indexed equality find
const times: number[] = [];
for (let i = 0; i < 20000; i++) {
  const email = `u${(i * 7919) % N}@x.com`;
  const t0 = performance.now();
  const res = s.find('c', { email });
  times.push(performance.now() - t0);
  if (res.length !== 1) throw new Error('miss');
}
times.sort((a, b) => a - b);
console.log(`indexed equality find median ${(times[times.length >> 1]! * 1000).toFixed(1)} µs p99 ${(times[Math.floor(times.length * 0.99)]! * 1000).toFixed(1)} µs`);
console.log(s.explain('c', { email: 'u5@x.com' }));
// inserts with 2 secondary indexes
t = performance.now();
const M = 200_000;
for (let i = N; i < N + M; i++) {
  s.apply({ type: 'insert', collection: 'c', docs: [{ _id: 'id' + String(i).padStart(8, '0'), n: i, email: `u${i}@x.com`, group: i % 1000, name: 'user ' + i }] }, ++idx);
}
dt = performance.now() - t;
console.log(`insert with 2 secondary indexes at 1M+: ${(M / dt * 1000).toFixed(0)}/s`);
t = performance.now();
const snap = s.encodeSnapshot();
console.log(`snapshot encode ${snap.length} bytes in ${(performance.now() - t).toFixed(0)} ms`);
t = performance.now();
const r2 = Store.restoreSnapshot(snap);
console.log(`restore in ${(performance.now() - t).toFixed(0)} ms, ${r2.count('c')}`);
