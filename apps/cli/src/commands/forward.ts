// `mailyard forward`: run the forwarder (`--config forwarder.yaml`), or validate its configuration
// (`--check-config`: every problem with its path and line, and every check module loaded, exit 1).

import { parseArgs } from 'node:util';
import {
  type ForwarderConfig,
  loadForwarderChecks,
  openForwarder,
  readForwarderConfig,
} from '@mailyard/forwarder';
import { ConfigError } from '@mailyard/service';
import { CheckConfigError } from '@mailyard/smtp';
import { type Command, UsageError } from '../io.ts';

const USAGE = `Usage:
  mailyard forward --config forwarder.yaml                 run the forwarder (SIGINT/SIGTERM stop it gracefully)
  mailyard forward --config forwarder.yaml --check-config  validate the configuration and exit (1 on problems)
Environment: MAILYARD_<KEY> overrides a configuration key (MAILYARD_QUEUE__URL, MAILYARD_DNS__SERVERS, ...).
Annotated example: apps/forwarder/forwarder.example.yaml
`;

export const run: Command = async (argv, io) => {
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
    throw new UsageError(`${(error as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (!values.config) throw new UsageError(`--config is required\n${USAGE}`);
  const problems = (list: readonly string[]): number => {
    io.stderr.write(`mailyard forward: ${values.config}: ${list.length} problem(s)\n`);
    for (const problem of list) io.stderr.write(`  ${problem}\n`);
    return 1;
  };
  let config: ForwarderConfig;
  try {
    config = readForwarderConfig(values.config, io.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return problems(error.problems);
  }
  if (values['check-config']) {
    // Loading the check modules is part of the check: a misspelt package fails here, not at start.
    try {
      await loadForwarderChecks(config);
    } catch (error) {
      if (!(error instanceof CheckConfigError)) throw error;
      return problems(error.issues.map((issue) => `${issue.path}: ${issue.message}`));
    }
    io.stdout.write(`mailyard forward: ${values.config}: configuration OK\n`);
    return 0;
  }
  let forwarder: Awaited<ReturnType<typeof openForwarder>>;
  try {
    forwarder = await openForwarder(config);
  } catch (error) {
    if (!(error instanceof CheckConfigError)) throw error;
    return problems(error.issues.map((issue) => `${issue.path}: ${issue.message}`));
  }
  io.stdout.write(`mailyard forward: mx smtp://${forwarder.listener.host}:${forwarder.listener.port}\n`);
  if (forwarder.adminUrl) io.stdout.write(`mailyard forward: admin ${forwarder.adminUrl}\n`);
  io.stdout.write('mailyard forward: ready\n');
  if (!io.signal.aborted) {
    await new Promise<void>((resolve) =>
      io.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
  }
  io.stdout.write('mailyard forward: stopping\n');
  await forwarder.close();
  io.stdout.write('mailyard forward: stopped\n');
  return 0;
};
