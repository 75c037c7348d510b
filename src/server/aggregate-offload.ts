// Runs the stages after an aggregation's leading `$match` on a worker thread
// (aggregate-worker.ts), off the node's event loop. mingo's blocking stages ($group, $sort)
// do all their work before their first output document: over AGGREGATE_DOCS_MAX documents
// that was hundreds of milliseconds to seconds in one piece (docs/security.md), enough to
// delay the leader's heartbeats into an election. On the worker they hold only the worker.
//
// The event loop still pays for handing the matches over (a structured clone of each chunk
// of AGGREGATE_CHUNK_DOCS documents, the request's slicer giving turns between chunks) and
// for taking the answer back (one string). The time bound is real here: a job past
// AGGREGATE_TIME_MS_MAX is stopped by terminating the worker (the next job starts a new one),
// and the worker's heap is capped (AGGREGATE_WORKER_HEAP_MB_MAX), so a pipeline that would
// outgrow it fails alone. Jobs run one at a time, in arrival order; at most
// AGGREGATE_JOBS_WAITING_MAX wait or run, more get 429 TOO_MANY_REQUESTS.
import { Worker } from 'node:worker_threads';
import type { AggregateBounds } from '../store/aggregate.ts';
import type { PipelineStage } from '../store/aggregate-validate.ts';
import type { ErrorCode } from '../store/error-codes.ts';
import { StoreError, ValidationError } from '../store/errors.ts';
import type { Document } from '../store/types.ts';
import type { Slicer } from '../store/sort.ts';

/** Documents per message to the worker: a chunk's clone is a few ms of the event loop. */
export const AGGREGATE_CHUNK_DOCS = 1_000;
/** Aggregations waiting for the worker or running on it, per node, at most. */
export const AGGREGATE_JOBS_WAITING_MAX = 16;
/** The worker's old-generation heap (MB), at most: a pipeline that needs more fails alone. */
export const AGGREGATE_WORKER_HEAP_MB_MAX = 512;
/** How long a new worker may take to load (ms), at most. Compiled, it takes tens of ms; run
 * from the TypeScript sources (tests), seconds on a loaded machine. */
export const AGGREGATE_WORKER_START_MS_MAX = 60_000;

/** Main thread → worker. */
export type AggregateJobMessage =
  | { readonly type: 'docs'; readonly id: number; readonly docs: readonly Document[] }
  | { readonly type: 'run'; readonly id: number; readonly rest: readonly PipelineStage[]; readonly bounds: AggregateBounds };

/** Worker → main thread: `ready` once loaded, then one answer per `run`. */
export type AggregateJobAnswer =
  | { readonly id: number; readonly ok: true; readonly json: string }
  | { readonly id: number; readonly ok: false; readonly code: ErrorCode | null; readonly message: string };
export type AggregateWorkerReady = { readonly ready: true };

/** Starts the worker: the compiled .js next to this module, or, run from the TypeScript
 * sources, the .ts entry loaded through tsx (a worker does not inherit the parent's module
 * hooks, so the bootstrap registers tsx's before importing the entry). */
function startWorker(): Worker {
  const fromSources = import.meta.url.endsWith('.ts');
  const entry = new URL(`./aggregate-worker.${fromSources ? 'ts' : 'js'}`, import.meta.url);
  const resourceLimits = { maxOldGenerationSizeMb: AGGREGATE_WORKER_HEAP_MB_MAX };
  if (!fromSources) return new Worker(entry, { resourceLimits });
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((api) => { api.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(bootstrap, { eval: true, resourceLimits });
}

interface Started {
  readonly worker: Worker;
  readonly ready: Promise<void>;
}

export class AggregateOffload {
  private current: Started | null = null;
  private jobs = 0;
  private tail: Promise<void> = Promise.resolve();
  private nextId = 1;
  private closed = false;

  /** Jobs waiting or running now. */
  get jobsWaiting(): number {
    return this.jobs;
  }

  /** The pipeline's output as JSON text (an array), or its error: VALIDATION naming the
   * bound it broke, TOO_MANY_REQUESTS when AGGREGATE_JOBS_WAITING_MAX wait already. */
  async run(docs: readonly Document[], rest: readonly PipelineStage[], bounds: AggregateBounds, slicer: Slicer): Promise<string> {
    if (this.closed) throw new StoreError('NO_LEADER', 'the node is shutting down');
    if (this.jobs >= AGGREGATE_JOBS_WAITING_MAX) {
      throw new StoreError(
        'TOO_MANY_REQUESTS',
        `${AGGREGATE_JOBS_WAITING_MAX} aggregations (AGGREGATE_JOBS_WAITING_MAX) wait for this node's aggregation worker: retry later`,
      );
    }
    this.jobs++;
    const previous = this.tail;
    let finished!: () => void;
    this.tail = new Promise((resolve) => (finished = resolve));
    try {
      await previous;
      if (this.closed) throw new StoreError('NO_LEADER', 'the node is shutting down');
      return await this.runNow(docs, rest, bounds, slicer);
    } finally {
      this.jobs--;
      finished();
    }
  }

  /** Stops the worker; jobs waiting fail. */
  async close(): Promise<void> {
    this.closed = true;
    const current = this.current;
    this.current = null;
    if (current !== null) await current.worker.terminate();
  }

  private started(): Started {
    if (this.current !== null) return this.current;
    const worker = startWorker();
    // An idle worker never keeps the process alive; a job in progress is awaited by a request.
    worker.unref();
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new StoreError('INTERNAL', `the aggregation worker did not load within ${AGGREGATE_WORKER_START_MS_MAX} ms`));
      }, AGGREGATE_WORKER_START_MS_MAX);
      const onMessage = (message: unknown): void => {
        if ((message as Partial<AggregateWorkerReady>).ready !== true) return;
        cleanup();
        resolve();
      };
      const onError = (e: Error): void => {
        cleanup();
        reject(new StoreError('INTERNAL', `the aggregation worker failed to load: ${e.message}`));
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
    });
    const started = { worker, ready };
    // A worker that died (terminated, out of memory, failed to load) is replaced at the next job.
    worker.once('exit', () => {
      if (this.current === started) this.current = null;
    });
    this.current = started;
    return started;
  }

  /** Forgets a worker at once (its 'exit' comes later) and stops it. */
  private discard(started: Started): void {
    if (this.current === started) this.current = null;
    void started.worker.terminate();
  }

  private async runNow(docs: readonly Document[], rest: readonly PipelineStage[], bounds: AggregateBounds, slicer: Slicer): Promise<string> {
    const started = this.started();
    try {
      await started.ready;
    } catch (e) {
      this.discard(started);
      throw e;
    }
    const { worker } = started;
    const id = this.nextId++;
    for (let from = 0; from < docs.length; from += AGGREGATE_CHUNK_DOCS) {
      if (slicer.due()) await slicer.next();
      const message: AggregateJobMessage = { type: 'docs', id, docs: docs.slice(from, from + AGGREGATE_CHUNK_DOCS) };
      worker.postMessage(message);
    }
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        // Stops a blocking stage mid-way: the only way to. The next job starts a new worker.
        this.discard(started);
        reject(new ValidationError(`pipeline: took over AGGREGATE_TIME_MS_MAX (${bounds.timeMsMax} ms): narrow the leading $match or add $limit`));
      }, bounds.timeMsMax);
      const onMessage = (answer: AggregateJobAnswer): void => {
        if (answer.id !== id) return;
        cleanup();
        if (answer.ok) resolve(answer.json);
        else if (answer.code === 'VALIDATION') reject(new ValidationError(answer.message));
        else reject(new StoreError(answer.code ?? 'INTERNAL', answer.message));
      };
      const onError = (e: Error & { code?: string }): void => {
        cleanup();
        if (e.code === 'ERR_WORKER_OUT_OF_MEMORY') {
          reject(
            new ValidationError(
              `pipeline: needed more than AGGREGATE_WORKER_HEAP_MB_MAX (${AGGREGATE_WORKER_HEAP_MB_MAX} MB) of memory: narrow the leading $match or add $limit`,
            ),
          );
        } else reject(new StoreError('INTERNAL', `the aggregation worker failed: ${e.message}`));
      };
      const onExit = (): void => {
        cleanup();
        reject(new StoreError('NO_LEADER', 'the aggregation worker stopped (the node is shutting down)'));
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      const message: AggregateJobMessage = { type: 'run', id, rest, bounds };
      worker.postMessage(message);
    });
  }
}
