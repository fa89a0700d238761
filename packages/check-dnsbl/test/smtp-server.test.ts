// The check as an app uses it: loaded by package name through loadChecks, in front of a real
// SMTP server through withChecks, asked about real clients — a socket bound to 127.0.0.2 (the
// RFC 5782 listed test point) or 127.0.0.1 (never listed) — against a loopback DNS zone.
import {
  type CheckConfigError,
  createDnsResolver,
  createSmtpServer,
  loadChecks,
  type SmtpServer,
  withChecks,
} from '@mailyard/smtp';
import { type DnsServer, replyCodes, sendRaw, startDns } from '@mailyard/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startGuardedServer } from '../examples/server.ts';

let dns: DnsServer;
beforeAll(async () => {
  dns = await startDns({
    '2.0.0.127.zen.spamhaus.org': {
      A: ['127.0.0.2'],
      TXT: ['https://check.spamhaus.org/query/ip/127.0.0.2'],
    },
    'spam.example.dbl.spamhaus.org': { A: ['127.0.1.2'] },
  });
});
afterAll(async () => {
  await dns.close();
});

/** The replies to one whole transaction that is accepted: greeting to QUIT. */
const DELIVERED = ['220', '250', '250 2.1.0', '250 2.1.5', '354', '250 2.6.0', '221 2.0.0'];

const servers: SmtpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close({ deadline: 1000 })));
});

/** Speaks `input` to the server from `localAddress` and returns every reply until it closes. */
const talk = (port: number, localAddress: string, input: string): Promise<string> =>
  sendRaw('127.0.0.1', port, input, { localAddress });

const MESSAGE = 'DATA\r\nSubject: hi\r\n\r\nhello\r\n.\r\nQUIT\r\n';

async function startExample(): Promise<number> {
  const server = await startGuardedServer(0, { servers: [dns.address], tries: 1 });
  servers.push(server);
  return server.addresses[0]?.port ?? 0;
}

describe('the README example server (check loaded by package name)', () => {
  it('refuses a listed client (127.0.0.2) at RCPT with 554 5.7.1 and the list’s reason', async () => {
    const port = await startExample();
    const replies = await talk(
      port,
      '127.0.0.2',
      'EHLO client.example\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\nQUIT\r\n',
    );
    expect(replyCodes(replies)).toEqual(['220', '250', '250 2.1.0', '554 5.7.1', '221 2.0.0']);
    expect(replies).toContain(
      '554 5.7.1 Service unavailable; client [127.0.0.2] blocked using zen.spamhaus.org; https://check.spamhaus.org/query/ip/127.0.0.2',
    );
  });

  it('still lets a listed client reach postmaster@', async () => {
    const port = await startExample();
    const replies = await talk(
      port,
      '127.0.0.2',
      `EHLO client.example\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<postmaster@example.com>\r\n${MESSAGE}`,
    );
    expect(replyCodes(replies)).toEqual(DELIVERED);
  });

  it('accepts mail from 127.0.0.1, the test point no list contains', async () => {
    const port = await startExample();
    const replies = await talk(
      port,
      '127.0.0.1',
      `EHLO client.example\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\n${MESSAGE}`,
    );
    expect(replyCodes(replies)).toEqual(DELIVERED);
  });

  it('refuses a sender whose domain is on the domain list', async () => {
    const port = await startExample();
    const replies = await talk(
      port,
      '127.0.0.1',
      'EHLO client.example\r\nMAIL FROM:<x@spam.example>\r\nRCPT TO:<bob@example.com>\r\nQUIT\r\n',
    );
    expect(replyCodes(replies)).toEqual(['220', '250', '250 2.1.0', '554 5.7.1', '221 2.0.0']);
    expect(replies).toContain('sender domain spam.example blocked using dbl.spamhaus.org');
  });
});

describe('the check in other configurations', () => {
  const logger = { info() {}, warn() {}, error() {} };

  async function startWith(options: unknown, messages: string[] = []): Promise<number> {
    const host = { resolver: createDnsResolver({ servers: [dns.address], tries: 1 }), logger };
    const checks = await loadChecks(
      [{ module: '@mailyard/check-dnsbl', options }],
      host,
      (name) => import(name),
    );
    const backend = {
      connect: () => ({
        async mail() {},
        async rcpt() {},
        async data(message: AsyncIterable<Buffer>) {
          let text = '';
          for await (const chunk of message) text += chunk.toString();
          messages.push(text);
          return 'queued';
        },
      }),
    };
    const server = createSmtpServer({ hostname: 'mx.test' }, withChecks(backend, checks, host));
    servers.push(server);
    const [address] = await server.listen();
    return address?.port ?? 0;
  }

  it('refuses a listed client before the greeting with stage connect', async () => {
    const port = await startWith({ zones: ['zen.spamhaus.org'], stage: 'connect' });
    const replies = await talk(port, '127.0.0.2', 'QUIT\r\n');
    expect(replyCodes(replies)[0]).toBe('554 5.7.1');
  });

  it('lets a listed client through with a tag header field with action tag', async () => {
    const messages: string[] = [];
    const port = await startWith({ zones: ['zen.spamhaus.org'], action: 'tag' }, messages);
    const replies = await talk(
      port,
      '127.0.0.2',
      `EHLO client.example\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\n${MESSAGE}`,
    );
    expect(replyCodes(replies)).toContain('250 2.6.0');
    expect(messages[0]).toMatch(
      /^X-Mailyard-Check: dnsbl; client 127\.0\.0\.2 listed in zen\.spamhaus\.org \(127\.0\.0\.2\)\r\nReceived: /,
    );
  });

  it('reports bad options with their config path', async () => {
    const error = (await startWith({ zones: ['zen.spamhaus.org', 'not a zone'], action: 'drop' }).catch(
      (e: unknown) => e,
    )) as CheckConfigError;
    expect(error.name).toBe('CheckConfigError');
    expect(error.issues.map((issue) => issue.path)).toEqual([
      'checks[0].options.zones[1]',
      'checks[0].options.action',
    ]);
  });
});
