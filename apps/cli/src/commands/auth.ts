// `mailyard auth verify`: verify one message from stdin (SPF, DKIM, DMARC, ARC) and print its
// Authentication-Results header field, or the whole verdict as JSON. Exit status 0 whatever the
// verdict; 2 only for usage errors. Built on @mailyard/auth.

import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { createResolver, verify } from '@mailyard/auth';
import { parseAddress } from '@mailyard/smtp';
import { type Command, UsageError } from '../io.ts';
import { subcommands } from '../subcommands.ts';

const USAGE = `Usage:
  mailyard auth verify [--dns-server ip[:port]]... [--client-ip IP] [--helo NAME] [--mail-from ADDR]
                       [--authserv-id NAME] [--json] < message
      prints the Authentication-Results header field (or the verdict as JSON with --json)
      --mail-from ''   the null sender <> (SPF then checks the HELO name)
`;

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

const verifyCommand: Command = async (argv, io) => {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      'dns-server': { type: 'string', multiple: true },
      'client-ip': { type: 'string' },
      helo: { type: 'string' },
      'mail-from': { type: 'string' },
      'authserv-id': { type: 'string' },
      'dns-timeout': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  let mailFrom: ReturnType<typeof parseAddress> | null | undefined;
  if (values['mail-from'] !== undefined) {
    const text = values['mail-from'].replace(/^<(.*)>$/, '$1');
    try {
      mailFrom = text === '' ? null : parseAddress(text, { smtputf8: true });
    } catch {
      throw new UsageError(`--mail-from is not an address: ${values['mail-from']}`);
    }
  }
  if (values['client-ip'] !== undefined && !isIP(values['client-ip'])) {
    throw new UsageError(`--client-ip is not an IP address: ${values['client-ip']}`);
  }
  const servers = values['dns-server'] ?? [];
  for (const server of servers) {
    if (!/^(\d{1,3}(\.\d{1,3}){3}(:\d+)?|\[[0-9a-fA-F:]+\](:\d+)?|[0-9a-fA-F:]+)$/.test(server)) {
      throw new UsageError(`--dns-server must be ip[:port]: ${server}`);
    }
  }
  const timeout = values['dns-timeout'] === undefined ? 10_000 : Number(values['dns-timeout']);
  if (!Number.isFinite(timeout) || timeout <= 0)
    throw new UsageError('--dns-timeout must be a positive number of milliseconds');
  const authservId = values['authserv-id'] ?? hostname();
  if (!/^[A-Za-z0-9!#$%&'*+\-.^_`{|}~]+$/.test(authservId))
    throw new UsageError(`--authserv-id is not a token: ${authservId}`);

  const message = await readAll(io.stdin);
  const verdict = await verify(message, {
    resolver: createResolver({ servers, timeoutMs: Math.min(timeout, 3000) }),
    authservId,
    dnsBudgetMs: timeout,
    ...(mailFrom !== undefined ? { envelope: { mailFrom } } : {}),
    ...(values['client-ip'] ? { clientIp: values['client-ip'] } : {}),
    ...(values.helo ? { helo: values.helo } : {}),
  });
  io.stdout.write(
    values.json ? `${JSON.stringify(verdict, null, 2)}\n` : `${verdict.authenticationResults}\r\n`,
  );
  return 0;
};

export const run: Command = subcommands(USAGE, { verify: verifyCommand });
