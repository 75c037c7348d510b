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
  metrics?: MetricsSample | null;
}
export interface MetricsSample {
  opsPerSec: number | null;
  cpuPercent: number | null;
  rssMiB: number | null;
  heapMiB: number | null;
  commitLatencyMs: number | null;
  logEntries: number | null;
  lagMs: Record<string, number>;
}
export interface LatencyView {
  count: number | null;
  meanMs: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
}
/** normalizeMetrics(): GET /cluster/metrics as the page uses it. */
export interface MetricsView {
  nodeId: string | null;
  role: string | null;
  term: number | null;
  leader: string | null;
  clusterSize: number | null;
  healthyNodes: number | null;
  commitLatencyMs: number | null;
  commitLatency: LatencyView;
  lags: { node: string; entries: number | null; ms: number | null }[];
  opsPerSec: number | null;
  electionCount: number | null;
  electionsStarted: number | null;
  electionSuccessRate: number | null;
  lastElectionMs: number | null;
  averageElectionMs: number | null;
  sinceElectionMs: number | null;
  logEntries: number | null;
  appliedIndex: number | null;
  commitIndex: number | null;
  lastLogIndex: number | null;
  logBytes: number | null;
  snapshotIndex: number | null;
  snapshotBytes: number | null;
  snapshotAgeMs: number | null;
  syncLatency: LatencyView;
  cpuPercent: number | null;
  rssBytes: number | null;
  heapBytes: number | null;
}
export interface SseMessage {
  id: string | null;
  event: string;
  data: string;
}
/** normalizeClusterEvent(): one event of GET /cluster/events as the page uses it. */
export interface EventView {
  seq: number;
  atMs: number;
  type: string;
  node: number | null;
  term: number | null;
  leader: number | null;
  durationMs: number | null;
  member: number | null;
  url: string | null;
  previousUrl: string | null;
  voter: boolean | null;
  index: number | null;
  bytes: number | null;
}
export interface Timeline {
  max: number;
  events: EventView[];
  /** Bumped by every event added. */
  version: number;
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
  normalizeMetrics(raw: unknown): MetricsView | null;
  formatCount(n: number | null): string;
  formatDuration(ms: number | null): string;
  formatBytes(bytes: number | null): string;
  formatRatio(r: number | null): string;
  formatRate(v: number | null): string;
  healthLevel(m: MetricsView): 'ok' | 'warn' | 'bad' | null;
  panelText(m: MetricsView): Record<string, string>;
  lagRows(m: MetricsView): string[][];
  metricsSample(m: MetricsView): MetricsSample;
  lagMsSeries(history: History): { ids: string[]; series: (number | null)[][] };
  metricSeries(history: History, key: keyof MetricsSample): (number | null)[];
  createSseParser(): { push(text: unknown): SseMessage[] };
  normalizeClusterEvent(data: unknown): EventView | null;
  eventCategory(type: string): string;
  eventLabel(type: string): string;
  describeClusterEvent(e: EventView): string;
  createTimeline(max?: number): Timeline;
  addTimelineEvent(timeline: Timeline, e: EventView): boolean;
  electionBars(timeline: Timeline, max: number): { seq: number; term: number | null; leader: number | null; durationMs: number; height: number }[];
  timelineMarks(timeline: Timeline, nowMs: number, windowMs: number): { x: number; category: string; seq: number; label: string }[];
}

export function loadPureScripts(): CSDash {
  const context = vm.createContext({ URL });
  for (const name of ['prom-text.js', 'status.js', 'metrics.js', 'history.js', 'events.js', 'session.js'] as const) {
    vm.runInContext(browserScript(name), context, { filename: name });
  }
  return (context as { CSDash: CSDash }).CSDash;
}

export function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
