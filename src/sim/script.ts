// A replayable simulation as a script, in the style of test/raft/testdata/*.txt: commands
// first, then "----" and what happened. `formatScript` writes a shrunk failure;
// `parseScript` reads one back into SimOptions (npm run sim -- --replay FILE).
//
//   sim seed=88 nodes=3 profile=swarm driver=pipelined topology=voters duration-ms=1200 bugs=commitPreviousTermEntries links=lossless clients=1 keys=a
//   crash 1 at=350 point=afterPersist
//   restart 1 at=420
//   partition at=500 cut=1>2,1>3,2>1,3>1
//   heal at=900
//   conf addLearner 6 at=1000
//   campaign 2 at=1100
//   transfer 3 at=1200
//   arm 2 at=1300 when=leader point=afterPersist
//   run
//   ----
//   invariant failure at 1234 ms: ...

import type { RaftBugs } from '../raft/types.ts';
import type { FaultEvent } from './fault-injector.ts';
import { RELIABLE_LINKS } from './network.ts';
import type { SimOptions } from './run.ts';
import type { CrashPoint, DriverMode } from './sim-node.ts';

const CRASH_POINTS = ['now', 'beforePersist', 'afterPersist', 'midSend'] as const;

export function formatEvent(e: FaultEvent): string {
  switch (e.type) {
    case 'crash':
      return `crash ${e.node} at=${e.at} point=${e.point}`;
    case 'restart':
      return `restart ${e.node} at=${e.at}`;
    case 'arm':
      return `arm ${e.node} at=${e.at} when=${e.when} point=${e.point}`;
    case 'partition':
      return `partition at=${e.at} cut=${e.cuts.map(([a, b]) => `${a}>${b}`).join(',') || 'none'}`;
    case 'heal':
      return `heal at=${e.at}`;
    case 'conf':
      return `conf ${e.change.type} ${e.change.node} at=${e.at}`;
    case 'campaign':
      return `campaign ${e.node} at=${e.at}`;
    case 'transfer':
      return `transfer ${e.to} at=${e.at}`;
    case 'pause':
      return `pause ${e.node} at=${e.at} ms=${e.ms}`;
  }
}

/** The script of a run: its setting, its fault events, and the expected outcome. */
export function formatScript(options: SimOptions, comments: readonly string[], outcome: string): string {
  if (typeof options.profile === 'object') throw new Error('formatScript: the profile must be given by name');
  const bugs = Object.entries(options.bugs ?? {})
    .filter(([, on]) => on === true)
    .map(([name]) => name);
  const head = [
    `sim seed=${options.seed}`,
    `nodes=${options.nodes}`,
    `profile=${options.profile ?? 'mixed'}`,
    options.driver ? `driver=${options.driver}` : '',
    options.topology ? `topology=${options.topology}` : '',
    `duration-ms=${options.durationMs ?? 3000}`,
    bugs.length > 0 ? `bugs=${bugs.join(',')}` : '',
    options.links !== undefined ? 'links=lossless' : '',
    options.clients?.count !== undefined ? `clients=${options.clients.count}` : '',
    options.clients?.keys !== undefined ? `keys=${options.clients.keys.join(',')}` : '',
  ].filter((s) => s !== '');
  const lines = [...comments.map((c) => `# ${c}`), head.join(' '), ...(options.faultSchedule ?? []).map(formatEvent), 'run', '----', outcome];
  return `${lines.join('\n')}\n`;
}

/** Reads a script back (comments and the expected outcome after "----" are ignored). */
export function parseScript(text: string): SimOptions {
  let options: { -readonly [K in keyof SimOptions]?: SimOptions[K] } | null = null;
  const events: FaultEvent[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '----') break;
    if (line === '' || line.startsWith('#') || line === 'run') continue;
    const [cmd, ...rest] = line.split(/\s+/);
    const kv = new Map<string, string>();
    const args: string[] = [];
    for (const r of rest) {
      const eq = r.indexOf('=');
      if (eq > 0) kv.set(r.slice(0, eq), r.slice(eq + 1));
      else args.push(r);
    }
    const num = (key: string): number => {
      const v = Number(kv.get(key));
      if (!Number.isFinite(v)) throw new Error(`script: "${line}" needs ${key}=<number>`);
      return v;
    };
    const node = (): number => {
      const v = Number(args[args.length - 1]);
      if (!Number.isInteger(v) || v < 1) throw new Error(`script: "${line}" needs a node id`);
      return v;
    };
    if (cmd === 'sim') {
      const bugs: Record<string, boolean> = {};
      for (const b of (kv.get('bugs') ?? '').split(',').filter((s) => s !== '')) bugs[b] = true;
      const driver = kv.get('driver');
      const topology = kv.get('topology');
      options = {
        seed: num('seed'),
        nodes: num('nodes'),
        profile: kv.get('profile') ?? 'mixed',
        durationMs: num('duration-ms'),
        ...(driver !== undefined ? { driver: driver as DriverMode } : {}),
        ...(topology === 'voters' || topology === 'oneVoter' ? { topology } : {}),
        ...(Object.keys(bugs).length > 0 ? { bugs: bugs as RaftBugs } : {}),
        ...(kv.get('links') === 'lossless' ? { links: RELIABLE_LINKS } : {}),
      };
      const count = kv.get('clients');
      const keys = kv.get('keys');
      if (count !== undefined || keys !== undefined) {
        options.clients = {
          ...(count !== undefined ? { count: Number(count) } : {}),
          ...(keys !== undefined ? { keys: keys.split(',') } : {}),
        };
      }
      continue;
    }
    const at = num('at');
    switch (cmd) {
      case 'crash':
        events.push({ at, type: 'crash', node: node(), point: crashPoint(kv.get('point'), line) });
        break;
      case 'restart':
        events.push({ at, type: 'restart', node: node() });
        break;
      case 'arm': {
        const when = kv.get('when');
        if (when !== 'leader' && when !== 'commit') throw new Error(`script: "${line}" needs when=leader|commit`);
        const point = crashPoint(kv.get('point'), line);
        if (point === 'now') throw new Error(`script: "${line}": an armed crash needs a point in the ready cycle`);
        events.push({ at, type: 'arm', node: node(), when, point });
        break;
      }
      case 'partition': {
        const cut = kv.get('cut') ?? 'none';
        const cuts = cut === 'none' ? [] : cut.split(',').map((c) => c.split('>').map(Number) as [number, number]);
        events.push({ at, type: 'partition', cuts });
        break;
      }
      case 'heal':
        events.push({ at, type: 'heal' });
        break;
      case 'conf': {
        const type = args[0];
        if (type !== 'addLearner' && type !== 'addVoter' && type !== 'remove') throw new Error(`script: "${line}": unknown change`);
        events.push({ at, type: 'conf', change: { type, node: node() } });
        break;
      }
      case 'campaign':
        events.push({ at, type: 'campaign', node: node() });
        break;
      case 'transfer':
        events.push({ at, type: 'transfer', to: node() });
        break;
      case 'pause': {
        events.push({ at, type: 'pause', node: node(), ms: num('ms') });
        break;
      }
      default:
        throw new Error(`script: unknown command in "${line}"`);
    }
  }
  if (options === null) throw new Error('script: no "sim" line');
  for (let i = 1; i < events.length; i++) {
    if (events[i]!.at < events[i - 1]!.at) throw new Error('script: events must be in time order');
  }
  return { ...(options as SimOptions), faultSchedule: events };
}

function crashPoint(v: string | undefined, line: string): CrashPoint | 'now' {
  const p = CRASH_POINTS.find((c) => c === v);
  if (p === undefined) throw new Error(`script: "${line}" needs point=${CRASH_POINTS.join('|')}`);
  return p;
}
