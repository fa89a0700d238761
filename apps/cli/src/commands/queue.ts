// `mailyard queue ls|show|retry|hold|release|delete|bounce`: operate the queue of a relay or a
// forwarder, opened from its configuration (its data dir's SQLite file, or `queue.url` PostgreSQL). Only operator
// changes are made: no worker runs here. Staged chunks younger than an hour are left alone, so a
// relay enqueueing at the same moment is not disturbed.

import { parseArgs } from 'node:util';
import { openQueue, openQueueStore, type Queue, type RecipientState } from '@mailyard/queue';
import { ConfigError } from '@mailyard/service';
import { type Command, UsageError } from '../io.ts';
import { readMtaConfig } from '../mta-config.ts';

const USAGE = `Usage:
  mailyard queue ls [--state S] [--rcpt ADDR] [--limit N] [--json] --config relay.yaml|forwarder.yaml
  mailyard queue show ID --config relay.yaml
  mailyard queue retry|hold|release|bounce ID [--rcpt ADDR] --config relay.yaml
  mailyard queue delete ID --config relay.yaml
`;

const ACTIONS = ['ls', 'show', 'retry', 'hold', 'release', 'delete', 'bounce'] as const;
type Action = (typeof ACTIONS)[number];

function parse(args: string[]) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        state: { type: 'string', multiple: true },
        rcpt: { type: 'string' },
        limit: { type: 'string' },
        json: { type: 'boolean' },
      },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${USAGE}`);
  }
}

export const run: Command = async (argv, io) => {
  const action = argv[0] as Action | undefined;
  if (action === undefined || (action as string) === '--help' || (action as string) === '-h') {
    io.stdout.write(USAGE);
    return action === undefined ? 2 : 0;
  }
  if (!ACTIONS.includes(action)) throw new UsageError(`unknown subcommand '${action}'\n${USAGE}`);
  const parsed = parse(argv.slice(1));
  const { values, positionals } = parsed;
  if (!values.config) throw new UsageError(`--config is required\n${USAGE}`);
  const id = positionals[0];
  if (action !== 'ls' && !id) throw new UsageError(`${action} needs a queue id\n${USAGE}`);
  let config: ReturnType<typeof readMtaConfig>['config'];
  try {
    ({ config } = readMtaConfig(values.config, io.env));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) io.stderr.write(`  ${problem}\n`);
    return 1;
  }
  // An operator command: a few statements, not worth starting the store thread for.
  const store = await openQueueStore({ ...config.queue, dataDir: config.dataDir, thread: false });
  try {
    await using queue = await openQueue({ store, orphanAgeMs: 3_600_000 });
    return await operate(queue);
  } finally {
    await store.close();
  }
  async function operate(queue: Queue): Promise<number> {
    const print = (value: unknown): void => {
      io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    };
    switch (action) {
      case 'ls': {
        const list = await queue.list({
          ...(values.state ? { state: values.state as RecipientState[] } : {}),
          ...(values.rcpt ? { rcpt: values.rcpt } : {}),
          limit: values.limit ? Number(values.limit) : 100,
        });
        if (values.json) print(list);
        else {
          for (const m of list) {
            io.stdout.write(`${m.queueId}  ${m.createdAt.toISOString()}  ${m.size}  <${m.mailFrom ?? ''}>\n`);
            for (const r of m.recipients) {
              io.stdout.write(
                `    ${r.state.padEnd(10)} ${r.rcpt}  attempts=${r.attempts}${r.lastReply ? `  ${r.lastReply}` : ''}\n`,
              );
            }
          }
        }
        return 0;
      }
      case 'show': {
        const detail = await queue.show(id as string);
        if (!detail) {
          io.stderr.write(`mailyard queue: no message ${id}\n`);
          return 1;
        }
        print(detail);
        return 0;
      }
      case 'delete': {
        const deleted = await queue.delete(id as string);
        io.stdout.write(deleted ? `deleted ${id}\n` : `no message ${id}\n`);
        return deleted ? 0 : 1;
      }
      default: {
        const count = await queue[action as 'retry'](id as string, values.rcpt);
        io.stdout.write(`${action}: ${count} recipient(s) of ${id}\n`);
        return 0;
      }
    }
  }
};
