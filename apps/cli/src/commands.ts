// The command table of `mailyard`. Each entry loads its module lazily, so `mailyard --help`
// stays fast and a command's dependencies load only when it runs. Add a line per command.

import type { CommandEntry } from './io.ts';

export const commands: Record<string, CommandEntry> = {
  example: {
    summary: 'run the example SMTP server built on @mailyard/smtp (prints every message it accepts)',
    load: () => import('./commands/example.ts'),
  },
};
