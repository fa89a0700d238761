// withChecks: puts a list of checks in front of an SmtpBackend, so an app adds its configured
// checks in one line: `createSmtpServer(options, withChecks(backend, checks, { resolver }))`.
// Each stage runs its checks before the backend's own hook (a refused command never reaches the
// backend); a rejection is thrown as its SmtpError, which the server sends as the reply.
// Tags gathered at connect (for the connection), MAIL and RCPT (for the transaction) and DATA
// reach the backend's data(): as header fields in front of the message (by default
// `X-Mailyard-Check:`) and through checkTagsOf(envelope).

import { Readable } from 'node:stream';
import type { Address } from '../address.ts';
import { createDnsResolver, type DnsResolver } from '../client/dns-resolver.ts';
import type { Envelope, MailParams, Recipient } from '../envelope.ts';
import { parseHeaderFields } from '../header-fields.ts';
import type { ConnectionInfo, SmtpBackend, SmtpSession } from '../server/backend.ts';
import type { Check, CheckLogger, CheckTag } from './check.ts';
import { readMessageHead } from './message-head.ts';
import { type CheckCall, checksFor, type RunChecksOptions, runChecks } from './run-checks.ts';

export interface WithChecksOptions extends RunChecksOptions {
  /** Handed to checks in their context. Default: the system resolver. */
  readonly resolver?: DnsResolver;
  readonly logger?: CheckLogger;
  /** Name of the header field each tag is added as, or `false` for none. Default `X-Mailyard-Check`. */
  readonly tagHeader?: string | false;
  /** The data stage reads at most this much header. Default 64 KiB (more is left unparsed). */
  readonly maxHeaderBytes?: number;
}

const SILENT: CheckLogger = { info() {}, warn() {}, error() {} };
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

const tagsByEnvelope = new WeakMap<Envelope, readonly CheckTag[]>();

/** The tags the checks set on the message whose envelope the backend's data() received. */
export function checkTagsOf(envelope: Envelope): readonly CheckTag[] {
  return tagsByEnvelope.get(envelope) ?? [];
}

/** One header field line per tag; control and non-ASCII characters (e.g. from DNS TXT) are replaced. */
export function formatTagFields(name: string, tags: readonly CheckTag[]): string {
  return tags
    .map((tag) => {
      const value = `${tag.check}; ${tag.tag}`.replace(/[^\x20-\x7e]/g, '?').slice(0, 900);
      return `${name}: ${value}\r\n`;
    })
    .join('');
}

function addTags(into: CheckTag[], tags: readonly CheckTag[]): void {
  for (const tag of tags) {
    if (!into.some((seen) => seen.check === tag.check && seen.tag === tag.tag)) into.push(tag);
  }
}

export function withChecks(
  backend: SmtpBackend,
  checks: readonly Check[],
  options: WithChecksOptions = {},
): SmtpBackend {
  const tagHeader = options.tagHeader ?? 'X-Mailyard-Check';
  if (tagHeader !== false && !FIELD_NAME.test(tagHeader)) {
    throw new RangeError(`tagHeader "${tagHeader}" is not a header field name`);
  }
  const resolver = options.resolver ?? createDnsResolver();
  const logger = options.logger ?? SILENT;
  const maxHeaderBytes = options.maxHeaderBytes ?? 64 * 1024;
  const hasData = checksFor(checks, 'data').length > 0;

  /** Runs a stage; throws the rejection's SmtpError, else returns the stage's tags. */
  async function stage(call: CheckCall, connection: ConnectionInfo, envelope: Envelope | null) {
    const outcome = await runChecks(checks, call, { connection, envelope, resolver, logger }, options);
    if (outcome.action === 'reject') throw outcome.error;
    return outcome.tags;
  }

  function session(info: ConnectionInfo, inner: SmtpSession, connectTags: readonly CheckTag[]): SmtpSession {
    let transactionTags: CheckTag[] = [];
    return {
      async mail(from: Address | null, params: MailParams) {
        const tags = await stage({ stage: 'mail', from }, info, { mailFrom: from, rcptTo: [], params });
        await inner.mail(from, params);
        transactionTags = [...tags];
      },
      async rcpt(to: Recipient, envelope: Envelope) {
        const tags = await stage({ stage: 'rcpt', to }, info, envelope);
        await inner.rcpt(to, envelope);
        addTags(transactionTags, tags);
      },
      async data(message, envelope) {
        const tags: CheckTag[] = [];
        addTags(tags, connectTags);
        addTags(tags, transactionTags);
        if (!hasData) {
          tagsByEnvelope.set(envelope, tags);
          return inner.data(withPrefix(message, Buffer.alloc(0), tags), envelope);
        }
        const head = await readMessageHead(message, maxHeaderBytes);
        const header = parseHeaderFields(head.bytes);
        const declaredSize = envelope.params.size ?? null;
        addTags(tags, await stage({ stage: 'data', message: { header, declaredSize } }, info, envelope));
        tagsByEnvelope.set(envelope, tags);
        return inner.data(withPrefix(message, head.bytes, tags), envelope);
      },
      reset() {
        transactionTags = [];
        inner.reset?.();
      },
      close() {
        inner.close?.();
      },
    };
  }

  /** Gives back what the data stage read, with the tag fields in front. */
  function withPrefix(message: Readable, read: Buffer, tags: readonly CheckTag[]): Readable {
    const fields = tagHeader === false ? '' : formatTagFields(tagHeader, tags);
    const prefix = fields === '' ? read : Buffer.concat([Buffer.from(fields, 'latin1'), read]);
    if (prefix.length === 0) return message;
    // A message that ended while its head was read cannot take bytes back: hand on a copy.
    if (message.readableEnded) return Readable.from([prefix], { objectMode: false });
    message.unshift(prefix);
    return message;
  }

  const wrapped: SmtpBackend = {
    async connect(info) {
      const tags = await stage({ stage: 'connect' }, info, null);
      return session(info, await backend.connect(info), tags);
    },
  };
  const { auth, dsn } = backend;
  if (auth) Object.assign(wrapped, { auth: auth.bind(backend) });
  if (dsn !== undefined) Object.assign(wrapped, { dsn });
  return wrapped;
}
