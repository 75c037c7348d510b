// The `collection-store` command: wires the subcommands into commander and turns every
// failure into one line on stderr with a meaningful exit code (2: usage, 1: failure).
import { Command, CommanderError } from 'commander';
import { registerBackup } from './backup.ts';
import { registerChaos } from './chaos.ts';
import { registerCluster } from './cluster.ts';
import { registerRestore } from './restore.ts';
import { registerStart } from './start.ts';
import { registerStatus } from './status.ts';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, messageOf, printError, PROGRAM_NAME, UsageError } from './usage-error.ts';

/** Help that commander printed on request, not because of an error. */
const HELP_CODES = new Set(['commander.helpDisplayed', 'commander.version']);

export function buildProgram(): Command {
  const program = new Command(PROGRAM_NAME)
    .description('Collection Store: a replicated document database (Raft cluster nodes, local clusters, status)')
    .version('0.1.0', '-V, --version')
    // Settings set before .command() are inherited by every subcommand.
    .exitOverride()
    .configureOutput({
      // Commander's messages look like "error: unknown option '--x'"; ours are one line
      // starting with the program name, like every other failure of this command.
      outputError: (message) =>
        printError(
          message
            .replace(/^error:\s*/, '')
            .replace(/\s*\(Did you mean/, ' (did you mean')
            .trim() + ' (see --help)',
        ),
    })
    .showSuggestionAfterError(true);
  registerStart(program);
  registerCluster(program);
  registerStatus(program);
  registerChaos(program);
  registerBackup(program);
  registerRestore(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Already printed by commander (help, version, or one line through outputError).
      if (HELP_CODES.has(error.code)) process.exit(EXIT_OK);
      // Help shown because no command was given.
      if (error.code === 'commander.help') process.exit(error.exitCode === 0 ? EXIT_OK : EXIT_USAGE);
      process.exit(EXIT_USAGE);
    }
    if (error instanceof UsageError) {
      printError(error.message);
      process.exit(EXIT_USAGE);
    }
    printError(messageOf(error));
    process.exit(EXIT_FAILURE);
  }
}

await main(process.argv.slice(2));
