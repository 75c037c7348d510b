// The aggregation worker's entry (aggregate-offload.ts starts it): runs the stages after a
// pipeline's leading `$match` (store/aggregate.ts runPipeline) on its own thread, so a
// blocking stage ($group, $sort) over up to AGGREGATE_DOCS_MAX documents holds this thread,
// never the node's event loop, where heartbeats are sent. One job at a time: its input
// arrives in chunks, then `run` answers the output as JSON text or the error.
import { parentPort } from 'node:worker_threads';
import assert from 'node:assert/strict';
import { runPipeline } from '../store/aggregate.ts';
import { StoreError } from '../store/errors.ts';
import type { Document } from '../store/types.ts';
import type { AggregateJobAnswer, AggregateJobMessage, AggregateWorkerReady } from './aggregate-offload.ts';

const port = parentPort;
assert.ok(port !== null, 'aggregate-worker.ts runs as a worker thread');

let job: { id: number; docs: Document[] } | null = null;

port.on('message', (message: AggregateJobMessage) => {
  if (message.type === 'docs') {
    if (job === null || job.id !== message.id) job = { id: message.id, docs: [] };
    for (const doc of message.docs) job.docs.push(doc);
    return;
  }
  const docs = job !== null && job.id === message.id ? job.docs : [];
  job = null;
  let answer: AggregateJobAnswer;
  try {
    const out = runPipeline(docs, message.rest, message.bounds);
    answer = { id: message.id, ok: true, json: `[${out.map((doc) => JSON.stringify(doc)).join(',')}]` };
  } catch (e) {
    const error = e instanceof Error ? e : new Error(String(e));
    answer = { id: message.id, ok: false, code: error instanceof StoreError ? error.code : null, message: error.message };
  }
  port.postMessage(answer);
});

const ready: AggregateWorkerReady = { ready: true };
port.postMessage(ready);
