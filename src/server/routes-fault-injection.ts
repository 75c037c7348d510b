// The fault-injection endpoint (`start --enable-fault-injection`, for `collection-store chaos`):
// POST /cluster/fault-injection crashes this process, pauses it, or drops/delays its Raft
// traffic with chosen peers. Registered only with the flag: without it the route does not
// exist (404). Root only when authentication is on (route-access.ts).
//
// Also here, test-only: the planted bug `stale-reads` (environment, never a documented
// flag), which answers every read from this node's applied state while the client asked for
// a linearizable one; the chaos tests use it to prove that the checker catches stale reads.
import type { FastifyInstance } from 'fastify';
import { ValidationError } from '../store/errors.ts';
import { INJECTED_DELAY_MS_MAX, type PeerFaultRules } from '../transport/peer-faults.ts';
import { bodyObject, queryParams } from './http-input.ts';

export const FAULT_INJECTION_PATH = '/cluster/fault-injection';
/** Longest pause one request may inject, in ms. */
export const INJECTED_PAUSE_MS_MAX = 60_000;
/** Most peers one network rule may name. */
const RULE_PEERS_MAX = 64;

/** What the endpoint acts on: the process and its peer transport. */
export interface FaultInjectionTarget {
  /** Ends the process at once, as a crash would (no shutdown, no flush). */
  crash(): void;
  /** Blocks the whole process (event loop, timers, sockets) for `durationMs`. */
  pause(durationMs: number): void;
  setNetwork(rules: PeerFaultRules): void;
  network(): PeerFaultRules;
}

export type PlantedBug = 'stale-reads';

function peerIds(value: unknown, name: string): number[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > RULE_PEERS_MAX)
    throw new ValidationError(`${name}: must be an array of at most ${RULE_PEERS_MAX} node ids`);
  return value.map((id: unknown) => {
    if (!Number.isSafeInteger(id) || (id as number) < 1) throw new ValidationError(`${name}: node ids are positive integers`);
    return id as number;
  });
}

function durationMs(value: unknown, name: string, max: number): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0 || (value as number) > max) {
    throw new ValidationError(`${name}: must be an integer from 0 to ${max} (ms)`);
  }
  return value as number;
}

function rulesBody(rules: PeerFaultRules): { drop: readonly number[]; delay_ms: Readonly<Record<number, number>> } {
  return { drop: rules.drop, delay_ms: rules.delayMs };
}

/** Runs `act` once the answer has left (a crash or pause must not swallow it). */
function afterAnswer(raw: NodeJS.EventEmitter, act: () => void): void {
  raw.once('finish', () => setTimeout(act, 5));
}

export function registerFaultInjectionRoutes(app: FastifyInstance, target: FaultInjectionTarget): void {
  app.post(FAULT_INJECTION_PATH, async (request, reply) => {
    queryParams(request.query, []);
    const body = bodyObject(request.body, ['fault', 'duration_ms', 'drop', 'delay_ms', 'delay_peers'], true);
    switch (body['fault']) {
      case 'crash':
        afterAnswer(reply.raw, () => target.crash());
        return { fault: 'crash' };
      case 'pause': {
        const ms = durationMs(body['duration_ms'], 'duration_ms', INJECTED_PAUSE_MS_MAX);
        afterAnswer(reply.raw, () => target.pause(ms));
        return { fault: 'pause', duration_ms: ms };
      }
      case 'network': {
        const drop = peerIds(body['drop'], 'drop');
        const delay = body['delay_ms'] === undefined ? 0 : durationMs(body['delay_ms'], 'delay_ms', INJECTED_DELAY_MS_MAX);
        const delayMs = Object.fromEntries(peerIds(body['delay_peers'], 'delay_peers').map((id) => [id, delay]));
        target.setNetwork({ drop, delayMs });
        return { fault: 'network', ...rulesBody(target.network()) };
      }
      case 'heal':
        target.setNetwork({ drop: [], delayMs: {} });
        return { fault: 'heal', ...rulesBody(target.network()) };
      default:
        throw new ValidationError(
          'fault: must be "crash", "pause" (with duration_ms), "network" (with drop and/or delay_ms and delay_peers) or "heal"',
        );
    }
  });
}

/** Test-only: reads answered from the local applied state whatever consistency was asked. */
export function registerPlantedBug(app: FastifyInstance, bug: PlantedBug): void {
  if (bug !== 'stale-reads') return;
  app.addHook('preValidation', async (request) => {
    if (request.method !== 'GET' || !request.url.startsWith('/api/')) return;
    const query = request.query as Record<string, unknown>;
    query['consistency'] = 'local';
  });
}

/** Blocks this thread for `ms` without burning the CPU: nothing of the node runs meanwhile, as under SIGSTOP. */
export function blockThread(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
