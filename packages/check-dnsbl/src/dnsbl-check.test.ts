import {
  type Check,
  type CheckContext,
  type ChecksOutcome,
  type ConnectionInfo,
  createDnsResolver,
  runChecks,
} from '@mailyard/smtp';
import { type DnsServer, startDns, type Zone } from '@mailyard/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCheck } from './dnsbl-check.ts';

// A real zone on a loopback DNS server, with the RFC 5782 §5 test points: 127.0.0.2 and
// ::FFFF:7F00:2 are listed, 127.0.0.1 and ::FFFF:7F00:1 are not.
const V6_LISTED = '2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0';
const ZONE: Zone = {
  '2.0.0.127.bl.test': { A: ['127.0.0.2'], TXT: ['Listed\r\nsee https://bl.test/q?127.0.0.2'] },
  [`${V6_LISTED}.bl.test`]: { A: ['127.0.0.2'] },
  '2.0.0.127.other.test': { A: ['127.0.0.4', '127.0.0.10'] },
  '2.0.0.127.err.test': { A: ['127.255.255.254'] },
  '2.0.0.127.wild.test': { A: ['192.0.2.1'] },
  '2.0.0.127.codes.test': { A: ['127.0.0.20'] },
  '2.0.0.127.broken.test': { failure: 'SERVFAIL' },
  '2.0.0.127.slow1.test': { failure: 'timeout' },
  '2.0.0.127.slow2.test': { failure: 'timeout' },
  '2.0.0.127.slow3.test': { failure: 'timeout' },
  'spam.example.dbl.test': { A: ['127.0.1.2'], TXT: ['spam domain'] },
  'bad-helo.example.dbl.test': { A: ['127.0.1.3'] },
};

let dns: DnsServer;
beforeAll(async () => {
  dns = await startDns(ZONE);
});
afterAll(async () => {
  await dns.close();
});

interface Logged {
  level: string;
  fields: Record<string, unknown>;
  message: string | undefined;
}

function setup(options: unknown) {
  const logged: Logged[] = [];
  const log = (level: string) => (fields: object, message?: string) =>
    logged.push({ level, fields: fields as Record<string, unknown>, message });
  const logger = { info: log('info'), warn: log('warn'), error: log('error') };
  const resolver = createDnsResolver({ servers: [dns.address], timeout: 2000, tries: 1 });
  const check = createCheck(options, { resolver, logger, path: 'checks[0].options' });
  return { check, logged, resolver, logger };
}

function connectionFrom(remoteAddress: string, extra: Partial<ConnectionInfo> = {}): ConnectionInfo {
  return {
    sessionId: 's',
    listener: 'smtp',
    localAddress: '127.0.0.1',
    localPort: 25,
    remoteAddress,
    remotePort: 40000,
    clientHostname: `[${remoteAddress}]`,
    helo: 'client.example',
    esmtp: true,
    secure: false,
    tls: null,
    user: null,
    ...extra,
  };
}

/** connect, MAIL and one RCPT, as a server would call them; the first rejection ends it. */
async function transaction(
  check: Check,
  context: Omit<CheckContext, 'signal' | 'envelope'>,
  from = 'alice@example.com',
  to = 'bob@example.net',
): Promise<{ stage: string; outcome: ChecksOutcome; tags: string[] }> {
  const [local = '', domain = ''] = from.split('@');
  const mailFrom = { localPart: local, domain };
  const [toLocal = '', toDomain = ''] = to.split('@');
  const steps = [
    () => runChecks([check], { stage: 'connect' }, { ...context, envelope: null }),
    () =>
      runChecks(
        [check],
        { stage: 'mail', from: mailFrom },
        { ...context, envelope: { mailFrom, rcptTo: [], params: {} } },
      ),
    () =>
      runChecks(
        [check],
        { stage: 'rcpt', to: { address: { localPart: toLocal, domain: toDomain } } },
        { ...context, envelope: { mailFrom, rcptTo: [], params: {} } },
      ),
  ];
  const stages = ['connect', 'mail', 'rcpt'];
  const tags: string[] = [];
  let last: { stage: string; outcome: ChecksOutcome } = {
    stage: 'none',
    outcome: { action: 'accept', tags: [] },
  };
  for (const [i, step] of steps.entries()) {
    const outcome = await step();
    tags.push(...outcome.tags.map((tag) => `${tag.check}: ${tag.tag}`));
    last = { stage: stages[i] ?? '', outcome };
    if (outcome.action === 'reject') break;
  }
  return { ...last, tags };
}

describe('the DNSBL check against a loopback zone', () => {
  it('rejects the listed test point 127.0.0.2 at RCPT with 554 5.7.1 and the TXT reason', async () => {
    const { check, resolver, logger } = setup({ zones: ['bl.test'] });
    const { stage, outcome } = await transaction(check, {
      connection: connectionFrom('127.0.0.2'),
      resolver,
      logger,
    });
    expect(stage).toBe('rcpt');
    expect(outcome.action).toBe('reject');
    if (outcome.action !== 'reject') return;
    expect(outcome.error.code).toBe(554);
    expect(outcome.error.enhanced).toBe('5.7.1');
    expect(outcome.error.message).toBe(
      'Service unavailable; client [127.0.0.2] blocked using bl.test; Listed see https://bl.test/q?127.0.0.2',
    );
  });

  it('accepts the test point 127.0.0.1, which no list may contain', async () => {
    const { check, resolver, logger } = setup({ zones: ['bl.test'] });
    const { outcome } = await transaction(check, {
      connection: connectionFrom('127.0.0.1'),
      resolver,
      logger,
    });
    expect(outcome).toEqual({ action: 'accept', tags: [] });
  });

  it('asks IPv6 lists with nibbles: ::FFFF:7F00:2 listed, ::FFFF:7F00:1 not', async () => {
    const { check, resolver, logger } = setup({ zones: ['bl.test'] });
    const listed = await transaction(check, {
      connection: connectionFrom('::ffff:7f00:2'),
      resolver,
      logger,
    });
    expect(listed.outcome.action).toBe('reject');
    const clean = await transaction(check, { connection: connectionFrom('::ffff:7f00:1'), resolver, logger });
    expect(clean.outcome.action).toBe('accept');
  });

  it('looks up an IPv4-mapped client as IPv4', async () => {
    const { check, resolver, logger } = setup({ zones: ['bl.test'] });
    const { outcome } = await transaction(check, {
      connection: connectionFrom('::ffff:127.0.0.2'),
      resolver,
      logger,
    });
    expect(outcome.action).toBe('reject');
    expect(dns.queries.some((q) => q.name === '2.0.0.127.bl.test')).toBe(true);
  });

  it('rejects at connect when told to, before the greeting', async () => {
    const { check, resolver, logger } = setup({ zones: ['bl.test'], stage: 'connect' });
    const { stage, outcome } = await transaction(check, {
      connection: connectionFrom('127.0.0.2'),
      resolver,
      logger,
    });
    expect(stage).toBe('connect');
    expect(outcome.action === 'reject' && outcome.error.code).toBe(554);
  });

  it('lets postmaster and abuse through at RCPT', async () => {
    const { check, resolver, logger } = setup({ zones: ['bl.test'] });
    const context = { connection: connectionFrom('127.0.0.2'), resolver, logger };
    expect(
      (await transaction(check, context, 'a@example.com', 'PostMaster@example.net')).outcome.action,
    ).toBe('accept');
    expect((await transaction(check, context, 'a@example.com', 'abuse@example.net')).outcome.action).toBe(
      'accept',
    );
  });

  it('does not check an authenticated client at MAIL and RCPT', async () => {
    const { check, resolver, logger } = setup({ zones: ['bl.test'] });
    const connection = connectionFrom('127.0.0.2', { user: 'alice' });
    expect((await transaction(check, { connection, resolver, logger })).outcome.action).toBe('accept');
  });

  it('tags instead of rejecting with action tag, naming every listing', async () => {
    const { check, resolver, logger } = setup({ zones: ['bl.test', 'other.test'], action: 'tag' });
    const { outcome, tags } = await transaction(check, {
      connection: connectionFrom('127.0.0.2'),
      resolver,
      logger,
    });
    expect(outcome.action).toBe('accept');
    expect(tags).toEqual([
      'dnsbl: client 127.0.0.2 listed in bl.test (127.0.0.2); client 127.0.0.2 listed in other.test (127.0.0.4,127.0.0.10)',
    ]);
  });

  it('ignores the 127.255.255.x error codes, and logs them', async () => {
    const { check, resolver, logger, logged } = setup({ zones: ['err.test'] });
    const { outcome } = await transaction(check, {
      connection: connectionFrom('127.0.0.2'),
      resolver,
      logger,
    });
    expect(outcome.action).toBe('accept');
    expect(logged.some((l) => l.level === 'warn' && l.message?.includes('error code'))).toBe(true);
  });

  it('ignores answers outside 127.0.0.0/8 and codes it is not told to count', async () => {
    const { check, resolver, logger } = setup({
      zones: ['wild.test', { zone: 'codes.test', codes: ['127.0.0.2-127.0.0.11'] }],
    });
    const { outcome } = await transaction(check, {
      connection: connectionFrom('127.0.0.2'),
      resolver,
      logger,
    });
    expect(outcome.action).toBe('accept');
  });

  it('counts only the configured codes', async () => {
    const { check, resolver, logger } = setup({
      zones: [{ zone: 'other.test', codes: ['127.0.0.10-127.0.0.11'] }],
    });
    const { outcome } = await transaction(check, {
      connection: connectionFrom('127.0.0.2'),
      resolver,
      logger,
    });
    expect(outcome.action === 'reject' && outcome.error.message).toBe(
      'Service unavailable; client [127.0.0.2] blocked using other.test',
    );
  });

  it('fails open on a DNS failure, and logs it', async () => {
    const { check, resolver, logger, logged } = setup({ zones: ['broken.test'] });
    const { outcome } = await transaction(check, {
      connection: connectionFrom('127.0.0.2'),
      resolver,
      logger,
    });
    expect(outcome.action).toBe('accept');
    expect(logged.some((l) => l.level === 'warn' && l.fields.zone === 'broken.test')).toBe(true);
  });

  it('asks the lists in parallel, each bounded by timeoutMs, and fails open on silence', async () => {
    const { check, resolver, logger, logged } = setup({
      zones: ['slow1.test', 'slow2.test', 'slow3.test', 'bl.test'],
      timeoutMs: 300,
      stage: 'connect',
    });
    const started = performance.now();
    const outcome = await runChecks(
      [check],
      { stage: 'connect' },
      { connection: connectionFrom('127.0.0.2'), resolver, logger, envelope: null },
    );
    const elapsed = performance.now() - started;
    // Three silent lists one after another would take 900 ms.
    expect(elapsed).toBeLessThan(800);
    expect(outcome.action).toBe('reject');
    expect(logged.filter((l) => l.message?.includes('timed out')).map((l) => l.fields.zone)).toEqual([
      'slow1.test',
      'slow2.test',
      'slow3.test',
    ]);
  });

  it('asks the client lists once per connection, however many recipients', async () => {
    const { check, resolver, logger } = setup({ zones: ['other.test'], action: 'reject' });
    const connection = connectionFrom('127.0.0.2');
    const before = dns.queries.filter((q) => q.name === '2.0.0.127.other.test' && q.type === 'A').length;
    await transaction(check, { connection, resolver, logger });
    await transaction(check, { connection, resolver, logger });
    const after = dns.queries.filter((q) => q.name === '2.0.0.127.other.test' && q.type === 'A').length;
    expect(after - before).toBe(1);
  });

  it('rejects a listed MAIL FROM domain and a listed HELO name (RHSBL)', async () => {
    const { check, resolver, logger } = setup({ domainZones: ['dbl.test'] });
    const sender = await transaction(
      check,
      { connection: connectionFrom('127.0.0.1'), resolver, logger },
      'x@spam.example',
    );
    expect(sender.outcome.action === 'reject' && sender.outcome.error.message).toBe(
      'Service unavailable; sender domain spam.example blocked using dbl.test; spam domain',
    );
    const helo = await transaction(check, {
      connection: connectionFrom('127.0.0.1', { helo: 'Bad-Helo.example' }),
      resolver,
      logger,
    });
    expect(helo.outcome.action === 'reject' && helo.outcome.error.message).toBe(
      'Service unavailable; HELO name bad-helo.example blocked using dbl.test',
    );
  });

  it('asks domain lists only about the domains it is told to', async () => {
    const { check, resolver, logger } = setup({ domainZones: ['dbl.test'], domains: ['mailFrom'] });
    const helo = await transaction(check, {
      connection: connectionFrom('127.0.0.1', { helo: 'bad-helo.example' }),
      resolver,
      logger,
    });
    expect(helo.outcome.action).toBe('accept');
  });

  it('skips the null sender and an address-literal HELO', async () => {
    const { check, resolver, logger } = setup({ domainZones: ['dbl.test'] });
    const connection = connectionFrom('127.0.0.1', { helo: '[127.0.0.1]' });
    const outcome = await runChecks(
      [check],
      { stage: 'mail', from: null },
      { connection, resolver, logger, envelope: null },
    );
    expect(outcome.action).toBe('accept');
  });
});
