// `mailyard check domain D`: @mailyard/auth's pre-flight report for a sending domain — SPF allows
// the relay's IPs, each DKIM selector is published and matches our key, DMARC exists and aligns,
// MX and MTA-STS exist. With `--config relay.yaml` the selectors, keys and DNS servers come from
// the relay's configuration. Exit 0 when nothing failed (warnings allowed), 1 otherwise.

import { parseArgs } from 'node:util';
import { checkSenderDomain, createResolver, type SelectorToCheck } from '@mailyard/auth';
import { ConfigError, readRelayConfig } from '@mailyard/relay';
import { type Command, UsageError } from '../io.ts';

const USAGE = `Usage:
  mailyard check domain D --relay-ip IP [--relay-ip IP ...] [--selector S ...] [--config relay.yaml] [--dns-server ip[:port] ...] [--json]
`;

const MARK = { pass: 'ok  ', warn: 'warn', fail: 'FAIL', error: 'ERR ' } as const;

export const run: Command = async (argv, io) => {
  if (argv[0] === '-h' || argv[0] === '--help') {
    io.stdout.write(USAGE);
    return 0;
  }
  if (argv[0] !== 'domain') throw new UsageError(`expected 'domain'\n${USAGE}`);
  let parsed: ReturnType<
    typeof parseArgs<{
      args: string[];
      allowPositionals: true;
      options: {
        'relay-ip': { type: 'string'; multiple: true };
        selector: { type: 'string'; multiple: true };
        config: { type: 'string' };
        'dns-server': { type: 'string'; multiple: true };
        json: { type: 'boolean' };
      };
    }>
  >;
  try {
    parsed = parseArgs({
      args: argv.slice(1),
      allowPositionals: true,
      options: {
        'relay-ip': { type: 'string', multiple: true },
        selector: { type: 'string', multiple: true },
        config: { type: 'string' },
        'dns-server': { type: 'string', multiple: true },
        json: { type: 'boolean' },
      },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  const domain = positionals[0]?.toLowerCase();
  if (!domain || positionals.length !== 1) throw new UsageError(`one domain is needed\n${USAGE}`);
  const selectors: SelectorToCheck[] = (values.selector ?? []).map((selector) => ({ selector }));
  let servers = values['dns-server'] ?? [];
  if (values.config) {
    try {
      const config = readRelayConfig(values.config, io.env);
      for (const key of config.dkim.filter((k) => k.domain === domain)) {
        selectors.push({ selector: key.selector, privateKey: key.privateKey });
      }
      if (servers.length === 0) servers = [...config.dns.servers];
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      for (const problem of error.problems) io.stderr.write(`  ${problem}\n`);
      return 1;
    }
  }
  const relayIps = values['relay-ip'] ?? [];
  if (relayIps.length === 0)
    throw new UsageError(`--relay-ip is needed (the public address the relay sends from)\n${USAGE}`);
  const report = await checkSenderDomain(domain, {
    resolver: createResolver(servers.length > 0 ? { servers } : {}),
    relayIps,
    selectors,
  });
  if (values.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else {
    io.stdout.write(`${report.domain}: ${report.ok ? 'ready to send' : 'problems found'}\n`);
    for (const check of report.checks) {
      const what = [check.check, check.selector, check.ip].filter(Boolean).join(' ');
      io.stdout.write(`  ${MARK[check.status]} ${what}: ${check.detail}\n`);
    }
  }
  return report.ok ? 0 : 1;
};
