// The commander options shared by `start` and `cluster` (passed through to every node).
import { Option, type Command } from 'commander';
import { LOG_LEVELS, TUNING_DEFAULTS } from './flags.ts';

export function addTuningOptions(command: Command): Command {
  return command
    .addOption(new Option('--cluster-id <id>', 'cluster id checked in every peer handshake').default(TUNING_DEFAULTS.clusterId))
    .addOption(
      new Option('--snapshot-threshold <entries>', 'take a snapshot after this many applied log entries').default(TUNING_DEFAULTS.snapshotThreshold),
    )
    .addOption(
      new Option('--election-timeout <ms>', 'minimum election timeout; elections wait a random ms..2*ms').default(TUNING_DEFAULTS.electionTimeoutMs),
    )
    .addOption(
      new Option('--heartbeat-interval <ms>', 'leader heartbeat interval, less than --election-timeout').default(TUNING_DEFAULTS.heartbeatIntervalMs),
    )
    .addOption(new Option('--log-level <level>', `log level: ${LOG_LEVELS.join(', ')}`).default(TUNING_DEFAULTS.logLevel));
}
