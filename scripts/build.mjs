#!/usr/bin/env node
// Builds the package's compiled output in dist/ (what `import 'collection-store'` loads):
// JavaScript and declarations from src/ by tsc, plus the dashboard's browser files, which
// the server reads next to its own module. dist/ is rebuilt from scratch so that nothing
// of a deleted source lingers.
import { cpSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
rmSync('dist', { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
cpSync('src/dashboard/browser', 'dist/dashboard/browser', { recursive: true });
