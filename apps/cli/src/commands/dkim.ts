// `mailyard dkim keygen|sign`: make a DKIM key and the DNS record to publish for it, or sign a
// message from stdin (like dkimpy's dkimsign). Built on @mailyard/auth.

import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { dkimDnsRecord, generateDkimKey, signDkim } from '@mailyard/auth';
import { type Command, UsageError } from '../io.ts';
import { subcommands } from '../subcommands.ts';

const USAGE = `Usage:
  mailyard dkim keygen --domain D --selector S [--type ed25519|rsa] [--bits N] [--out key.pem]
      writes the private key (to --out, else to stdout) and prints the DNS TXT record to publish
  mailyard dkim sign --key key.pem --domain D --selector S [--canonicalization relaxed/relaxed] < message > signed
      prints the message with its DKIM-Signature header field on top
`;

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

function required(values: Record<string, unknown>, ...names: string[]): void {
  for (const name of names)
    if (typeof values[name] !== 'string' || values[name] === '')
      throw new UsageError(`--${name} is required\n${USAGE}`);
}

const keygen: Command = async (argv, io) => {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      domain: { type: 'string' },
      selector: { type: 'string' },
      type: { type: 'string', default: 'ed25519' },
      bits: { type: 'string' },
      out: { type: 'string' },
    },
    strict: true,
  });
  required(values, 'domain', 'selector');
  if (values.type !== 'ed25519' && values.type !== 'rsa')
    throw new UsageError(`--type must be ed25519 or rsa\n${USAGE}`);
  const bits = values.bits === undefined ? undefined : Number(values.bits);
  if (bits !== undefined && (!Number.isInteger(bits) || bits < 2048))
    throw new UsageError('--bits must be an integer of at least 2048');
  const key = generateDkimKey({ type: values.type, ...(bits !== undefined ? { bits } : {}) });
  const record = dkimDnsRecord({
    domain: values.domain as string,
    selector: values.selector as string,
    key: key.privateKey,
  });
  if (values.out) {
    // The private key is a secret: readable by its owner only, and never overwritten by accident.
    await writeFile(values.out, key.privateKey, { mode: 0o600, flag: 'wx' });
    io.stderr.write(`wrote ${values.type} private key to ${values.out}\n`);
  } else {
    io.stdout.write(key.privateKey);
  }
  io.stdout.write(`${record.zoneLine}\n`);
  return 0;
};

const sign: Command = async (argv, io) => {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      key: { type: 'string' },
      domain: { type: 'string' },
      selector: { type: 'string' },
      canonicalization: { type: 'string', default: 'relaxed/relaxed' },
    },
    strict: true,
  });
  required(values, 'key', 'domain', 'selector');
  const canonicalization = values.canonicalization;
  if (!/^(simple|relaxed)\/(simple|relaxed)$/.test(canonicalization)) {
    throw new UsageError('--canonicalization must be header/body with simple or relaxed');
  }
  const privateKey = await readFile(values.key as string, 'utf8');
  const message = await readAll(io.stdin);
  const signatures = await signDkim(message, {
    domain: values.domain as string,
    selector: values.selector as string,
    privateKey,
    canonicalization: canonicalization as 'relaxed/relaxed',
  });
  io.stdout.write(signatures);
  io.stdout.write(message);
  return 0;
};

export const run: Command = subcommands(USAGE, { keygen, sign });
