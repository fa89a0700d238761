// `mailyard example`: placeholder until the server lands.
import type { Command } from '../io.ts';

export const run: Command = async (_argv, io) => {
  io.stdout.write('not yet\n');
  return 0;
};
