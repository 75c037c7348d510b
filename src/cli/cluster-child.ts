// One node process of a local cluster: `collection-store start ...` as a child, its output
// prefixed with `[node i]`, and a way to stop it (SIGTERM, then SIGKILL after a grace).
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LinePrefixer } from './log-lines.ts';

/** bin/collection-store.mjs, found from this file so that any working directory works. */
export const BIN_PATH = fileURLToPath(new URL('../../bin/collection-store.mjs', import.meta.url));

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export function describeExit(exit: ChildExit): string {
  return exit.signal !== null ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}

export class ClusterChild {
  private readonly child: ChildProcess;
  private exitInfo: ChildExit | null = null;
  /** Resolves when the process has exited and its output is flushed. */
  readonly exited: Promise<ChildExit>;

  constructor(
    readonly nodeId: number,
    readonly url: string,
    args: readonly string[],
    writeOut: (line: string) => void,
    writeErr: (line: string) => void,
    /** Node arguments that run the command (`chaos` passes the ones that run itself, e.g. through tsx). */
    command: readonly string[] = [BIN_PATH],
  ) {
    this.child = spawn(process.execPath, [...command, 'start', ...args, '--stop-on-stdin-close'], {
      // Own process group: a Ctrl-C in the terminal reaches only the cluster command, which
      // then stops every node once (a second signal would make a node exit at once).
      detached: true,
      // stdin stays an open pipe: if this process dies, it closes and the node stops.
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out = new LinePrefixer(`[node ${nodeId}]`, writeOut);
    const err = new LinePrefixer(`[node ${nodeId}]`, writeErr);
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => out.push(chunk));
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => err.push(chunk));
    this.child.stdin!.on('error', () => {}); // EPIPE when the child is already gone
    this.exited = new Promise((resolve) => {
      this.child.once('error', (error) => {
        writeErr(`[node ${nodeId}] could not be started: ${error.message}`);
        this.exitInfo = { code: null, signal: null };
        resolve(this.exitInfo);
      });
      // 'close' (not 'exit') so that the last lines of output are printed first.
      this.child.once('close', (code, signal) => {
        out.end();
        err.end();
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitInfo === null;
  }

  /** SIGTERM, then SIGKILL if the node is still running after `graceMs`. */
  async stop(graceMs: number): Promise<ChildExit> {
    if (!this.running) return this.exitInfo!;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.kill(), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}
