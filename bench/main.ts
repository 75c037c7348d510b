// `npm run bench [-- embedded|cluster|startup|abuse|security] [--quick]`: runs the benchmarks and
// prints one JSON object on stdout (progress on stderr).
import { cpus } from 'node:os';
import { benchAbuse } from './abuse.ts';
import { benchCluster } from './cluster.ts';
import { benchEmbedded } from './embedded.ts';
import { benchSecurity } from './security.ts';
import { benchStartup } from './startup.ts';
import { writeEmbeddedReport, type EmbeddedResults } from './fixtures/embedded-report.ts';
import { loadavg } from 'node:os';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const suite = args.find((a) => !a.startsWith('--')) ?? 'embedded';

const machine = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown' };
let results: Record<string, unknown>;
if (suite === 'embedded') {
  const load = loadavg()[0]!.toFixed(1);
  results = await benchEmbedded({ documents: quick ? 100_000 : 1_000_000, insertSeconds: quick ? 1 : 5 });
  const date = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const report = `bench/results/embedded-${date}.html`;
  const subtitle = `${machine.cpus} × ${machine.cpu}, Node ${machine.node}, load average ${load} at start${quick ? ', quick run' : ''}`;
  await writeEmbeddedReport(report, subtitle, results as unknown as EmbeddedResults, results);
  process.stderr.write(`\nchart: ${report}\n`);
} else if (suite === 'cluster') {
  results = await benchCluster({ quick, profile: args.includes('--profile'), skipEtcd: args.includes('--no-etcd'), trace: args.includes('--trace') });
} else if (suite === 'startup') {
  results = await benchStartup({ rounds: quick ? 3 : 10, port: 18_970 });
} else if (suite === 'abuse') {
  const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length);
  results = await benchAbuse({ quick, ...(only !== undefined ? { only: only.split(',') } : {}) });
} else if (suite === 'security') {
  results = await benchSecurity({ quick });
} else {
  console.error(`unknown benchmark suite "${suite}" (expected: embedded, cluster, startup, abuse or security)`);
  process.exit(2);
}
process.stderr.write('\n');
console.log(JSON.stringify({ suite, quick, date: new Date().toISOString(), machine, results }, null, 2));
