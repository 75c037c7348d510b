// Memory per 1 KB document resident (issue #15's last row; target: at most 2x the JSON size),
// measured in a fresh process so that nothing else on the heap is counted.
import { join } from 'node:path';
import { runFixture } from './fixtures/run-fixture.ts';
import { progress } from './util.ts';

export interface MemoryPerDocument {
  readonly documents: number;
  /** JSON.stringify of each stored document, `_id` included. */
  readonly jsonBytesPerDocument: number;
  /** Growth of heapUsed + external (all V8 and Buffer memory) and of the RSS, per document. */
  readonly perDocumentAfterLoad: { readonly heapAndExternalBytes: number; readonly rssBytes: number };
  /** The same after a snapshot compacted the log: the documents and their `_id` index alone. */
  readonly perDocumentAfterSnapshot: { readonly heapAndExternalBytes: number; readonly rssBytes: number };
  /** perDocumentAfterSnapshot.heapAndExternalBytes / jsonBytesPerDocument (target ≤ 2). */
  readonly heapPerJsonByte: number;
}

export async function memoryPerDocument(base: string, documents: number): Promise<MemoryPerDocument> {
  progress(`memory: ${documents} documents of about 1 KB in a fresh process`);
  return runFixture<MemoryPerDocument>('memory-child.ts', [join(base, 'memory'), String(documents)]);
}
