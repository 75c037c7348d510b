// A fake cluster node for the dashboard tests: serves the real dashboard page and
// scripted /cluster/status and /metrics answers that the test changes over time.
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

export type FakeMode = 'ok' | 'error503' | 'reset';

export class FakeNode {
  mode: FakeMode = 'ok';
  /** Added to commitIndex on every status request, so the commit rate is positive. */
  commitStep = 5;
  requestsTotal = 0;
  statusRequests = 0;
  status: FakeStatus;
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
    server.closeAllConnections();
    await closed;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', this.origin).pathname;
    if (path === '/dashboard') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(dashboardHtml());
      return;
    }
    if (path === '/cluster/status' || path === '/metrics') {
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
      } else {
        this.requestsTotal += 12;
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(this.metricsText());
      }
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"NOT_FOUND","message":"no"}}');
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
