// The non-recipient conditions of a rule (sender, client IP, AUTH identity, size, verification
// verdicts, header fields), compiled to small predicates over the facts of one message. They
// answer in three values because at RCPT time (RFC 5321 §3.3) the verdicts and headers do not
// exist yet: `unknown` lets `accepts` keep both outcomes open instead of guessing.

import { matchGlob } from './glob.ts';
import { cidrContains, type IpAddress, parseIp } from './ip.ts';
import type { RuleSpec, SenderPattern } from './schema.ts';
import type { AuthMethod, Facts } from './types.ts';

export const NO = 0;
export const YES = 1;
export const UNKNOWN = 2;
export type Tri = typeof NO | typeof YES | typeof UNKNOWN;

/** The facts of one message, prepared once for all rules. `undefined` means not known. */
export interface Context {
  readonly senderKey: string | null;
  readonly senderLocal: string | null;
  readonly senderDomain: string | null;
  /** null: the client IP was given but is not an IP address; it then matches no prefix. */
  readonly clientIp: IpAddress | null | undefined;
  readonly clientIpText: string | undefined;
  readonly authUser: string | null | undefined;
  readonly size: number | undefined;
  readonly auth: Facts['auth'];
  readonly headers: Facts['headers'];
}

export interface Condition {
  /** Evaluates to YES, NO, or UNKNOWN when a fact it needs is missing. */
  test(ctx: Context): Tri;
  /** Why the condition did not hold, for explanations. */
  why(ctx: Context): string;
}

function senderMatches(pattern: SenderPattern, ctx: Context): boolean {
  switch (pattern.kind) {
    case 'null':
      return ctx.senderKey === null;
    case 'exact':
      return ctx.senderKey === pattern.key;
    case 'domain':
      return ctx.senderDomain === pattern.domain;
    case 'glob':
      return (
        ctx.senderLocal !== null &&
        ctx.senderDomain !== null &&
        matchGlob(pattern.local, ctx.senderLocal, []) &&
        matchGlob(pattern.domain, ctx.senderDomain, [])
      );
  }
}

const list = (items: readonly string[]): string => items.map((item) => `'${item}'`).join(', ');

export function compileConditions(rule: RuleSpec): Condition[] {
  const conditions: Condition[] = [];
  if (rule.senders) {
    const senders = rule.senders;
    conditions.push({
      test: (ctx) => (senders.some((s) => senderMatches(s.pattern, ctx)) ? YES : NO),
      why: (ctx) =>
        `sender ${ctx.senderKey === null ? '<>' : `'${ctx.senderKey}'`} is not ${list(senders.map((s) => s.source))}`,
    });
  }
  if (rule.clientIps) {
    const cidrs = rule.clientIps;
    conditions.push({
      test: (ctx) => {
        if (ctx.clientIp === undefined) return UNKNOWN;
        const ip = ctx.clientIp;
        return ip !== null && cidrs.some((cidr) => cidrContains(cidr, ip)) ? YES : NO;
      },
      why: (ctx) =>
        ctx.clientIp === undefined
          ? 'client IP not known'
          : `client IP '${ctx.clientIpText}' is not in ${list(cidrs.map((c) => c.text))}`,
    });
  }
  if (rule.authenticated !== null) {
    const wanted = rule.authenticated;
    conditions.push({
      test: (ctx) => (ctx.authUser === undefined ? UNKNOWN : (ctx.authUser !== null) === wanted ? YES : NO),
      why: (ctx) =>
        ctx.authUser === undefined
          ? 'authentication not known'
          : wanted
            ? 'client did not authenticate'
            : `client authenticated as '${ctx.authUser}'`,
    });
  }
  if (rule.authUsers) {
    const users = rule.authUsers;
    conditions.push({
      test: (ctx) => {
        if (ctx.authUser === undefined) return UNKNOWN;
        return ctx.authUser !== null && users.includes(ctx.authUser.toLowerCase()) ? YES : NO;
      },
      why: (ctx) =>
        ctx.authUser === undefined
          ? 'authenticated user not known'
          : `authenticated user ${ctx.authUser === null ? '(none)' : `'${ctx.authUser}'`} is not ${list(users)}`,
    });
  }
  if (rule.size) {
    const { min, max } = rule.size;
    const range = `${min ?? 0}..${max ?? '∞'} octets`;
    conditions.push({
      test: (ctx) => {
        if (ctx.size === undefined) return UNKNOWN;
        return (min === null || ctx.size >= min) && (max === null || ctx.size <= max) ? YES : NO;
      },
      why: (ctx) => (ctx.size === undefined ? 'size not known' : `size ${ctx.size} is outside ${range}`),
    });
  }
  for (const { method, values } of rule.auth ?? []) {
    const verdict = (ctx: Context): string | undefined => ctx.auth?.[method as AuthMethod]?.toLowerCase();
    conditions.push({
      test: (ctx) => {
        if (ctx.auth === undefined) return UNKNOWN;
        const found = verdict(ctx);
        return found !== undefined && values.includes(found) ? YES : NO;
      },
      why: (ctx) =>
        ctx.auth === undefined
          ? `${method} verdict not known before DATA`
          : `${method} verdict '${verdict(ctx) ?? 'none given'}' is not ${list(values)}`,
    });
  }
  for (const header of rule.headers ?? []) {
    const { name, test } = header;
    const valueMatches = (value: string): boolean => {
      switch (test.kind) {
        case 'equals':
          return value.trim().toLowerCase() === test.value;
        case 'contains':
          return value.toLowerCase().includes(test.value);
        case 'regex':
          return test.regex.test(value);
        case 'present':
          return true;
      }
    };
    conditions.push({
      test: (ctx) => {
        if (ctx.headers === undefined) return UNKNOWN;
        let found = false;
        for (const [field, value] of ctx.headers) {
          if (field.toLowerCase() === name && valueMatches(value)) {
            found = true;
            break;
          }
        }
        const wanted = test.kind === 'present' ? test.present : true;
        return found === wanted ? YES : NO;
      },
      why: (ctx) =>
        ctx.headers === undefined ? 'headers not known before DATA' : `no header matches '${header.source}'`,
    });
  }
  return conditions;
}

/** Prepares the facts once per message. */
export function createContext(
  mailFrom: { localPart: string; domain: string } | null,
  facts: Facts,
  size?: number,
): Context {
  const senderLocal = mailFrom ? mailFrom.localPart.toLowerCase() : null;
  const senderDomain = mailFrom ? mailFrom.domain : null;
  return {
    senderKey: mailFrom ? `${senderLocal}@${senderDomain}` : null,
    senderLocal,
    senderDomain,
    clientIp: facts.clientIp === undefined ? undefined : (parseIp(facts.clientIp) ?? null),
    clientIpText: facts.clientIp,
    authUser: facts.authUser,
    size: facts.size ?? size,
    auth: facts.auth,
    headers: facts.headers,
  };
}
