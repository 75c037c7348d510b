// `npm run bench [-- embedded|models|cluster|startup|abuse|security] [--quick] [--compare FILE]`:
// runs the benchmarks and prints one JSON object on stdout (progress on stderr). With
// `--compare FILE` (a previous run's stdout, saved), the guarded measures of this run are
// compared with that run's: a table on stderr, and exit code 1 when any is more than 15 % worse.
import { benchModels } from './models.ts';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { benchAbuse } from './abuse.ts';
import { benchCluster } from './cluster.ts';
import { compareGuards, formatComparison, guardOfOutput, type Guard } from './compare.ts';
import { benchEmbedded } from './embedded.ts';
import { benchSecurity } from './security.ts';
import { benchStartup } from './startup.ts';
import { writeEmbeddedReport, type EmbeddedResults } from './fixtures/embedded-report.ts';

const USAGE = `usage: npm run bench [-- SUITE] [options]
suites: embedded (default), models, cluster, startup, abuse, security
options:
  --quick            a shorter run (fewer documents, rounds and seconds)
  --compare FILE     compare this run's guarded measures with a saved run's JSON (exit 1 when any is > 15 % worse)
  --profile          cluster: CPU profiles of the nodes
  --no-etcd          cluster: without etcd beside ours
  --trace            cluster: stamp sampled writes at each stage of the write path
  --only=A,B         abuse: only these cases
  --help             this text
prints one JSON object on stdout; progress on stderr`;

let parsed: ReturnType<typeof parseBenchArgs>;
try {
  parsed = parseBenchArgs(process.argv.slice(2));
} catch (error) {
  console.error(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  process.exit(2);
}
if (parsed.values.help === true) {
  console.log(USAGE);
  process.exit(0);
}
const quick = parsed.values.quick === true;
const compareFile = parsed.values.compare;
if (compareFile !== undefined && compareFile === '') {
  console.error('--compare needs the file of a saved run (the JSON that `npm run -s bench` printed)');
  process.exit(2);
}
if (parsed.positionals.length > 1) {
  console.error(`one suite at a time, got ${parsed.positionals.join(', ')}\n${USAGE}`);
  process.exit(2);
}
// The saved run is read before the benchmark: a wrong file should not cost a whole run.
const saved = compareFile === undefined ? undefined : readSaved(compareFile);
const suite = parsed.positionals[0] ?? 'embedded';
if (saved !== undefined && saved.suite !== suite) {
  console.error(`${compareFile} is a run of the ${saved.suite} suite, not ${suite}`);
  process.exit(2);
}

const machine = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown' };
let results: Record<string, unknown>;
if (suite === 'embedded') {
  const load = loadavg()[0]!.toFixed(1);
  results = await benchEmbedded({
    documents: quick ? 100_000 : 1_000_000,
    secondsPerRound: quick ? 0.6 : 2,
    rounds: quick ? 5 : 7,
    memoryDocuments: quick ? 20_000 : 100_000,
  });
  const date = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const report = `bench/results/embedded-${date}.html`;
  const subtitle = `${machine.cpus} × ${machine.cpu}, Node ${machine.node}, load average ${load} at start${quick ? ', quick run' : ''}`;
  await writeEmbeddedReport(report, subtitle, results as unknown as EmbeddedResults, results);
  process.stderr.write(`\nchart: ${report}\n`);
} else if (suite === 'models') {
  results = await benchModels({ rounds: quick ? 3 : 5, secondsPerRound: quick ? 0.6 : 1.5, writers: [1, 64] });
} else if (suite === 'cluster') {
  results = await benchCluster({
    quick,
    profile: parsed.values.profile === true,
    skipEtcd: parsed.values['no-etcd'] === true,
    trace: parsed.values.trace === true,
  });
} else if (suite === 'startup') {
  results = await benchStartup({ rounds: quick ? 3 : 10, port: 18_970 });
} else if (suite === 'abuse') {
  const only = parsed.values.only;
  results = await benchAbuse({ quick, ...(only !== undefined ? { only: only.split(',') } : {}) });
} else if (suite === 'security') {
  results = await benchSecurity({ quick });
} else {
  console.error(`unknown benchmark suite "${suite}" (expected: embedded, models, cluster, startup, abuse or security)`);
  process.exit(2);
}
process.stderr.write('\n');
console.log(JSON.stringify({ suite, quick, date: new Date().toISOString(), machine, results }, null, 2));

if (saved !== undefined) {
  const guard = (results as { guard?: Guard }).guard;
  if (guard === undefined) {
    console.error(`the ${suite} suite reports no guarded measures: nothing to compare`);
    process.exit(2);
  }
  const comparison = compareGuards(saved.guard, guard);
  process.stderr.write(`\ncompared with ${compareFile}:\n${formatComparison(comparison)}\n`);
  if (comparison.compared === 0) process.exitCode = 2;
  else if (comparison.worse.length > 0) process.exitCode = 1;
}

function readSaved(file: string): { suite: string; guard: Guard } {
  try {
    return guardOfOutput(JSON.parse(readFileSync(file, 'utf8')) as unknown);
  } catch (error) {
    console.error(`--compare ${file}: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  }
}

/** The command line, strictly: an unknown flag is an error, not ignored. */
function parseBenchArgs(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      quick: { type: 'boolean' },
      compare: { type: 'string' },
      profile: { type: 'boolean' },
      'no-etcd': { type: 'boolean' },
      trace: { type: 'boolean' },
      only: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
