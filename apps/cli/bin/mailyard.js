#!/usr/bin/env node
// The `mailyard` command. In the workspace it runs the TypeScript source (Node >= 22.18 strips
// types) and resolves workspace packages through their "source" export condition, so no build
// is needed and a stale dist/ never shadows the code. A published copy has only dist/.
import { existsSync } from 'node:fs';
import { registerHooks } from 'node:module';

const source = new URL('../src/main.ts', import.meta.url);
if (existsSync(source)) {
  registerHooks({
    resolve: (specifier, context, next) =>
      next(specifier, { ...context, conditions: ['source', ...(context.conditions ?? [])] }),
  });
  await import(source.href);
} else {
  await import(new URL('../dist/main.js', import.meta.url).href);
}
