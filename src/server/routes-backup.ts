// GET /cluster/backup (root): a consistent backup of the whole cluster's state, streamed
// from this node (any member: a follower confirms its read point with the leader, so the
// leader need not do the encoding). The file format: src/node/backup-format.ts.
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { backupChunks, captureBackup, type BackupCapture } from '../node/backup-stream.ts';
import { nextTurn } from '../node/node-waiting.ts';
import { StoreError } from '../store/errors.ts';
import { queryParams } from './http-input.ts';
import type { RouteContext } from './route-context.ts';

/**
 * Backups a node streams at once. Each holds its capture (the documents as they were at its
 * index: old versions stay in memory while it lasts) and takes CPU to encode; beyond this
 * many, TOO_MANY_REQUESTS (429, nothing was done).
 */
export const BACKUPS_IN_FLIGHT_MAX = 2;

export function registerBackupRoutes(app: FastifyInstance, { backend }: RouteContext): void {
  let inFlight = 0;
  app.get('/cluster/backup', async (request, reply) => {
    queryParams(request.query, []);
    if (inFlight >= BACKUPS_IN_FLIGHT_MAX) {
      throw new StoreError('TOO_MANY_REQUESTS', `${BACKUPS_IN_FLIGHT_MAX} backups are being streamed by this node already; retry when one ends`);
    }
    inFlight++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      inFlight--;
    };
    let capture: BackupCapture;
    try {
      capture = await captureBackup(backend);
    } catch (error) {
      release();
      throw error;
    }
    // However the response ends (sent, client gone, an error mid-way), the slot is freed.
    reply.raw.once('close', release);
    request.log.info({ index: capture.header.index, term: capture.header.term }, 'backup started');
    void reply
      .type('application/octet-stream')
      .header('content-disposition', `attachment; filename="collection-store-${capture.header.index}.backup"`)
      .header('x-backup-index', String(capture.header.index))
      .header('x-backup-term', String(capture.header.term));
    return reply.send(Readable.from(paced(capture), { objectMode: false }));
  });
}

/** The file's parts, one per turn of the event loop, so that heartbeats and requests go on. */
async function* paced(capture: BackupCapture): AsyncGenerator<Buffer> {
  for (const chunk of backupChunks(capture)) {
    yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    await nextTurn();
  }
}
