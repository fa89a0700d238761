// What `mailyard relay` and `mailyard forward` share: the `--config FILE [--check-config]` options,
// printing configuration problems, and running the service until SIGINT/SIGTERM (the CLI's abort
// signal), then closing it gracefully.

import { parseArgs } from 'node:util';
import { type CommandIo, UsageError } from './io.ts';

export interface ServiceArgs {
  readonly config: string;
  readonly checkConfig: boolean;
}

/** The parsed options, or null when `--help` was answered. */
export function parseServiceArgs(argv: readonly string[], usage: string, io: CommandIo): ServiceArgs | null {
  let values: { config?: string; 'check-config'?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        config: { type: 'string', short: 'c' },
        'check-config': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${usage}`);
  }
  if (values.help) {
    io.stdout.write(usage);
    return null;
  }
  if (!values.config) throw new UsageError(`--config is required\n${usage}`);
  return { config: values.config, checkConfig: values['check-config'] ?? false };
}

/** Prints `problems` under a heading naming the file; returns the exit code 1. */
export function reportProblems(
  io: CommandIo,
  name: string,
  file: string,
  problems: readonly string[],
): number {
  io.stderr.write(`mailyard ${name}: ${file}: ${problems.length} problem(s)\n`);
  for (const problem of problems) io.stderr.write(`  ${problem}\n`);
  return 1;
}

/** Says it is ready, waits for the abort signal, then closes the service. */
export async function runUntilAborted(
  io: CommandIo,
  name: string,
  service: { close(): Promise<void> },
): Promise<number> {
  io.stdout.write(`mailyard ${name}: ready\n`);
  if (!io.signal.aborted) {
    await new Promise<void>((resolve) =>
      io.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
  }
  io.stdout.write(`mailyard ${name}: stopping\n`);
  await service.close();
  io.stdout.write(`mailyard ${name}: stopped\n`);
  return 0;
}
