// Release: send one stored message, exactly as received, to an SMTP server the user names.
// The sink never relays on its own; this runs only when asked (API call or a relay rule).

import type { Readable } from 'node:stream';
import nodemailer from 'nodemailer';

export interface RelayTarget {
  readonly host: string;
  readonly port: number;
  readonly secure?: boolean;
  readonly username?: string;
  readonly password?: string;
}

/** Parses `smtp://user:pass@host:port` or `smtps://…` or `host:port`. */
export function parseRelayUrl(text: string): RelayTarget {
  const url = new URL(/^[a-z]+:\/\//i.test(text) ? text : `smtp://${text}`);
  const secure = url.protocol === 'smtps:';
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : secure ? 465 : 25,
    secure,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
  };
}

export async function releaseMessage(
  target: RelayTarget,
  envelope: { from: string; to: readonly string[] },
  raw: Readable,
): Promise<string> {
  const transport = nodemailer.createTransport({
    host: target.host,
    port: target.port,
    secure: target.secure ?? false,
    ...(target.username ? { auth: { user: target.username, pass: target.password ?? '' } } : {}),
    tls: { rejectUnauthorized: false },
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
  });
  try {
    const info = await transport.sendMail({ envelope: { from: envelope.from, to: [...envelope.to] }, raw });
    return String(info.response ?? '');
  } finally {
    transport.close();
  }
}
