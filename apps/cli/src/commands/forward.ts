// `mailyard forward`: run the forwarder (`--config forwarder.yaml`), or validate its configuration
// (`--check-config`: every problem with its path and line, and every check module loaded, exit 1).

import {
  type Forwarder,
  type ForwarderConfig,
  loadForwarderChecks,
  openForwarder,
  readForwarderConfig,
} from '@mailyard/forwarder';
import { ConfigError } from '@mailyard/service';
import { CheckConfigError } from '@mailyard/smtp';
import type { Command } from '../io.ts';
import { parseServiceArgs, reportProblems, runUntilAborted } from '../service-command.ts';

const USAGE = `Usage:
  mailyard forward --config forwarder.yaml                 run the forwarder (SIGINT/SIGTERM stop it gracefully)
  mailyard forward --config forwarder.yaml --check-config  validate the configuration and exit (1 on problems)
Environment: MAILYARD_<KEY> overrides a configuration key (MAILYARD_QUEUE__URL, MAILYARD_DNS__SERVERS, ...).
Annotated example: apps/forwarder/forwarder.example.yaml
`;

export const run: Command = async (argv, io) => {
  const args = parseServiceArgs(argv, USAGE, io);
  if (!args) return 0;
  const problems = (list: readonly string[]): number => reportProblems(io, 'forward', args.config, list);
  let config: ForwarderConfig;
  try {
    config = readForwarderConfig(args.config, io.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return problems(error.problems);
  }
  const checked = (error: unknown): number => {
    if (!(error instanceof CheckConfigError)) throw error;
    return problems(error.issues.map((issue) => `${issue.path}: ${issue.message}`));
  };
  if (args.checkConfig) {
    // Loading the check modules is part of checking: a misspelt package fails here, not at start.
    try {
      await loadForwarderChecks(config);
    } catch (error) {
      return checked(error);
    }
    io.stdout.write(`mailyard forward: ${args.config}: configuration OK\n`);
    return 0;
  }
  let forwarder: Forwarder;
  try {
    forwarder = await openForwarder(config);
  } catch (error) {
    return checked(error);
  }
  io.stdout.write(`mailyard forward: mx smtp://${forwarder.listener.host}:${forwarder.listener.port}\n`);
  if (forwarder.adminUrl) io.stdout.write(`mailyard forward: admin ${forwarder.adminUrl}\n`);
  return runUntilAborted(io, 'forward', forwarder);
};
