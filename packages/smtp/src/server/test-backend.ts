// Test support (not exported): a backend that records every call and reads each message fully,
// so tests can assert what reached the backend. Real objects, no mocks.

import type { Readable } from 'node:stream';
import type { Address } from '../address.ts';
import type { Envelope, MailParams, Recipient } from '../envelope.ts';
import type { ConnectionInfo, SmtpBackend, SmtpSession } from './backend.ts';

export interface RecordedMessage {
  readonly envelope: Envelope;
  readonly body: string;
  readonly bytes: number;
}

export interface RecordingBackend extends SmtpBackend {
  readonly connections: ConnectionInfo[];
  readonly mails: { from: Address | null; params: MailParams }[];
  readonly rcpts: Recipient[];
  readonly messages: RecordedMessage[];
  readonly events: string[];
}

export interface RecordingBackendOptions {
  readonly dsn?: boolean;
  /** Accepted credentials; with it, AUTH is offered. */
  readonly users?: Readonly<Record<string, string>>;
  /** Keep at most this many body bytes per message in `messages` (the count is always exact). */
  readonly keepBytes?: number;
  connect?(info: ConnectionInfo): void | Promise<void>;
  mail?(from: Address | null, params: MailParams): void | Promise<void>;
  rcpt?(to: Recipient): void | Promise<void>;
  // biome-ignore lint/suspicious/noConfusingVoidType: `async data() {}` (resolving nothing) must fit.
  data?(message: Readable, envelope: Envelope): Promise<string | void> | undefined;
}

export function createRecordingBackend(options: RecordingBackendOptions = {}): RecordingBackend {
  const backend: RecordingBackend = {
    connections: [],
    mails: [],
    rcpts: [],
    messages: [],
    events: [],
    dsn: options.dsn ?? false,
    async connect(info) {
      backend.connections.push(info);
      backend.events.push('connect');
      await options.connect?.(info);
      const session: SmtpSession = {
        async mail(from, params) {
          backend.events.push('mail');
          await options.mail?.(from, params);
          backend.mails.push({ from, params });
        },
        async rcpt(to) {
          backend.events.push('rcpt');
          await options.rcpt?.(to);
          backend.rcpts.push(to);
        },
        async data(message, envelope) {
          backend.events.push('data');
          const custom = options.data?.(message, envelope);
          if (custom) return custom;
          const keep = options.keepBytes ?? Number.POSITIVE_INFINITY;
          const kept: Buffer[] = [];
          let bytes = 0;
          for await (const chunk of message) {
            const buffer = chunk as Buffer;
            if (bytes < keep) kept.push(buffer.subarray(0, Math.max(0, keep - bytes)));
            bytes += buffer.length;
          }
          backend.messages.push({ envelope, body: Buffer.concat(kept).toString('utf8'), bytes });
          return `queued as M${backend.messages.length}`;
        },
        reset() {
          backend.events.push('reset');
        },
        close() {
          backend.events.push('close');
        },
      };
      return session;
    },
  };
  if (options.users) {
    const users = options.users;
    Object.assign(backend, {
      async auth(credentials: { username: string; password: string }) {
        backend.events.push('auth');
        return users[credentials.username] === credentials.password ? credentials.username : null;
      },
    });
  }
  return backend;
}
