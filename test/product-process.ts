// How tests start the product as a process of its own (a node, the CLI): from the compiled
// build when CS_TEST_DIST=1, which scripts/run-tests.mjs sets (`npm test` builds dist/ first,
// from these very sources), otherwise from the sources through tsx, so that a test file run
// by hand sees the sources as they are. tsx compiles on every start: about 0.8 s more per node
// process on the 2-core machine, and the suite starts a few hundred of them.
import { fileURLToPath } from 'node:url';

export const FROM_DIST = process.env['CS_TEST_DIST'] === '1';

const BIN = fileURLToPath(new URL('../bin/collection-store.mjs', import.meta.url));
const CLI_SOURCE = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

/** The node arguments that run the `collection-store` command, before its own arguments. */
export const CLI_COMMAND: readonly string[] = FROM_DIST ? [BIN] : ['--import', 'tsx', CLI_SOURCE];

/** The node arguments that run a script which imports the product (a .mjs fixture that picks
 * dist/ or src/ by FROM_DIST): tsx only for the sources. */
export function scriptCommand(script: string): string[] {
  return FROM_DIST ? [script] : ['--import', 'tsx', script];
}
