#!/usr/bin/env node
// Entry point of the `collection-store` command. It runs the TypeScript sources
// directly: tsx's loader is registered here so that plain `node` works.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
