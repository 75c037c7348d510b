// Loads the dashboard's pure browser scripts into a node:vm context, so their
// logic is tested in Node without a browser. Results cross a realm boundary:
// `plain()` copies them into this realm for deepStrictEqual.
import vm from 'node:vm';
import { browserScript } from '../../src/dashboard/assets.ts';

export interface Sample {
  t: number;
  commitIndex: number | null;
  lags: Record<string, number>;
  requests: number | null;
}
export interface History {
  windowSeconds: number;
  maxSamples: number;
  samples: Sample[];
}
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
export interface CSDash {
  parsePrometheusText(text: unknown): PromSample[];
  requestCounterTotal(samples: PromSample[]): { name: string; total: number } | null;
  normalizeStatus(raw: unknown): Record<string, unknown> | null;
  dashboardUrl(base: unknown): string | null;
  createHistory(windowSeconds: number, maxSamples: number): History;
  addSample(history: History, sample: Sample): void;
  historyTimes(history: History): number[];
  commitRate(history: History): (number | null)[];
  requestRate(history: History): (number | null)[];
  lagSeries(history: History): { ids: string[]; series: (number | null)[][] };
  parseSession(raw: unknown): { user: string; token: string } | null;
  requestHeaders(session: { user: string; token: string } | null): Record<string, string>;
  loginFailureText(status: number): string;
  forbiddenText(user: string | null): string;
}

export function loadPureScripts(): CSDash {
  const context = vm.createContext({ URL });
  for (const name of ['prom-text.js', 'status.js', 'history.js', 'session.js'] as const) {
    vm.runInContext(browserScript(name), context, { filename: name });
  }
  return (context as { CSDash: CSDash }).CSDash;
}

export function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
