#!/usr/bin/env node
// Entry point of the `collection-store` command: the compiled build in dist/, run by plain
// node (no TypeScript loader at run time). `npm ci` and `npm run build` make dist/; from the
// sources, `npm run cli -- <args>` runs the same command through tsx.
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('collection-store: the compiled build is missing (dist/cli/main.js): run `npm run build` first\n');
  process.exit(1);
}
await import(main.href);
