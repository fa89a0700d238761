// An MX that refuses clients listed on Spamhaus ZEN at RCPT (postmaster@ and abuse@ still get
// through) and senders whose domain is on the DBL, with the check loaded by package name the
// way an app's config names it.
// Run it:   pnpm exec node --conditions=source packages/check-dnsbl/examples/server.ts [port]
import {
  createDnsResolver,
  createSmtpServer,
  type DnsOption,
  loadChecks,
  type SmtpServer,
  withChecks,
} from '@mailyard/smtp';

export async function startGuardedServer(port = 2525, dns?: DnsOption): Promise<SmtpServer> {
  const resolver = createDnsResolver(dns);
  const host = { resolver, logger: console };
  const checks = await loadChecks(
    [
      {
        module: '@mailyard/check-dnsbl',
        options: {
          zones: [{ zone: 'zen.spamhaus.org', codes: ['127.0.0.2-127.0.0.11'] }],
          domainZones: ['dbl.spamhaus.org'],
          timeoutMs: 2000,
        },
      },
    ],
    host,
    (name) => import(name), // resolves check packages from this app's dependencies
  );
  const backend = {
    connect: () => ({
      async mail() {},
      async rcpt() {},
      async data(message: AsyncIterable<Buffer>) {
        let bytes = 0;
        for await (const chunk of message) bytes += chunk.length;
        return `queued, ${bytes} bytes`;
      },
    }),
  };
  const server = createSmtpServer(
    { hostname: 'mx.example.test', listeners: [{ host: '127.0.0.1', port }] },
    withChecks(backend, checks, host),
  );
  await server.listen();
  return server;
}

if (import.meta.main) {
  const server = await startGuardedServer(Number(process.argv[2] ?? 2525));
  console.log(`listening on ${server.addresses.map((a) => `${a.host}:${a.port}`).join(', ')}`);
  process.once('SIGINT', () => void server.close({ deadline: 5000 }));
}
