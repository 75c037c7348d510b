// `collection-store restore --from FILE --data-dir DIR --node-id N`: prepares a data
// directory from a backup file; `start` on it runs a new cluster of one member holding the
// backup's state (src/node/backup-restore.ts). A damaged file or a data directory that is
// not empty is refused before anything is written, with exit code 1.
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { MAX_NODE_ID, parseClusterIdFlag, parseIntegerFlag, parsePortFlag, TUNING_DEFAULTS } from './flags.ts';
import { EXIT_FAILURE, messageOf, printError, UsageError } from './usage-error.ts';

interface RawRestoreOptions {
  readonly from?: unknown;
  readonly dataDir?: unknown;
  readonly nodeId?: unknown;
  readonly clusterId?: unknown;
  readonly port?: unknown;
}

/** "1 document", "2 documents". */
function counted(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

export function registerRestore(program: Command): void {
  program
    .command('restore')
    .description("prepare a data directory from a backup file: started, it is a new cluster of one member with the backup's state")
    .option('--from <file>', 'the backup file, written by `collection-store backup` (required)')
    .option('--data-dir <dir>', 'the data directory to prepare; must be missing or empty (required)')
    .option('--node-id <id>', 'the id of the node that will run on it (required)')
    .option('--cluster-id <id>', 'the cluster id the node will be started with', TUNING_DEFAULTS.clusterId)
    .option('--port <port>', 'the port the node will be started on, only to print its start command (default: none)')
    .action(async (raw: RawRestoreOptions) => {
      if (typeof raw.from !== 'string' || raw.from.trim() === '') throw new UsageError('--from is required');
      if (typeof raw.dataDir !== 'string' || raw.dataDir.trim() === '') throw new UsageError('--data-dir is required');
      if (raw.nodeId === undefined) throw new UsageError('--node-id is required');
      const nodeId = parseIntegerFlag('--node-id', raw.nodeId, 1, MAX_NODE_ID);
      const clusterId = parseClusterIdFlag('--cluster-id', raw.clusterId);
      const port = raw.port === undefined ? undefined : parsePortFlag('--port', raw.port);
      const started = Date.now();
      try {
        // Loaded here, not at the top: other commands and --help need not load the store and server.
        const { restoreDataDir } = await import('../node/backup-restore.ts');
        const { AUTH_ENABLED_FILE } = await import('../server/start-node.ts');
        const summary = await restoreDataDir({ from: resolve(raw.from), dataDir: resolve(raw.dataDir), nodeId, clusterId });
        // A backup with users comes from a cluster with authentication on: the node must
        // require it from its first request, as its source did (start-node.ts's marker).
        if (summary.hasAuth)
          await writeFile(join(summary.dataDir, AUTH_ENABLED_FILE), 'authentication is on in this cluster (restored from a backup)\n', {
            mode: 0o600,
          });
        const { header } = summary;
        process.stdout.write(
          `restored ${counted(summary.documents, 'document')} in ${counted(summary.collections, 'collection')} (log index ${header.index} of the backup taken ${header.createdAt}) ` +
            `into ${summary.dataDir} in ${((Date.now() - started) / 1000).toFixed(1)} s\n` +
            `start it: collection-store start --node-id ${nodeId} --data-dir ${summary.dataDir}` +
            `${clusterId !== TUNING_DEFAULTS.clusterId ? ` --cluster-id ${clusterId}` : ''} --port ${port ?? '<port>'}\n` +
            'then add members with POST /cluster/members and start them with --join\n',
        );
      } catch (error) {
        printError(`restore failed: ${messageOf(error)}`);
        process.exitCode = EXIT_FAILURE;
      }
    });
}
