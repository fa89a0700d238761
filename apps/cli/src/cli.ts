// Argument dispatch for `mailyard`: `--help`, `--version`, and `mailyard <command> [args]`.

import { commands } from './commands.ts';
import { type CommandIo, UsageError } from './io.ts';
import { version } from './version.ts';

export function usage(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, entry]) => `  ${name.padEnd(width)}  ${entry.summary}`);
  return [
    'Usage: mailyard <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Options:',
    '  -h, --help     show this help',
    '  -v, --version  print the version',
    '',
    'Run `mailyard <command> --help` for the options of a command.',
    '',
  ].join('\n');
}

export async function main(argv: readonly string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    io.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '-v' || name === '--version') {
    io.stdout.write(`mailyard ${version}\n`);
    return 0;
  }
  const entry = commands[name];
  if (!entry) {
    io.stderr.write(`mailyard: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  try {
    const { run } = await entry.load();
    return await run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`mailyard ${name}: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}
