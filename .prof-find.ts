import { Store } from './src/store/index.ts';
const s = new Store();
const N = 200_000;
let idx = 0;
s.apply({ type: 'createIndex', collection: 'c', fields: [['email', 1]], unique: true }, ++idx);
for (let i = 0; i < N; i++) {
  s.apply({ type: 'insert', collection: 'c', docs: [{ _id: 'id' + String(i).padStart(8, '0'), n: i, email: `u${i}@x.com`, group: i % 1000, name: 'user ' + i }] }, ++idx);
}
const times: number[] = [];
for (let i = 0; i < 200000; i++) {
  const email = `u${(i * 7919) % N}@x.com`;
  const t0 = performance.now();
  const res = s.find('c', { email });
  times.push(performance.now() - t0);
  if (res.length !== 1) throw new Error('miss');
}
times.sort((a, b) => a - b);
console.log(`find median ${(times[times.length >> 1]! * 1000).toFixed(1)} µs`);
