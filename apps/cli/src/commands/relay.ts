// `mailyard relay`: run the outbound MTA (`--config relay.yaml`), validate its configuration
// (`--check-config`: every problem with its path and line, exit 1), or add a submission user
// (`adduser --users FILE NAME`, the password read from stdin's first line).

import { parseArgs } from 'node:util';
import { addUser, ConfigError, openRelay, readRelayConfig } from '@mailyard/relay';
import { type Command, UsageError } from '../io.ts';
import { parseServiceArgs, reportProblems, runUntilAborted } from '../service-command.ts';

const USAGE = `Usage:
  mailyard relay --config relay.yaml            run the relay (SIGINT/SIGTERM stop it gracefully)
  mailyard relay --config relay.yaml --check-config
                                                validate the configuration and exit (1 on problems)
  mailyard relay adduser --users users.txt NAME  add or replace a user; the password is read from stdin
Environment: MAILYARD_<KEY> overrides a configuration key (MAILYARD_QUEUE__URL, MAILYARD_DNS__SERVERS, ...).
`;

async function firstLine(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += String(chunk);
    if (text.includes('\n')) break;
  }
  return text.split(/\r?\n/)[0] ?? '';
}

const adduser: Command = async (argv, io) => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: { users: { type: 'string' } },
    allowPositionals: true,
  });
  const name = positionals[0];
  if (!values.users || !name || positionals.length !== 1)
    throw new UsageError(`adduser needs --users FILE and one NAME\n${USAGE}`);
  const password = await firstLine(io.stdin);
  if (password.length < 8) {
    io.stderr.write(
      'mailyard relay adduser: the password (first line of stdin) must have at least 8 characters\n',
    );
    return 1;
  }
  await addUser(values.users, name, password);
  io.stdout.write(`mailyard relay: user ${name} written to ${values.users}\n`);
  return 0;
};

export const run: Command = async (argv, io) => {
  if (argv[0] === 'adduser') return adduser(argv.slice(1), io);
  const args = parseServiceArgs(argv, USAGE, io);
  if (!args) return 0;
  let config: ReturnType<typeof readRelayConfig>;
  try {
    config = readRelayConfig(args.config, io.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return reportProblems(io, 'relay', args.config, error.problems);
  }
  if (args.checkConfig) {
    io.stdout.write(`mailyard relay: ${args.config}: configuration OK\n`);
    return 0;
  }
  const relay = await openRelay(config);
  for (const [name, l] of Object.entries(relay.listeners))
    io.stdout.write(`mailyard relay: ${name} smtp://${l.host}:${l.port}\n`);
  if (relay.adminUrl) io.stdout.write(`mailyard relay: admin ${relay.adminUrl}\n`);
  return runUntilAborted(io, 'relay', relay);
};
