// A fake cluster node for the dashboard tests: serves the real dashboard page and
// scripted /cluster/status, /metrics and /cluster/metrics answers that the test changes
// over time, and a /cluster/events stream the test sends events on.
// It can also go down (stop listening) and come back on the same port.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dashboardHtml } from '../../src/dashboard/index.ts';

export interface FakeMember {
  id: string;
  url: string;
  voter: boolean;
  matchIndex: number;
  lag: number;
  connected: boolean;
}

export interface FakeStatus {
  nodeId: string;
  url: string;
  role: string;
  term: number;
  leader: { id: string; url: string } | null;
  commitIndex: number;
  appliedIndex: number;
  snapshotIndex: number;
  lastLogIndex: number;
  members: FakeMember[];
}

/** The fields of GET /cluster/metrics the dashboard reads (node/node-metrics.ts RaftMetrics). */
export type FakeMetrics = Record<string, unknown>;

export type FakeMode = 'ok' | 'error503' | 'reset';

export class FakeNode {
  mode: FakeMode = 'ok';
  /** Added to commitIndex on every status request, so the commit rate is positive. */
  commitStep = 5;
  requestsTotal = 0;
  statusRequests = 0;
  status: FakeStatus;
  metrics: FakeMetrics = {};
  eventsRequests = 0;
  private readonly eventStreams = new Set<ServerResponse>();
  private server: Server | null = null;
  private port = 0;

  constructor(status: FakeStatus) {
    this.status = status;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** Stops listening and drops open connections: the node is down. */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const stream of this.eventStreams) stream.destroy();
    this.eventStreams.clear();
    server.closeAllConnections();
    await closed;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', this.origin).pathname;
    if (path === '/dashboard') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(dashboardHtml());
      return;
    }
    if (path === '/cluster/events' && this.mode === 'ok') {
      this.eventsRequests++;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      res.write(': connected\n\n');
      this.eventStreams.add(res);
      res.on('close', () => this.eventStreams.delete(res));
      return;
    }
    if (path === '/cluster/status' || path === '/metrics' || path === '/cluster/metrics' || path === '/cluster/events') {
      if (path === '/cluster/status') this.statusRequests++;
      if (this.mode === 'reset') {
        req.socket.destroy();
        return;
      }
      if (this.mode === 'error503') {
        res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'NO_LEADER', message: 'no leader' } }));
        return;
      }
      if (path === '/cluster/status') {
        this.status.commitIndex += this.commitStep;
        this.status.appliedIndex = this.status.commitIndex;
        this.status.lastLogIndex = this.status.commitIndex;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.status));
      } else if (path === '/cluster/metrics') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.metrics));
      } else {
        this.requestsTotal += 12;
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(this.metricsText());
      }
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"NOT_FOUND","message":"no"}}');
  }

  /** Sends one server-sent event, written as the node writes it, to every open stream. */
  sendEvent(event: Record<string, unknown> & { seq: number; type: string }): number {
    const text = `id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
    for (const stream of this.eventStreams) stream.write(text);
    return this.eventStreams.size;
  }

  private metricsText(): string {
    // Split over two label sets: the dashboard must sum them.
    const a = Math.floor(this.requestsTotal / 3);
    return [
      '# HELP http_requests_total Requests served.',
      '# TYPE http_requests_total counter',
      `http_requests_total{method="GET",route="/api/:collection",status="200"} ${a}`,
      `http_requests_total{method="POST",route="/api/:collection",status="201"} ${this.requestsTotal - a}`,
      '# TYPE process_resident_memory_bytes gauge',
      'process_resident_memory_bytes 1.2e+07',
      '',
    ].join('\n');
  }
}
