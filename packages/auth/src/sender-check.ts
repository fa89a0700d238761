// checkSenderDomain(): a pre-flight report of what receivers will think of mail from a domain
// sent through our relay, before any mail is sent: SPF authorises each relay IP (RFC 7208),
// each DKIM selector is published and matches our private key (RFC 6376 §3.6), DMARC exists
// and aligns (RFC 9989), MX exists (so bounces and replies can return), MTA-STS is announced
// (RFC 8461 §3.1; the HTTPS policy itself is not fetched here).

import type { KeyObject } from 'node:crypto';
import { spf } from 'mailauth';
import { type Resolver, withDnsBudget } from './dns.ts';
import { publicKeyValue } from './keys.ts';
import { organizationalDomain } from './org-domain.ts';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'error';

export interface SenderCheck {
  readonly check: 'spf' | 'dkim' | 'dmarc' | 'mx' | 'mta-sts';
  readonly status: CheckStatus;
  /** What a person should know or do, in one sentence. */
  readonly detail: string;
  readonly ip?: string;
  readonly selector?: string;
}

export interface SenderDomainReport {
  readonly domain: string;
  /** True when no check failed or errored (warnings allowed). */
  readonly ok: boolean;
  readonly checks: readonly SenderCheck[];
}

export interface SelectorToCheck {
  readonly selector: string;
  /** Our private key for this selector: the published key must match it. */
  readonly privateKey?: string | Buffer | KeyObject;
}

export interface CheckSenderDomainOptions {
  readonly resolver: Resolver;
  /** The public IP addresses the relay sends from. */
  readonly relayIps: readonly string[];
  readonly selectors: readonly (string | SelectorToCheck)[];
  /** Total DNS time for the whole report (default 15 s). */
  readonly dnsBudgetMs?: number;
}

function code(error: unknown): string {
  return typeof error === 'object' && error !== null && 'code' in error
    ? String((error as { code: unknown }).code)
    : 'ERROR';
}

const NO_DATA = new Set(['ENOTFOUND', 'ENODATA']);

async function txt(resolver: Resolver, name: string): Promise<string[] | null> {
  try {
    const answers = await resolver(name, 'TXT');
    return answers.map((answer) => (Array.isArray(answer) ? answer.join('') : String(answer)));
  } catch (error) {
    if (NO_DATA.has(code(error))) return null;
    throw error;
  }
}

function tags(record: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const spec of record.split(';')) {
    const eq = spec.indexOf('=');
    if (eq > 0) map.set(spec.slice(0, eq).trim().toLowerCase(), spec.slice(eq + 1).replace(/\s+/g, ''));
  }
  return map;
}

async function guarded(
  check: SenderCheck['check'],
  run: () => Promise<SenderCheck[]>,
  extra: Partial<SenderCheck> = {},
) {
  try {
    return await run();
  } catch (error) {
    return [
      {
        check,
        status: 'error' as const,
        detail: `DNS lookup failed (${code(error)}); try again later`,
        ...extra,
      },
    ];
  }
}

export async function checkSenderDomain(
  domain: string,
  options: CheckSenderDomainOptions,
): Promise<SenderDomainReport> {
  const name = domain.toLowerCase().replace(/\.$/, '');
  using budget = withDnsBudget(options.resolver, options.dnsBudgetMs ?? 15_000);
  const { resolver } = budget;
  const checks: SenderCheck[] = [];

  for (const ip of options.relayIps) {
    let verdict: string;
    try {
      const result = await spf({
        ip,
        sender: `postmaster@${name}`,
        helo: name,
        mta: 'preflight',
        resolver: resolver as never,
      });
      verdict = result.status.result;
    } catch (error) {
      checks.push({ check: 'spf', ip, status: 'error', detail: `SPF could not be checked: ${code(error)}` });
      continue;
    }
    checks.push({
      check: 'spf',
      ip,
      status: verdict === 'pass' ? 'pass' : verdict === 'temperror' ? 'error' : 'fail',
      detail:
        verdict === 'pass'
          ? `SPF of ${name} authorises ${ip}`
          : verdict === 'none'
            ? `${name} publishes no SPF record: add one that authorises ${ip} (e.g. "v=spf1 ip4:${ip} -all")`
            : `SPF of ${name} gives ${verdict} for ${ip}: add ${ip.includes(':') ? 'ip6' : 'ip4'}:${ip} to the record`,
    });
  }

  for (const entry of options.selectors) {
    const { selector, privateKey } =
      typeof entry === 'string' ? { selector: entry, privateKey: undefined } : entry;
    checks.push(
      ...(await guarded(
        'dkim',
        async () => {
          const records = await txt(resolver, `${selector}._domainkey.${name}`);
          const record = records?.find((r) => /(^|;)\s*p\s*=/.test(r));
          if (!record)
            return [
              {
                check: 'dkim',
                selector,
                status: 'fail',
                detail: `no DKIM key published at ${selector}._domainkey.${name}`,
              },
            ];
          const published = tags(record);
          const p = published.get('p') ?? '';
          if (p === '')
            return [
              {
                check: 'dkim',
                selector,
                status: 'fail',
                detail: `the key at ${selector}._domainkey.${name} is revoked (empty p=)`,
              },
            ];
          if (privateKey !== undefined && publicKeyValue(privateKey) !== p) {
            return [
              {
                check: 'dkim',
                selector,
                status: 'fail',
                detail: `the key published for selector ${selector} does not match our private key`,
              },
            ];
          }
          if (published.get('t')?.split(':').includes('y')) {
            return [
              {
                check: 'dkim',
                selector,
                status: 'warn',
                detail: `selector ${selector} is in test mode (t=y): receivers may ignore failures`,
              },
            ];
          }
          return [
            {
              check: 'dkim',
              selector,
              status: 'pass',
              detail: `selector ${selector} is published${privateKey ? ' and matches our key' : ''}`,
            },
          ];
        },
        { selector },
      )),
    );
  }

  checks.push(
    ...(await guarded('dmarc', async () => {
      const org = organizationalDomain(name);
      let records = await txt(resolver, `_dmarc.${name}`);
      let at = name;
      if (!records?.some((r) => /^v=DMARC1\b/i.test(r.trim())) && org && org !== name) {
        records = await txt(resolver, `_dmarc.${org}`);
        at = org;
      }
      const record = records?.find((r) => /^v=DMARC1\b/i.test(r.trim()));
      if (!record)
        return [
          {
            check: 'dmarc',
            status: 'fail',
            detail: `no DMARC record at _dmarc.${name}: add "v=DMARC1; p=none; rua=mailto:…" to start`,
          },
        ];
      const policy = tags(record).get(at === name ? 'p' : 'sp') ?? tags(record).get('p') ?? 'none';
      const aligned = options.selectors.length > 0 || options.relayIps.length > 0;
      if (!aligned)
        return [
          {
            check: 'dmarc',
            status: 'warn',
            detail: 'DMARC exists but nothing we send can align: add a DKIM selector or relay IP',
          },
        ];
      if (policy === 'none')
        return [
          {
            check: 'dmarc',
            status: 'warn',
            detail: `DMARC (at ${at}) only monitors (p=none); DKIM d=${name} and MAIL FROM ${name} align`,
          },
        ];
      return [
        {
          check: 'dmarc',
          status: 'pass',
          detail: `DMARC (at ${at}) policy ${policy}; DKIM d=${name} and MAIL FROM ${name} align`,
        },
      ];
    })),
  );

  checks.push(
    ...(await guarded('mx', async () => {
      try {
        const mx = await resolver(name, 'MX');
        return [
          {
            check: 'mx',
            status: mx.length > 0 ? 'pass' : 'warn',
            detail: `${name} has ${mx.length} MX record(s)`,
          },
        ];
      } catch (error) {
        if (!NO_DATA.has(code(error))) throw error;
        return [
          {
            check: 'mx',
            status: 'warn',
            detail: `${name} has no MX record: replies and bounces cannot come back`,
          },
        ];
      }
    })),
  );

  checks.push(
    ...(await guarded('mta-sts', async () => {
      const records = await txt(resolver, `_mta-sts.${name}`);
      return records?.some((r) => /^v=STSv1\b/.test(r.trim()))
        ? [{ check: 'mta-sts', status: 'pass', detail: `MTA-STS is announced for ${name}` }]
        : [
            {
              check: 'mta-sts',
              status: 'warn',
              detail: `no MTA-STS record at _mta-sts.${name} (optional, protects inbound TLS)`,
            },
          ];
    })),
  );

  return { domain: name, ok: checks.every((c) => c.status === 'pass' || c.status === 'warn'), checks };
}
