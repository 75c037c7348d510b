// `npm run bench -- startup`: how long `collection-store start` takes from the process's
// spawn until the node answers GET /readyz (a cluster of one: it elects itself), and how long
// `collection-store --version` takes. The command as shipped (compiled dist/ under plain
// node) is timed side by side with the same command run from the TypeScript sources through
// tsx, alternating A B A B so that the box's drift hits both alike; the ratio is per pair.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { percentile, progress } from './util.ts';

const BIN = fileURLToPath(new URL('../bin/collection-store.mjs', import.meta.url));
const SOURCE_MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const READY_WAIT_MS_MAX = 30_000;
const POLL_MS = 5;

interface Variant {
  readonly name: string;
  readonly argv: readonly string[];
}

const VARIANTS: readonly Variant[] = [
  { name: 'compiled', argv: [BIN] },
  { name: 'tsx', argv: ['--import', 'tsx', SOURCE_MAIN] },
];

async function timeVersion(variant: Variant): Promise<number> {
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [...variant.argv, '--version'], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`--version exited ${code}`))));
  });
  return performance.now() - t0;
}

async function timeStart(variant: Variant, port: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'cs-bench-startup-'));
  const t0 = performance.now();
  const child = spawn(process.execPath, [...variant.argv, 'start', '--node-id', '1', '--port', String(port), '--data-dir', dir], {
    stdio: 'ignore',
  });
  try {
    const deadline = t0 + READY_WAIT_MS_MAX;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${variant.name}: the node exited with ${child.exitCode} before it was ready`);
      try {
        const response = await fetch(`http://127.0.0.1:${port}/readyz`);
        await response.arrayBuffer();
        if (response.status === 200) return performance.now() - t0;
      } catch {
        // not listening yet
      }
      if (performance.now() > deadline) throw new Error(`${variant.name}: not ready within ${READY_WAIT_MS_MAX} ms`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

function summary(samples: readonly number[]): { median: number; min: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: +percentile(sorted, 0.5).toFixed(1), min: +sorted[0]!.toFixed(1), max: +sorted[sorted.length - 1]!.toFixed(1) };
}

export async function benchStartup(options: { readonly rounds: number; readonly port: number }): Promise<Record<string, unknown>> {
  const load = loadavg()[0]!;
  const start: Record<string, number[]> = { compiled: [], tsx: [] };
  const version: Record<string, number[]> = { compiled: [], tsx: [] };
  const startRatios: number[] = [];
  const versionRatios: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    progress(`startup: round ${round + 1} of ${options.rounds}`);
    const pair: Record<string, { start: number; version: number }> = {};
    // Alternate which variant goes first, so neither always runs on a warmer cache.
    const order = round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
    for (const variant of order) {
      const v = await timeVersion(variant);
      const s = await timeStart(variant, options.port);
      version[variant.name]!.push(v);
      start[variant.name]!.push(s);
      pair[variant.name] = { start: s, version: v };
    }
    startRatios.push(pair['tsx']!.start / pair['compiled']!.start);
    versionRatios.push(pair['tsx']!.version / pair['compiled']!.version);
  }
  return {
    rounds: options.rounds,
    loadAverageAtStart: +load.toFixed(2),
    loadAverageAtEnd: +loadavg()[0]!.toFixed(2),
    startToReadyMs: { compiled: summary(start['compiled']!), tsx: summary(start['tsx']!) },
    versionMs: { compiled: summary(version['compiled']!), tsx: summary(version['tsx']!) },
    tsxOverCompiled: { startToReady: summary(startRatios).median, version: summary(versionRatios).median },
  };
}
