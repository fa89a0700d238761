// The CLI as a library: lets tests and embedders run `mailyard` commands in-process.
export { main, usage } from './cli.ts';
export type { Command, CommandEntry, CommandIo } from './io.ts';
export { UsageError } from './io.ts';
export { version } from './version.ts';
