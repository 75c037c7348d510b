// `npm run sim -- --seeds 10000 [--nodes 5] [--start-seed S] [--profile mixed|all|...]
//   [--driver sync|pipelined|mixed] [--topology voters|one-voter|mixed]
//   [--duration-ms 3000] [--bug NAME] [--list-bugs] [--stop-on-failure]`
// Defaults: mixed drivers (chosen per seed) and mixed topologies (every fourth seed starts
// with one voter and learners).
// Runs seeds one after another; progress on stderr, a JSON summary on stdout, each failing
// seed with its trace tail on stderr. Exit code 1 when any seed failed.
// The only file of src/sim that does I/O (process, console).

import type { RaftBugs } from '../raft/types.ts';
import { BUG_CATALOGUE, BUG_NAMES, isBugName } from './bug-catalogue.ts';
import { PROFILES } from './faults.ts';
import { SWARM, trySimulation, type Topology } from './run.ts';
import type { DriverMode } from './sim-node.ts';

interface CliOptions {
  seeds: number;
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
          'npm run sim -- --seeds N [--nodes 3|5|mixed] [--start-seed S] [--profile all|' +
            Object.keys(PROFILES).join('|') +
            `] [--driver sync|pipelined|mixed] [--topology voters|one-voter|mixed] [--duration-ms MS] [--bug NAME] [--list-bugs] [--stop-on-failure]\n`,
        );
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${arg}`);
    }
  }
  return o;
}

function main(): number {
  let o: CliOptions;
  try {
    o = parse(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`sim: ${(e as Error).message}\n`);
    return 2;
  }
  const profiles = o.profile === 'all' ? Object.keys(PROFILES) : [o.profile];
  const started = performance.now();
  let lastReport = started;
  const failures: { seed: number; nodes: number; profile: string; driver: string; topology: string; kind: string; detail: string }[] = [];
  const modes = { sync: 0, pipelined: 0, voters: 0, oneVoter: 0 };
  const totals = { committed: 0, readsOk: 0, writesOk: 0, crashes: 0, partitions: 0, confChanges: 0, snapshotsInstalled: 0, steps: 0 };
  let done = 0;
  for (let k = 0; k < o.seeds; k++) {
    const seed = o.startSeed + k;
    const nodes = o.nodes === 'mixed' ? (seed % 2 === 0 ? 3 : 5) : o.nodes;
    const profile = profiles[seed % profiles.length]!;
    const topology: Topology = o.topology === 'mixed' ? (seed % 4 === 3 ? 'oneVoter' : 'voters') : o.topology;
    const driver = o.driver === 'mixed' ? undefined : o.driver;
    const r = trySimulation({ seed, nodes, profile, durationMs: o.durationMs, bugs: o.bugs, driver, topology });
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
    } else {
      const f = r.failure;
      failures.push({ seed, nodes, profile, driver: f.mode, topology, kind: f.kind, detail: f.detail.split('\n')[0]! });
      process.stderr.write(`\nFAILED seed ${seed} (nodes ${nodes}, profile ${profile}, ${f.mode}):\n${f.message}\n\n`);
      if (o.stopOnFailure) break;
    }
    const now = performance.now();
    if (now - lastReport > 2000 || done === o.seeds) {
      lastReport = now;
      const rate = done / ((now - started) / 1000);
      process.stderr.write(`sim: ${done}/${o.seeds} seeds, ${rate.toFixed(1)} seeds/s, ${failures.length} failed\n`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const summary = {
    seeds: done,
    startSeed: o.startSeed,
    nodes: o.nodes,
    profiles,
    bugs: o.bugs ?? null,
    passed: done - failures.length,
    failed: failures.length,
    seconds: Number(seconds.toFixed(2)),
    seedsPerSecond: Number((done / seconds).toFixed(2)),
    passedByMode: modes,
    totals,
    failures,
  };
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  return failures.length > 0 ? 1 : 0;
}

process.exitCode = main();
