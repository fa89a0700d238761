#!/usr/bin/env node
// The `mailyard` command. Runs the TypeScript source on Node >= 22.18 (type stripping) inside
// the workspace, and the built output once published.
import { existsSync } from 'node:fs';

const built = new URL('../dist/main.js', import.meta.url);
await import(existsSync(built) ? built.href : new URL('../src/main.ts', import.meta.url).href);
