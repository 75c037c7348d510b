import { summarizeProfile } from './fixtures/profile-summary.ts';
const s = await summarizeProfile(process.argv[2]!, undefined, Number(process.argv[3] ?? 30));
console.log('wall', s.wallMs.toFixed(0), 'busy', s.busyMs.toFixed(0));
for (const f of s.topFunctions) console.log(f.ms.toFixed(0).padStart(6), f.percent.toFixed(1).padStart(5), f.name);
console.log('--- files');
for (const f of s.topFiles.slice(0, 15)) console.log(f.ms.toFixed(0).padStart(6), f.percent.toFixed(1).padStart(5), f.name);
