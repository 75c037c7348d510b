// `npm run sim -- --seeds 10000 | --minutes N [--nodes 5] [--start-seed S]
//   [--profile swarm|all|mixed|...] [--driver sync|pipelined|mixed] [--topology voters|one-voter|mixed]
//   [--duration-ms 3000] [--bug NAME] [--list-bugs] [--stop-on-failure] [--no-shrink]`
// `npm run sim -- --replay FILE` replays a script written by the shrinker.
// Defaults: the swarm profile (each seed draws its faults, swarm.ts), mixed drivers (chosen
// per seed) and mixed topologies (every fourth seed starts with one voter and learners).
// Runs seeds one after another (for --minutes, until the time is up or Ctrl-C); a progress
// line every 2 s on stderr, a JSON summary on stdout, each failing seed with its trace tail
// on stderr; the first failure is shrunk (shrink.ts) and printed as a script, also written
// to tmp/sim-shrunk-SEED.txt. Exit code 1 when any seed failed.
// The only file of src/sim that does I/O (process, console).

import type { RaftBugs } from '../raft/types.ts';
import { BUG_CATALOGUE, BUG_NAMES, isBugName } from './bug-catalogue.ts';
import { PROFILES } from './faults.ts';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { COVERAGE_STATES, CoverageTotals } from './coverage.ts';
import { SWARM, trySimulation, type SimOptions, type SimulationFailure, type Topology } from './run.ts';
import { formatScript, parseScript } from './script.ts';
import { shrinkFailure } from './shrink.ts';
import type { DriverMode } from './sim-node.ts';

interface CliOptions {
  seeds: number;
  /** Run until this many minutes passed (instead of a seed count); null: use `seeds`. */
  minutes: number | null;
  shrink: boolean;
  replay: string | null;
  nodes: number | 'mixed';
  startSeed: number;
  profile: string;
  durationMs: number;
  bugs: RaftBugs | undefined;
  stopOnFailure: boolean;
  driver: DriverMode | 'mixed';
  topology: Topology | 'mixed';
}

function parse(argv: readonly string[]): CliOptions {
  const o: CliOptions = {
    seeds: 100,
    minutes: null,
    shrink: true,
    replay: null,
    nodes: 'mixed',
    startSeed: 1,
    profile: SWARM,
    durationMs: 3000,
    bugs: undefined,
    stopOnFailure: false,
    driver: 'mixed',
    topology: 'mixed',
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    const int = (): number => {
      const v = Number(value());
      if (!Number.isInteger(v) || v < 0) throw new Error(`${arg} needs a non-negative integer`);
      return v;
    };
    switch (arg) {
      case '--seeds':
        o.seeds = int();
        break;
      case '--minutes': {
        const v = Number(value());
        if (!(v > 0)) throw new Error('--minutes needs a positive number');
        o.minutes = v;
        break;
      }
      case '--no-shrink':
        o.shrink = false;
        break;
      case '--replay':
        o.replay = value();
        break;
      case '--nodes': {
        const v = value();
        o.nodes = v === 'mixed' ? 'mixed' : Number(v);
        if (o.nodes !== 'mixed' && !(Number.isInteger(o.nodes) && o.nodes >= 1 && o.nodes <= 9)) throw new Error('--nodes: 1..9 or mixed');
        break;
      }
      case '--start-seed':
        o.startSeed = int();
        break;
      case '--profile':
        o.profile = value();
        if (o.profile !== 'all' && o.profile !== SWARM && PROFILES[o.profile] === undefined) {
          throw new Error(`--profile: one of swarm, all, ${Object.keys(PROFILES).join(', ')}`);
        }
        break;
      case '--duration-ms':
        o.durationMs = int();
        break;
      case '--bug': {
        const v = value();
        if (!isBugName(v)) throw new Error(`--bug: one of ${BUG_NAMES.join(', ')} (see --list-bugs)`);
        o.bugs = { ...o.bugs, [v]: true };
        break;
      }
      case '--driver': {
        const v = value();
        if (v !== 'sync' && v !== 'pipelined' && v !== 'mixed') throw new Error('--driver: sync, pipelined or mixed');
        o.driver = v;
        break;
      }
      case '--topology': {
        const v = value();
        if (v !== 'voters' && v !== 'one-voter' && v !== 'mixed') throw new Error('--topology: voters, one-voter or mixed');
        o.topology = v === 'one-voter' ? 'oneVoter' : v;
        break;
      }
      case '--stop-on-failure':
        o.stopOnFailure = true;
        break;
      case '--list-bugs': {
        const width = Math.max(...BUG_NAMES.map((n) => n.length));
        for (const name of BUG_NAMES) process.stdout.write(`${name.padEnd(width)}  ${BUG_CATALOGUE[name].description}\n`);
        process.exit(0);
        break;
      }
      case '--help':
      case '-h':
        process.stdout.write(
          'npm run sim -- --seeds N | --minutes M [--nodes 3|5|mixed] [--start-seed S] [--profile swarm|all|' +
            Object.keys(PROFILES).join('|') +
            `] [--driver sync|pipelined|mixed] [--topology voters|one-voter|mixed] [--duration-ms MS] [--bug NAME] [--list-bugs] [--stop-on-failure] [--no-shrink]\n` +
            'npm run sim -- --replay FILE   (a script printed by the shrinker)\n',
        );
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${arg}`);
    }
  }
  return o;
}

/** The options the CLI runs seed `seed` with. */
function seedOptions(o: CliOptions, seed: number, profiles: readonly string[]): SimOptions {
  const nodes = o.nodes === 'mixed' ? (seed % 2 === 0 ? 3 : 5) : o.nodes;
  const profile = profiles[seed % profiles.length]!;
  const topology: Topology = o.topology === 'mixed' ? (seed % 4 === 3 ? 'oneVoter' : 'voters') : o.topology;
  const driver = o.driver === 'mixed' ? undefined : o.driver;
  return { seed, nodes, profile, durationMs: o.durationMs, bugs: o.bugs, driver, topology };
}

function replayScript(file: string): number {
  const options = parseScript(readFileSync(file, 'utf8'));
  const r = trySimulation(options);
  if (r.ok) {
    process.stdout.write(`replay ${file}: passed (${options.faultSchedule?.length ?? 0} fault events)\n`);
    return 0;
  }
  process.stdout.write(`replay ${file}: ${r.failure.kind} failure at ${r.failure.at} ms: ${r.failure.detail.split('\n')[0]!}\n`);
  process.stderr.write(`${r.failure.message}\n`);
  return 1;
}

interface ShrinkReport {
  readonly eventsBefore: number;
  readonly eventsAfter: number;
  readonly replays: number;
  readonly reproduced: boolean;
  readonly simplified: readonly string[];
  readonly file: string | null;
}

/** Shrinks the first failure, prints the script on stderr and writes it under tmp/. */
function shrinkAndPrint(options: SimOptions, failure: SimulationFailure, seedsTaken: number): ShrinkReport {
  const t0 = performance.now();
  const r = shrinkFailure(options, failure);
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  const comments = [
    `Shrunk from seed ${options.seed} (found after ${seedsTaken} seeds): ${r.eventsBefore} fault events -> ${r.eventsAfter}` +
      (r.simplified.length > 0 ? `, ${r.simplified.join(', ')}` : '') +
      `; ${r.replays} replays, ${seconds} s.`,
    ...(r.reproduced ? [] : ['Replaying the recorded fault events did not fail again: this is the run as recorded.']),
    'Replay: npm run sim -- --replay FILE',
  ];
  const outcome = `${r.failure.kind} failure at ${r.failure.at} ms: ${r.failure.detail.split('\n')[0]!}`;
  const script = formatScript(r.options, comments, outcome);
  let file: string | null = `tmp/sim-shrunk-${options.seed}.txt`;
  try {
    mkdirSync('tmp', { recursive: true });
    writeFileSync(file, script);
  } catch {
    file = null;
  }
  process.stderr.write(`\n--- shrunk trace of seed ${options.seed} ---\n${script.replace('FILE', file ?? 'FILE')}`);
  if (file !== null) process.stderr.write(`replay it: npm run sim -- --replay ${file}\n`);
  return {
    eventsBefore: r.eventsBefore,
    eventsAfter: r.eventsAfter,
    replays: r.replays,
    reproduced: r.reproduced,
    simplified: r.simplified,
    file,
  };
}

async function main(): Promise<number> {
  let o: CliOptions;
  try {
    o = parse(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`sim: ${(e as Error).message}\n`);
    return 2;
  }
  if (o.replay !== null) return replayScript(o.replay);
  const profiles = o.profile === 'all' ? Object.keys(PROFILES) : [o.profile];
  const started = performance.now();
  const deadline = o.minutes === null ? Infinity : started + o.minutes * 60_000;
  const seedLimit = o.minutes === null ? o.seeds : Infinity;
  let stopped = false;
  const onSigint = (): void => {
    stopped = true;
  };
  process.once('SIGINT', onSigint);
  let lastReport = started;
  const failures: { seed: number; nodes: number; profile: string; driver: string; topology: string; kind: string; detail: string }[] = [];
  const modes = { sync: 0, pipelined: 0, voters: 0, oneVoter: 0 };
  const totals = {
    committed: 0,
    readsOk: 0,
    writesOk: 0,
    crashes: 0,
    partitions: 0,
    confChanges: 0,
    snapshotsInstalled: 0,
    steps: 0,
    faultsInjected: 0,
    /** Writes of unknown outcome retried with the same client and request id (exactly-once). */
    unknownRetries: 0,
    /** Writes applied twice; any fails its run, so this stays 0 in a summary of passing seeds. */
    duplicateApplies: 0,
  };
  const coverage = new CoverageTotals();
  let firstFailure: { seed: number; seedsTaken: number; kind: string; detail: string; shrunk: ShrinkReport | null } | null = null;
  let done = 0;
  const progress = (): void => {
    const now = performance.now();
    const rate = done / Math.max(0.001, (now - started) / 1000);
    const of = o.minutes === null ? `/${o.seeds}` : '';
    process.stderr.write(
      `sim: ${done}${of} seeds, ${rate.toFixed(1)} seeds/s, ${totals.faultsInjected} faults injected, ` +
        `states covered ${coverage.covered} of ${COVERAGE_STATES.length}, ${failures.length} failed\n`,
    );
  };
  for (let k = 0; k < seedLimit && !stopped && performance.now() < deadline; k++) {
    const options = seedOptions(o, o.startSeed + k, profiles);
    const seed = options.seed;
    const r = trySimulation(options);
    done++;
    if (r.ok) {
      const s = r.stats;
      modes[s.driver]++;
      modes[s.topology]++;
      totals.committed += s.committed;
      totals.readsOk += s.clients.readsOk;
      totals.writesOk += s.clients.writesOk;
      totals.crashes += s.crashes;
      totals.partitions += s.partitions;
      totals.confChanges += s.confChanges;
      totals.snapshotsInstalled += s.snapshotsInstalled;
      totals.steps += s.steps;
      totals.faultsInjected += s.faultsInjected;
      totals.unknownRetries += s.clients.unknownRetries;
      totals.duplicateApplies += s.clients.duplicateApplies;
      coverage.add(s.coverage);
    } else {
      const f = r.failure;
      totals.faultsInjected += f.faultEvents.length;
      const profile = String(options.profile);
      failures.push({
        seed,
        nodes: options.nodes,
        profile,
        driver: f.mode,
        topology: options.topology!,
        kind: f.kind,
        detail: f.detail.split('\n')[0]!,
      });
      process.stderr.write(`\nFAILED seed ${seed} (nodes ${options.nodes}, profile ${profile}, ${f.mode}):\n${f.message}\n\n`);
      if (firstFailure === null) {
        const seedsTaken = k + 1;
        process.stderr.write(`first failing seed: ${seed}, after ${seedsTaken} seeds\n`);
        firstFailure = {
          seed,
          seedsTaken,
          kind: f.kind,
          detail: f.detail.split('\n')[0]!,
          shrunk: o.shrink ? shrinkAndPrint(options, f, seedsTaken) : null,
        };
      }
      if (o.stopOnFailure) break;
    }
    const now = performance.now();
    if (now - lastReport > 2000) {
      lastReport = now;
      progress();
    }
    // Let a Ctrl-C through (the loop is otherwise synchronous).
    if (o.minutes !== null && k % 4 === 3) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  process.removeListener('SIGINT', onSigint);
  progress();
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(`coverage (runs that reached each state, total hits):\n${coverage.table()}\n`);
  if (firstFailure !== null)
    process.stderr.write(`first failing seed: ${firstFailure.seed}, after ${firstFailure.seedsTaken} seeds (${firstFailure.kind})\n`);
  const summary = {
    seeds: done,
    startSeed: o.startSeed,
    minutes: o.minutes,
    interrupted: stopped,
    nodes: o.nodes,
    profiles,
    bugs: o.bugs ?? null,
    passed: done - failures.length,
    failed: failures.length,
    seconds: Number(seconds.toFixed(2)),
    seedsPerSecond: Number((done / seconds).toFixed(2)),
    passedByMode: modes,
    totals,
    coverage: { covered: coverage.covered, of: COVERAGE_STATES.length, runs: coverage.runs, hits: coverage.hits },
    firstFailure,
    failures,
  };
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  return failures.length > 0 ? 1 : 0;
}

process.exitCode = await main();
