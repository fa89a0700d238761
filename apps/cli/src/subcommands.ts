// Dispatch for commands that have subcommands (`mailyard rules check`, `mailyard dkim keygen`):
// help, unknown subcommands and node:util parseArgs errors all become the same usage answers.

import { type Command, UsageError } from './io.ts';

function isParseArgsError(error: unknown): error is Error {
  return error instanceof Error && String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS');
}

export function subcommands(usage: string, table: Readonly<Record<string, Command>>): Command {
  return async (argv, io) => {
    const [sub, ...rest] = argv;
    if (sub === undefined || sub === '-h' || sub === '--help') {
      io.stdout.write(usage);
      return sub === undefined ? 2 : 0;
    }
    const command = Object.hasOwn(table, sub) ? table[sub] : undefined;
    if (!command) {
      const names = Object.keys(table).join(', ');
      throw new UsageError(`unknown subcommand '${sub}' (expected ${names})\n\n${usage}`);
    }
    try {
      return await command(rest, io);
    } catch (error) {
      if (isParseArgsError(error)) throw new UsageError(`${error.message}\n\n${usage}`);
      throw error;
    }
  };
}
