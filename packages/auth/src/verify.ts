// verify(): one inbound message -> one Verdict. Runs SPF (RFC 7208), every DKIM signature
// (RFC 6376, RFC 8301, RFC 8463), the ARC chain (RFC 8617 §5.2) and DMARC (RFC 9989) through
// mailauth, and writes the Authentication-Results header field (RFC 8601 §2). Failed checks,
// broken input and DNS trouble are verdicts, never exceptions; all DNS shares one time budget.

import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import type { Envelope } from '@mailyard/smtp';
import { formatAddress } from '@mailyard/smtp';
import { arc, dkimVerify, dmarc, spf } from 'mailauth';
import { arcSealTagProblem } from './arc-seal-tags.ts';
import { type Resolver, withDnsBudget } from './dns.ts';
import { type ArcKey, sealPrepared } from './seal.ts';
import type {
  ArcVerdict,
  AuthResult,
  DkimVerdict,
  DmarcPolicy,
  DmarcVerdict,
  SpfVerdict,
  Verdict,
} from './verdict.ts';

export type MessageInput = string | Uint8Array | Readable;

export interface VerifyOptions {
  /** The SMTP envelope: its mailFrom is the SPF MAIL FROM identity (`null` = `<>`, SPF checks HELO). */
  readonly envelope?: Pick<Envelope, 'mailFrom'>;
  /** The connecting client's IP address; SPF is not checked without it. */
  readonly clientIp?: string;
  /** The EHLO/HELO name the client gave. */
  readonly helo?: string;
  /** DNS: every lookup goes through it (see `createResolver`, `createStaticResolver`). */
  readonly resolver: Resolver;
  /** Our authserv-id (RFC 8601 §2.5), usually the host name of this MTA. */
  readonly authservId: string;
  /** Total time for all DNS lookups of this verification (default 10 s); after it, lookups are temperror. */
  readonly dnsBudgetMs?: number;
  /** At most this many DNS lookups per verification (default 200); beyond, lookups are temperror. */
  readonly maxDnsLookups?: number;
  /** RSA keys shorter than this fail with `policy` (default 1024, RFC 8301 §3.2). */
  readonly minRsaBits?: number;
  /** The clock, for DKIM t=/x= (default: the system clock). */
  readonly now?: () => Date;
  /**
   * Seal the message with this key too (the verdict's `arcSeal`): the seal's body hash is taken in
   * the same pass as DKIM's, so the message is read once for both, not once more by sealArc().
   */
  readonly sealWith?: ArcKey;
  /** With `sealWith`: seal only when this says so (e.g. not a message about to be refused). */
  readonly sealIf?: (verdict: Verdict) => boolean;
}

const TOKEN = /^[A-Za-z0-9!#$%&'*+\-.^_`{|}~]+$/;
const AUTH_RESULTS: ReadonlySet<string> = new Set([
  'pass',
  'fail',
  'softfail',
  'neutral',
  'none',
  'temperror',
  'permerror',
  'policy',
]);

function toResult(value: unknown): AuthResult {
  if (value === 'temperr') return 'temperror';
  return typeof value === 'string' && AUTH_RESULTS.has(value) ? (value as AuthResult) : 'temperror';
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Folds one `method=result …` entry at spaces so no line of the header field is overly long (RFC 5322 §2.2.3). */
function fold(entry: string, width = 78): string {
  // mailauth's entries come unfolded: skip the unfolding pass (and, for a short one, all work).
  const flat = /[\r\n]/.test(entry) ? entry.replace(/[\r\n]+[ \t]*/g, ' ') : entry;
  if (flat.length <= width) return flat;
  const words = flat.split(' ');
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines.join('\r\n\t');
}

function toInput(message: MessageInput): Buffer | Readable {
  if (typeof message === 'string') return Buffer.from(message, 'utf8');
  if (message instanceof Uint8Array) return Buffer.isBuffer(message) ? message : Buffer.from(message);
  return message;
}

function comment(text: string): string {
  return text
    .replace(/[()\\]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 120);
}

interface SpfOutcome {
  readonly verdict: SpfVerdict;
  readonly domain: string | undefined;
  /** The Authentication-Results entry, or null when SPF was not checked. */
  readonly entry: string | null;
}

/** SPF for the MAIL FROM identity, or HELO for the null sender (RFC 7208 §2.4); never rejects. */
async function checkSpf(
  options: VerifyOptions,
  resolver: (name: string, rrtype: string) => Promise<string[][]>,
): Promise<SpfOutcome> {
  if (!options.clientIp) {
    return {
      verdict: { result: 'none', domain: null, identity: null, comment: 'not checked: no client IP' },
      domain: undefined,
      entry: null,
    };
  }
  const mailFrom = options.envelope?.mailFrom;
  const sender = mailFrom ? formatAddress(mailFrom) : undefined;
  const helo = options.helo && isIP(options.helo) ? `[${options.helo}]` : options.helo;
  try {
    const result = await spf({
      ip: options.clientIp,
      ...(sender ? { sender } : {}),
      ...(helo ? { helo } : {}),
      mta: options.authservId,
      // No maxElapsedTime: the budgeted resolver already ends every lookup at the deadline,
      // and mailauth's own limit would race one more timer against the whole evaluation.
      resolver,
    });
    return {
      verdict: {
        result: toResult(result.status.result),
        domain: result.domain ?? null,
        identity: sender ? 'mailfrom' : 'helo',
        ...(result.explanation ? { explanation: result.explanation } : {}),
        ...(result.status.comment ? { comment: result.status.comment } : {}),
        ...(result.header ? { receivedSpf: result.header.replace(/\r?\n$/, '') } : {}),
      },
      domain: result.domain,
      entry: result.info,
    };
  } catch (error) {
    return {
      verdict: { result: 'temperror', domain: null, identity: null, comment: describe(error) },
      domain: undefined,
      entry: `spf=temperror (${comment(describe(error))})`,
    };
  }
}

/**
 * Verifies one message. Resolves with a Verdict for any input, including malformed messages and
 * unusable DNS; rejects only for a programming error in the options (a bad authservId).
 */
export async function verify(message: MessageInput, options: VerifyOptions): Promise<Verdict> {
  const { authservId } = options;
  if (!TOKEN.test(authservId)) throw new TypeError(`authservId must be an RFC 2045 token: ${authservId}`);
  using budget = withDnsBudget(options.resolver, options.dnsBudgetMs ?? 10_000, options.maxDnsLookups ?? 200);
  const resolver = budget.resolver as (name: string, rrtype: string) => Promise<string[][]>;
  const minBitLength = options.minRsaBits ?? 1024;
  const entries: string[] = [];
  // mailauth fills in `bodyHash` while it reads the message.
  const sealing: { signingDomain: string; selector: string; bodyHash?: string } | undefined = options.sealWith
    ? { signingDomain: options.sealWith.domain, selector: options.sealWith.selector }
    : undefined;

  // SPF needs only the envelope: it runs while DKIM reads the message (one DNS round trip less).
  const spfPending = checkSpf(options, resolver);
  // DKIM (and the ARC chain's parsed headers, which dkimVerify collects in the same pass).
  type DkimResult = Awaited<ReturnType<typeof dkimVerify>>;
  let dkimResult: DkimResult | undefined;
  let dkim: DkimVerdict[] = [];
  try {
    dkimResult = await dkimVerify(toInput(message), {
      resolver,
      minBitLength,
      ...(options.now ? { curTime: options.now() } : {}),
      ...(sealing ? { seal: sealing } : {}),
    } as Parameters<typeof dkimVerify>[1]);
    dkim = dkimResult.results
      .filter((row) => row.signature !== undefined || row.signingDomain !== undefined)
      .map((row) => ({
        result: toResult(row.status.result),
        domain: row.signingDomain ?? null,
        selector: row.selector ?? null,
        algorithm: row.algo ?? null,
        aligned: false,
        signaturePrefix: row.signature ? row.signature.slice(0, 8) : null,
        ...(row.status.comment ? { comment: row.status.comment } : {}),
      }));
  } catch (error) {
    entries.push(`dkim=temperror (${comment(describe(error))})`);
  }
  if (dkimResult) {
    if (dkim.length === 0) entries.push('dkim=none (message not signed)');
    else for (const row of dkimResult.results) entries.push(row.info);
  }

  const { verdict: spfVerdict, domain: spfDomain, entry: spfEntry } = await spfPending;
  if (spfEntry) entries.push(spfEntry);

  // ARC (RFC 8617 §5.2), with the ARC-Seal tag checks mailauth's lenient mode skips.
  type ArcResult = Awaited<ReturnType<typeof arc>>;
  let arcResult: ArcResult | undefined;
  let arcVerdict: ArcVerdict = { result: 'none', instance: 0 };
  const arcData = (dkimResult as unknown as { arc?: Parameters<typeof arc>[0] } | undefined)?.arc;
  if (dkimResult && arcData) {
    try {
      arcResult = await arc(arcData, {
        resolver,
        minBitLength,
        ...(options.clientIp ? { ip: options.clientIp } : {}),
      });
      const instance = typeof arcResult.i === 'number' ? arcResult.i : 0;
      arcVerdict = {
        result:
          arcResult.status.result === 'pass' ? 'pass' : arcResult.status.result === 'none' ? 'none' : 'fail',
        instance,
        ...(arcResult.status.comment ? { comment: arcResult.status.comment } : {}),
      };
      const problem =
        arcVerdict.result === 'pass' ? arcSealTagProblem(dkimResult.headers?.parsed ?? []) : null;
      if (problem) {
        arcVerdict = { result: 'fail', instance, comment: problem };
        arcResult.status.result = 'fail';
        arcResult.status.comment = problem;
        arcResult.info = `arc=fail (${comment(problem)})`;
      }
      if (arcResult.info) entries.push(arcResult.info);
    } catch (error) {
      arcVerdict = { result: 'fail', instance: 0, comment: describe(error) };
      entries.push(`arc=fail (${comment(describe(error))})`);
    }
  }

  // DMARC (RFC 9989 §4.7): aligned SPF or DKIM pass.
  let dmarcVerdict: DmarcVerdict = {
    result: 'none',
    fromDomain: null,
    orgDomain: null,
    policy: null,
    alignment: { spf: null, dkim: null },
  };
  if (dkimResult) {
    const headerFrom = dkimResult.headerFrom ?? [];
    try {
      const result = await dmarc({
        headerFrom,
        fromFields: dkimResult.fromFields,
        spfDomains: spfVerdict.result === 'pass' && spfDomain ? [spfDomain] : [],
        dkimDomains: dkimResult.results
          .filter((row) => row.status.result === 'pass' && row.signingDomain)
          .map((row) => ({
            ...(row.id ? { id: row.id } : {}),
            domain: row.signingDomain as string,
            ...(row.status.aligned !== undefined ? { aligned: row.status.aligned } : {}),
            ...(row.status.underSized !== undefined ? { underSized: row.status.underSized } : {}),
          })),
        ...(arcResult ? { arcResult } : {}),
        resolver,
      });
      if (result) {
        const spfAligned = result.alignment?.spf?.result || null;
        const dkimAligned = result.alignment?.dkim?.result || null;
        const status = result.status.result;
        dmarcVerdict = {
          result:
            status === 'pass' || status === 'fail' || status === 'temperror' || status === 'permerror'
              ? status
              : 'none',
          fromDomain: result.status.header?.from ?? null,
          orgDomain: result.domain || null,
          policy: (['none', 'quarantine', 'reject'].includes(result.policy)
            ? result.policy
            : null) as DmarcPolicy | null,
          alignment: { spf: spfAligned, dkim: dkimAligned },
          ...(result.status.comment ? { comment: result.status.comment } : {}),
        };
        if (dkimAligned) {
          dkim = dkim.map((row) =>
            row.result === 'pass' && row.domain?.toLowerCase() === dkimAligned.toLowerCase()
              ? { ...row, aligned: true }
              : row,
          );
        }
        if (result.info) entries.push(result.info);
      } else {
        const fromDomain =
          headerFrom.length === 1 ? (headerFrom[0]?.split('@').pop()?.toLowerCase() ?? null) : null;
        dmarcVerdict = { ...dmarcVerdict, fromDomain, comment: 'no usable From domain' };
      }
    } catch (error) {
      dmarcVerdict = { ...dmarcVerdict, result: 'temperror', comment: describe(error) };
      entries.push(`dmarc=temperror (${comment(describe(error))})`);
    }
  }

  const results = entries.length > 0 ? entries.map((entry) => fold(entry)) : ['none'];
  const value = `${authservId};\r\n\t${results.join(';\r\n\t')}`;
  const verdict: Verdict = {
    authservId,
    spf: spfVerdict,
    dkim,
    dmarc: dmarcVerdict,
    arc: arcVerdict,
    authenticationResults: `Authentication-Results: ${value}`,
    authenticationResultsValue: value,
    dnsBudgetExhausted: budget.exhausted(),
  };
  if (!options.sealWith || options.sealIf?.(verdict) === false) return verdict;
  const arcSeal =
    dkimResult && sealing?.bodyHash
      ? await sealPrepared(
          {
            headers: dkimResult.headers,
            arc: (dkimResult as unknown as { arc?: unknown }).arc,
            bodyHash: sealing.bodyHash,
          },
          verdict,
          options.sealWith,
          options.now ? { now: options.now } : {},
        )
      : ({ sealed: false, reason: 'the message could not be read for sealing' } as const);
  return { ...verdict, arcSeal };
}
