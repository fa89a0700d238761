// `mailyard sink`: the test sink with no configuration needed (SMTP 127.0.0.1:1025, HTTP
// 127.0.0.1:8025, SQLite in ./.mailyard/). Flags and MAILYARD_* env as in @mailyard/sink's
// config; stops gracefully when the command's signal aborts (SIGINT/SIGTERM).

import { readFileSync } from 'node:fs';
import { ConfigError, openSink, parseSinkConfig, USAGE } from '@mailyard/sink';
import { type Command, UsageError } from '../io.ts';
import { version } from '../version.ts';

export const run: Command = async (argv, io) => {
  let config: ReturnType<typeof parseSinkConfig>;
  try {
    config = parseSinkConfig(argv, io.env);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`\n  ${error.problems.join('\n  ')}\n\n${USAGE}`);
    throw error;
  }
  if (config === 'help') {
    io.stdout.write(USAGE);
    return 0;
  }
  const sink = await openSink({
    smtp: config.smtp,
    http: config.listen,
    database: config.database,
    maxMessages: config.max,
    maxAgeMs: config.maxAgeMs,
    smtpAuth: {
      mode: config.smtpAuth,
      credentials: config.smtpCredentials,
      required: config.smtpAuthRequired,
    },
    tls:
      config.tlsCert && config.tlsKey
        ? { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) }
        : null,
    implicitTls: config.implicitTls,
    requireStarttls: config.requireStarttls,
    uiAuth: config.uiAuth,
    maxMessageSize: config.maxMessageSize,
    relay: config.relay,
    relayAll: config.relayAll,
    relayMatching: config.relayMatching,
    verdicts: config.verdicts ? { dnsServers: config.dnsServers } : false,
    label: config.label,
    version,
  });
  io.stdout.write(`mailyard sink: SMTP ${sink.smtpUrl}\n`);
  io.stdout.write(`mailyard sink: web UI and API ${sink.httpUrl}\n`);
  io.stdout.write(`mailyard sink: database ${config.database}\n`);
  if (!io.signal.aborted) {
    await new Promise<void>((resolve) =>
      io.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
  }
  io.stdout.write('mailyard sink: stopping\n');
  await sink.close();
  return 0;
};
