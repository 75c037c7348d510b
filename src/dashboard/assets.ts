// Reads the files the dashboard page inlines: uPlot from node_modules and our own
// browser scripts and stylesheet from ./browser. Read at call time (not bundled),
// so the page always matches the installed uPlot.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The browser scripts, in load order: pure helpers first, the loop last. */
const APP_SCRIPTS = [
  'prom-text.js',
  'status.js',
  'metrics.js',
  'history.js',
  'events.js',
  'session.js',
  'event-stream.js',
  'view.js',
  'panels.js',
  'charts.js',
  'main.js',
] as const;

export interface DashboardAssets {
  readonly uplotJs: string;
  readonly uplotCss: string;
  readonly appCss: string;
  readonly appScripts: readonly string[];
}

function browserFile(name: string): string {
  return readFileSync(fileURLToPath(new URL(`./browser/${name}`, import.meta.url)), 'utf8');
}

export function readDashboardAssets(): DashboardAssets {
  const require = createRequire(import.meta.url);
  return {
    uplotJs: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    uplotCss: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    appCss: browserFile('dashboard.css'),
    appScripts: APP_SCRIPTS.map(browserFile),
  };
}

/** The source of one browser script, for tests that run the pure helpers in node:vm. */
export function browserScript(name: (typeof APP_SCRIPTS)[number]): string {
  return browserFile(name);
}
