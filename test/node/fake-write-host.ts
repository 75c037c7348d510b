// A WritePath (src/node/node-writes.ts) over a fake node: a leader that records what it
// proposes and applies nothing until the test settles an index. For unit tests of the write
// path's own logic (stamps, keyed writes in flight) without a Raft core.
import type { Logger } from 'pino';
import type { ApplyPacing } from '../../src/node/apply-pacing.ts';
import { decodeCommand } from '../../src/node/command-codec.ts';
import { InsertCoalescer } from '../../src/node/insert-coalescer.ts';
import { PendingProposals } from '../../src/node/pending-proposals.ts';
import { WritePath, type WriteHost } from '../../src/node/node-writes.ts';
import type { Command, CommandResult } from '../../src/store/commands.ts';
import { sessionKey } from '../../src/store/sessions.ts';

export interface FakeWrites {
  readonly writes: WritePath;
  /** Commands proposed so far, decoded from the bytes the core got, by index (1, 2, ...). */
  readonly proposed: Command[];
  /** Warnings logged (message, fields). */
  readonly warnings: Array<{ message: string; fields: Record<string, unknown> }>;
  /** Applies the entry at `index` with `result`: its proposer's promise resolves. */
  settle(index: number, result: CommandResult): void;
  /** The applied log clock the host reports. */
  logTimeMs: number;
  /** The session table the host reports: results recorded, by session key. */
  readonly recorded: Map<string, CommandResult>;
}

export function fakeWrites(options: { requestTimeoutMs?: number; logTimeMs?: number } = {}): FakeWrites {
  const proposals = new PendingProposals(1000);
  const proposed: Command[] = [];
  const warnings: FakeWrites['warnings'] = [];
  const logger = {
    warn: (fields: Record<string, unknown>, message: string) => warnings.push({ message, fields }),
    debug: () => undefined,
    info: () => undefined,
  } as unknown as Logger;
  const state = { logTimeMs: options.logTimeMs ?? 0 };
  const recorded = new Map<string, CommandResult>();
  const host: WriteHost = {
    requestTimeoutMs: options.requestTimeoutMs ?? 5000,
    logger,
    logTimeMs: () => state.logTimeMs,
    sessionLookup: (tag) => {
      const result = recorded.get(sessionKey(tag));
      return result === undefined ? { kind: 'new' } : { kind: 'replay', result };
    },
    core: () => ({
      acceptsProposals: () => true,
      propose: (data: Uint8Array) => {
        proposed.push(decodeCommand(data));
        return proposed.length;
      },
      currentTerm: () => 1,
    }),
    coreStatus: () => ({ role: 'leader', leader: 1 }) as ReturnType<WriteHost['coreStatus']>,
    isClosed: () => false,
    hasFailed: () => false,
    assertUsable: () => undefined,
    guarded: <T>(call: () => T): T => call(),
    scheduleReady: () => undefined,
    forward: () => Promise.reject(new Error('no forwarding in the fake')),
    waitApplied: () => Promise.resolve(),
    waitForLeaderChange: (deadline: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now()))),
  };
  const writes = new WritePath(host, proposals, new InsertCoalescer(1000), {} as ApplyPacing);
  return {
    writes,
    proposed,
    warnings,
    recorded,
    settle: (index, result) => proposals.settle({ index, term: 1, type: 'normal', data: new Uint8Array() } as never, result),
    get logTimeMs() {
      return state.logTimeMs;
    },
    set logTimeMs(value: number) {
      state.logTimeMs = value;
    },
  };
}
