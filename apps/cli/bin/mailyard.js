#!/usr/bin/env node
// The `mailyard` command. Built, it runs dist/. In the workspace it runs the TypeScript source
// (Node >= 22.18 strips types) and resolves workspace packages through their "source" export
// condition, so no build step is needed before use.
import { existsSync } from 'node:fs';
import { registerHooks } from 'node:module';

const built = new URL('../dist/main.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  registerHooks({
    resolve: (specifier, context, next) =>
      next(specifier, { ...context, conditions: ['source', ...(context.conditions ?? [])] }),
  });
  await import(new URL('../src/main.ts', import.meta.url).href);
}
