// The sink's SMTP backend for @mailyard/smtp's server: accepts every message (RFC 5321 §4.1.1
// transaction, stored exactly as received with the server's Received: header), applies chaos
// triggers per stage, checks AUTH (accept any, or a credentials list) and optionally
// auto-releases matching mail to a real server.

import type { Address, ConnectionInfo, Envelope, SmtpBackend, SmtpSession } from '@mailyard/smtp';
import { createByteMeter, formatAddress, SmtpError, storageError } from '@mailyard/smtp';
import type { Chaos, ChaosStage } from './chaos.ts';
import { type RelayTarget, releaseMessage } from './release.ts';
import type { SinkStore } from './store.ts';

export interface SmtpAuthPolicy {
  /** `none`: AUTH not offered; `accept-any`: every user/password works; `credentials`: only listed ones. */
  readonly mode: 'none' | 'accept-any' | 'credentials';
  readonly credentials?: ReadonlyMap<string, string>;
  /** Refuse MAIL FROM before AUTH. */
  readonly required?: boolean;
}

export interface AutoRelay {
  readonly target: RelayTarget;
  /** Recipients matching this regex are released; absent = all. */
  readonly matching?: RegExp;
}

export interface SinkBackendOptions {
  readonly store: SinkStore;
  readonly chaos: Chaos;
  readonly auth?: SmtpAuthPolicy;
  readonly autoRelay?: AutoRelay | null;
  readonly onRelayError?: (error: unknown) => void;
}

function chaosError(code: number): SmtpError {
  const klass = Math.floor(code / 100);
  return new SmtpError(code, `${klass}.0.0`, 'Chaos triggered');
}

export function createSinkBackend(options: SinkBackendOptions): SmtpBackend {
  const { store, chaos } = options;
  const auth = options.auth ?? { mode: 'none' };
  // The address text is built only when a trigger is armed: most sinks never use chaos.
  const fire = (stage: ChaosStage, address: () => string) => {
    if (!chaos.armed(stage)) return;
    const code = chaos.fire(stage, address());
    if (code !== null) {
      store.stats.rejected++;
      throw chaosError(code);
    }
  };
  const backend: SmtpBackend = {
    connect(info: ConnectionInfo): SmtpSession {
      return {
        async mail(from: Address | null) {
          if (auth.required && auth.mode !== 'none' && !info.user) {
            throw new SmtpError(530, '5.7.0', 'Authentication required');
          }
          fire('Sender', () => (from ? formatAddress(from) : ''));
        },
        async rcpt(to) {
          fire('Recipient', () => formatAddress(to.address));
        },
        async data(message, envelope: Envelope) {
          const writer = store.createWriter();
          try {
            // Stream events rather than async iteration: this runs once per chunk of every message.
            await new Promise<void>((resolve, reject) => {
              const meter = createByteMeter(); // a large message's chunks are collected as they pass
              message.on('data', (chunk: Buffer) => {
                meter.add(chunk.length);
                writer.write(chunk);
              });
              message.once('end', resolve);
              message.once('error', reject);
            });
            fire('Data', () => envelope.rcptTo.map((r) => formatAddress(r.address)).join(' '));
          } catch (error) {
            writer.abort();
            throw error;
          }
          const mailFrom = envelope.mailFrom ? formatAddress(envelope.mailFrom) : null;
          const rcptTo = envelope.rcptTo.map((r) => formatAddress(r.address));
          let id: string;
          try {
            // Resolves once the bytes are committed to SQLite: only then is the 250 sent.
            id = await writer.commit({
              mailFrom,
              rcptTo,
              helo: info.helo ?? '',
              remoteAddress: info.remoteAddress,
              username: info.user ?? '',
            });
          } catch (error) {
            // A full disk is 452 4.3.1: the client keeps the message and tries again.
            throw storageError(error);
          }
          const relay = options.autoRelay;
          if (relay) {
            const targets = relay.matching ? rcptTo.filter((r) => relay.matching!.test(r)) : rcptTo;
            if (targets.length > 0) {
              releaseMessage(relay.target, { from: mailFrom ?? '', to: targets }, store.openRaw(id)).catch(
                (error: unknown) => options.onRelayError?.(error),
              );
            }
          }
          return `Ok: queued as ${id}`;
        },
      };
    },
  };
  if (auth.mode !== 'none') {
    return {
      ...backend,
      async auth(credentials) {
        const code = chaos.fire('Authentication', credentials.username);
        if (code !== null) throw chaosError(code);
        if (auth.mode === 'accept-any') return credentials.username;
        const expected = auth.credentials?.get(credentials.username);
        return expected !== undefined && expected === credentials.password ? credentials.username : null;
      },
    };
  }
  return backend;
}
