// createSmtpServer: the hardened SMTP receiver of Mailyard, built on smtp-server. Owns the
// wiring between smtp-server's callbacks and the go-smtp style backend (backend.ts): RFC 5321
// §3.3 transactions, §4.4 trace header, §4.5.3 limits, RFC 1870 SIZE, RFC 3207 STARTTLS,
// RFC 8314 implicit TLS, RFC 4954 AUTH PLAIN/LOGIN, RFC 3461 DSN parameters, RFC 2034/3463
// enhanced status codes, and graceful shutdown (RFC 5321 §3.8: 421 when closing).
// Exposure: faces the open internet when used as an MX; every input is hostile.

import type { Server as NetServer, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type {
  SMTPServerAuthentication,
  SMTPServerAuthenticationResponse,
  SMTPServerDataStream,
  SMTPServerError,
  SMTPServerOptions,
  SMTPServerSession,
} from 'smtp-server';
import type { SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection.js';
import type { Address } from '../address.ts';
import type { Envelope, MailParams, Recipient } from '../envelope.ts';
import { SmtpError } from '../smtp-error.ts';
import type { ConnectionInfo, SmtpBackend, SmtpSession } from './backend.ts';
import { createConnectionLimits } from './connection-limits.ts';
import { tooBig } from './data-guard.ts';
import { commandText, parseMailCommand, parseRcptCommand } from './esmtp-command.ts';
import { assertPatchable } from './greeting-delay.ts';
import { type ConnectionHooks, HardenedConnection } from './hardened-connection.ts';
import { type MessageOutcome, MessageStream } from './message-stream.ts';
import { receivedHeaderEnd, receivedHeaderStart } from './received-header.ts';
import {
  DEFAULT_MAX_MESSAGE_SIZE,
  type ListenerTls,
  resolveLimits,
  type SmtpServerOptions,
} from './server-options.ts';
import { createSessionDeadlines } from './session-deadlines.ts';
import { SMTPServer } from './smtp-server-module.ts';

export interface ListeningAddress {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly tls: ListenerTls;
}

export interface CloseOptions {
  /**
   * How long transactions in flight may take to finish: milliseconds from now, or a point in
   * time. Default 30 000 ms. After it, the remaining connections get 421 and are closed.
   */
  readonly deadline?: number | Date;
}

export interface SmtpServer {
  /** Binds every listener; resolves with the bound addresses (port 0 becomes the real port). */
  listen(): Promise<readonly ListeningAddress[]>;
  /** The bound addresses, once listening. */
  readonly addresses: readonly ListeningAddress[];
  /** Open connections over all listeners. */
  readonly connections: number;
  /**
   * Graceful shutdown: stop accepting, 421 to idle connections, let open transactions finish
   * until the deadline, then 421 and close the rest.
   */
  close(options?: CloseOptions): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

interface Transaction {
  readonly mailFrom: Address | null;
  readonly params: MailParams;
  readonly rcptTo: Recipient[];
  /** Lower-cased address of each entry of rcptTo, at the same position. */
  readonly rcptKeys: string[];
  /** rcptKeys as a map, built only once the list is long enough for a search to cost. */
  rcptIndex: Map<string, number> | null;
}

/** Up to this many recipients a linear search of rcptKeys is cheaper than keeping a Map. */
const LINEAR_RECIPIENTS = 32;

function recipientIndex(transaction: Transaction, key: string): number {
  return transaction.rcptIndex ? (transaction.rcptIndex.get(key) ?? -1) : transaction.rcptKeys.indexOf(key);
}

function addRecipient(transaction: Transaction, key: string, recipient: Recipient): number {
  const index = transaction.rcptTo.push(recipient) - 1;
  transaction.rcptKeys.push(key);
  if (transaction.rcptIndex) transaction.rcptIndex.set(key, index);
  else if (transaction.rcptKeys.length > LINEAR_RECIPIENTS) {
    transaction.rcptIndex = new Map(transaction.rcptKeys.map((k, i) => [k, i]));
  }
  return index;
}

/** ConnectionInfo as the server keeps it up to date. */
type LiveInfo = { -readonly [K in keyof ConnectionInfo]: ConnectionInfo[K] };

interface ConnectionContext {
  readonly connection: HardenedConnection;
  readonly listener: ResolvedListener;
  readonly info: LiveInfo;
  session: SmtpSession | null;
  closed: boolean;
  transaction: Transaction | null;
  inData: boolean;
  /** receivedHeaderStart for this connection, without and with SMTPUTF8; null when stale. */
  receivedStart: [string | null, string | null];
}

interface ResolvedListener {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly tls: ListenerTls;
  readonly allowPlaintextAuth: boolean;
  readonly requireAuth: boolean;
  readonly greetingDelayMs: number;
}

const NOOP_LOGGER = { info() {}, warn() {}, error() {} };
/**
 * Where a connection's context hangs on smtp-server's session object, which every handler gets
 * (smtp-server keeps that object for the whole connection and lets applications extend it).
 */
const CONTEXT = Symbol('mailyard.connection');
type ContextualSession = SMTPServerSession & { [CONTEXT]?: ConnectionContext };
const NO_TRANSACTION: MessageOutcome = { ok: false, error: new SmtpError(503, '5.5.1', 'Need RCPT command') };

/** A backend answer that may be a promise (the contract) or, from a plain JS backend, a value. */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

/** smtp-server takes errors with responseCode; the enhanced code travels in front of the text. */
function wireError(error: SmtpError): SMTPServerError {
  return Object.assign(new Error(`${error.enhanced} ${error.message}`), { responseCode: error.code });
}

function resolveListeners(options: SmtpServerOptions, backend: SmtpBackend): ResolvedListener[] {
  const listeners = options.listeners ?? [{}];
  if (listeners.length === 0) throw new RangeError('createSmtpServer: at least one listener is needed');
  return listeners.map((listener, index) => {
    const tls = listener.tls ?? (options.tls ? 'starttls' : 'none');
    if (tls !== 'none' && !options.tls) {
      throw new RangeError(
        `createSmtpServer: listener ${index} wants TLS (${tls}) but no tls certificate is set`,
      );
    }
    const allowPlaintextAuth = listener.allowPlaintextAuth ?? false;
    const requireAuth = listener.requireAuth ?? false;
    if (requireAuth && !backend.auth) {
      throw new RangeError(`createSmtpServer: listener ${index} requires AUTH but the backend has no auth()`);
    }
    if (requireAuth && tls === 'none' && !allowPlaintextAuth) {
      throw new RangeError(
        `createSmtpServer: listener ${index} requires AUTH but offers neither TLS nor plaintext AUTH`,
      );
    }
    const greetingDelayMs = listener.greetingDelayMs ?? options.greetingDelayMs ?? 0;
    if (!Number.isFinite(greetingDelayMs) || greetingDelayMs < 0) {
      throw new RangeError('createSmtpServer: greetingDelayMs must be a non-negative number');
    }
    const fallbackName = tls === 'implicit' ? 'smtps' : 'smtp';
    return {
      name: listener.name ?? (listeners.length === 1 ? fallbackName : `${fallbackName}-${index}`),
      host: listener.host ?? '127.0.0.1',
      port: listener.port ?? 0,
      tls,
      allowPlaintextAuth,
      requireAuth,
      greetingDelayMs,
    };
  });
}

/** One smtp-server instance per listener, whose connections are HardenedConnections. */
class ListenerServer extends SMTPServer {
  declare hooks: ConnectionHooks;

  override connect(socket: Socket | TLSSocket, socketOptions?: SMTPConnectionOptions | null): void {
    // The same steps as SMTPServer.prototype.connect (pinned in greeting-delay.ts), with our class.
    const connection = new HardenedConnection(this, socket, socketOptions, this.hooks);
    this.connections.add(connection);
    connection.on('error', (error: Error) => this._onError(error));
    connection.on('connect', (data) => this._onClientConnect(data));
    connection.init();
  }
}

export function createSmtpServer(options: SmtpServerOptions, backend: SmtpBackend): SmtpServer {
  assertPatchable();
  const limits = resolveLimits(options.limits);
  const listeners = resolveListeners(options, backend);
  const maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  if (!Number.isInteger(maxMessageSize) || maxMessageSize <= 0) {
    throw new RangeError('createSmtpServer: maxMessageSize must be a positive integer');
  }
  const logger = options.logger ?? NOOP_LOGGER;
  const now = options.now ?? (() => new Date());
  const bareLineEndings = options.bareLineEndings ?? 'reject';
  const dsn = backend.dsn === true;
  const connectionLimits = createConnectionLimits(limits);
  const deadlines =
    limits.sessionTimeoutMs > 0
      ? createSessionDeadlines<HardenedConnection>(limits.sessionTimeoutMs, (connection) =>
          connection.sessionExpired(),
        )
      : null;
  const open = new Set<ConnectionContext>();
  let closing = false;
  let addresses: ListeningAddress[] = [];
  let closed: Promise<void> | null = null;

  function contextOf(session: SMTPServerSession): ConnectionContext {
    const context = (session as ContextualSession)[CONTEXT];
    if (!context) throw new Error('smtp session without a Mailyard connection context');
    return context;
  }

  function fail(context: ConnectionContext | null, error: unknown, stage: string): SMTPServerError {
    return wireError(failure(context, error, stage));
  }

  /** The SmtpError to reply with; the reason behind it (an unknown error, a cause) is logged. */
  function failure(context: ConnectionContext | null, error: unknown, stage: string): SmtpError {
    const smtpError = SmtpError.from(error);
    // The peer sees only the reply; the reason (an unknown error, or an SmtpError's cause) is logged.
    const cause = error instanceof SmtpError ? error.cause : error;
    if (cause !== undefined) {
      logger.error(
        {
          err: cause,
          sessionId: context?.info.sessionId,
          remoteAddr: context?.info.remoteAddress,
          smtpCode: smtpError.code,
          enhanced: smtpError.enhanced,
          stage,
        },
        'smtp transaction failed',
      );
    }
    return smtpError;
  }

  function envelopeOf(transaction: Transaction): Envelope {
    return { mailFrom: transaction.mailFrom, rcptTo: [...transaction.rcptTo], params: transaction.params };
  }

  function sessionOf(context: ConnectionContext): SmtpSession {
    if (!context.session) throw new Error('no backend session');
    return context.session;
  }

  function hooksFor(listener: ResolvedListener): ConnectionHooks {
    return {
      greetingDelayMs: listener.greetingDelayMs,
      deadlines,
      maxUnrecognizedCommands: limits.maxUnrecognizedCommands,
      limits: connectionLimits,
      dataGuard: { maxSize: maxMessageSize, bareLineEndings },
      supportedCommands: new Map(),
      isClosing: () => closing,
      authOffered: (connection) =>
        backend.auth !== undefined && (connection.secure || listener.allowPlaintextAuth),
      created(connection) {
        const cipher = connection.tlsOptions || null;
        const context: ConnectionContext = {
          connection,
          listener,
          info: {
            sessionId: connection.id,
            listener: listener.name,
            localAddress: connection.localAddress,
            localPort: connection.localPort,
            remoteAddress: connection.remoteAddress,
            remotePort: connection.remotePort,
            clientHostname: connection.remoteAddress.includes(':')
              ? `[IPv6:${connection.remoteAddress}]`
              : `[${connection.remoteAddress}]`,
            helo: null,
            esmtp: false,
            secure: connection.secure,
            tls: cipher ? { protocol: cipher.version, cipher: cipher.name } : null,
            user: null,
          },
          session: null,
          closed: false,
          transaction: null,
          inData: false,
          receivedStart: [null, null],
        };
        (connection.session as ContextualSession)[CONTEXT] = context;
        open.add(context);
      },
      greeted(connection) {
        const context = contextOf(connection.session);
        context.info.helo = connection.hostNameAppearsAs || null;
        context.info.esmtp = connection.hostNameAppearsAs !== false && connection.openingCommand === 'EHLO';
        context.receivedStart = [null, null];
      },
      mail(connection, line, callback) {
        const context = contextOf(connection.session);
        let from: Address | null;
        let params: MailParams;
        try {
          ({ from, params } = parseMailCommand(commandText(line), { dsn }));
          // RFC 1870 §6.1: a declared size over the limit is refused before any data.
          if (params.size !== undefined && params.size > maxMessageSize) throw tooBig(maxMessageSize);
        } catch (error) {
          connection.replyError(failure(context, error, 'mail'));
          callback();
          return;
        }
        const accepted = () => {
          context.transaction = { mailFrom: from, params, rcptTo: [], rcptKeys: [], rcptIndex: null };
          connection.acceptMail(
            from === null ? '' : `${from.localPart}@${from.domain}`,
            params.smtputf8 ?? false,
            params.body,
          );
          callback();
        };
        const refused = (error: unknown) => {
          connection.replyError(failure(context, error, 'mail'));
          callback();
        };
        try {
          const answer = sessionOf(context).mail(from, params);
          if (isThenable(answer)) answer.then(accepted, refused);
          else accepted();
        } catch (error) {
          refused(error);
        }
      },
      rcpt(connection, line, callback) {
        const context = contextOf(connection.session);
        const transaction = context.transaction;
        let recipient: Recipient;
        let key: string;
        try {
          if (!transaction) throw new SmtpError(503, '5.5.1', 'Need MAIL command');
          recipient = parseRcptCommand(commandText(line), {
            dsn,
            smtputf8: transaction.params.smtputf8 ?? false,
            postmasterDomain: options.hostname,
          });
          // One key per mailbox, compared without case (as smtp-server did): local part and domain
          // joined at the `@` that the domain cannot contain.
          key = `${recipient.address.localPart}@${recipient.address.domain}`.toLowerCase();
          // RFC 5321 §4.5.3.1.8; a repeated recipient replaces the earlier one and takes no slot.
          if (transaction.rcptTo.length >= limits.maxRecipients && recipientIndex(transaction, key) < 0) {
            throw new SmtpError(452, '4.5.3', 'Error: too many recipients');
          }
        } catch (error) {
          connection.replyError(failure(context, error, 'rcpt'));
          callback();
          return;
        }
        const accepted = () => {
          let index = recipientIndex(transaction, key);
          if (index >= 0) transaction.rcptTo[index] = recipient;
          else index = addRecipient(transaction, key, recipient);
          connection.acceptRcpt(key, index);
          callback();
        };
        const refused = (error: unknown) => {
          connection.replyError(failure(context, error, 'rcpt'));
          callback();
        };
        try {
          const answer = sessionOf(context).rcpt(recipient, envelopeOf(transaction));
          if (isThenable(answer)) answer.then(accepted, refused);
          else accepted();
        } catch (error) {
          refused(error);
        }
      },
      reset(connection) {
        const context = (connection.session as ContextualSession)[CONTEXT];
        if (!context?.transaction) return;
        context.transaction = null;
        try {
          context.session?.reset?.();
        } catch (error) {
          logger.error({ err: error, sessionId: context.info.sessionId }, 'backend reset failed');
        }
      },
      closed(connection) {
        const context = (connection.session as ContextualSession)[CONTEXT];
        if (!context || context.closed) return;
        context.closed = true;
        open.delete(context);
        try {
          context.session?.close?.();
        } catch (error) {
          logger.error({ err: error, sessionId: context.info.sessionId }, 'backend close failed');
        }
      },
    };
  }

  const handlers: Pick<SMTPServerOptions, 'onConnect' | 'onSecure' | 'onAuth' | 'onData'> = {
    onConnect(session, callback) {
      const context = contextOf(session);
      const connected = (backendSession: SmtpSession) => {
        context.session = backendSession;
        if (context.closed) {
          backendSession.close?.();
          return;
        }
        callback();
      };
      const refused = (error: unknown) => callback(fail(context, error, 'connect'));
      try {
        const answer = backend.connect(context.info);
        if (isThenable(answer)) answer.then(connected, refused);
        else connected(answer);
      } catch (error) {
        refused(error);
      }
    },
    onSecure(socket, session, callback) {
      const context = contextOf(session);
      const cipher = (socket as TLSSocket).getCipher?.();
      context.info.secure = true;
      context.info.tls = cipher ? { protocol: cipher.version, cipher: cipher.name } : null;
      // RFC 3207 §4.2: what the client said before TLS no longer counts.
      context.info.helo = null;
      context.info.esmtp = false;
      context.info.user = null;
      context.receivedStart = [null, null];
      callback();
    },
    onAuth(auth: SMTPServerAuthentication, session, callback) {
      const context = contextOf(session);
      const verify = backend.auth;
      if (!verify || (auth.method !== 'PLAIN' && auth.method !== 'LOGIN')) {
        callback(wireError(new SmtpError(504, '5.5.4', 'Unrecognized authentication type')));
        return;
      }
      const credentials = {
        method: auth.method,
        username: auth.username ?? '',
        password: auth.password ?? '',
      };
      verify(credentials, context.info).then(
        (user) => {
          if (user === null) {
            const response: SMTPServerAuthenticationResponse = {
              message: '5.7.8 Authentication credentials invalid',
              responseCode: 535,
            };
            callback(null, response);
            return;
          }
          context.info.user = user;
          context.receivedStart = [null, null];
          callback(null, { user });
        },
        (error: unknown) => callback(fail(context, error, 'auth')),
      );
    },
    onData(stream: SMTPServerDataStream, session, callback) {
      const context = contextOf(session);
      const transaction = context.transaction;
      context.inData = true;
      const finish = (outcome: MessageOutcome) => {
        context.inData = false;
        if (outcome.ok) callback(null, outcome.reply ?? 'OK: message accepted');
        else callback(fail(context, outcome.error, 'data'));
        if (closing) {
          // The transaction in flight is done: now this connection goes too (RFC 5321 §3.8).
          setImmediate(() => {
            if (!context.closed) context.connection.send(421, '4.3.2 Server shutting down, try again later');
          });
        }
      };
      // HardenedConnection's parser hands out MessageStreams only (its startDataMode).
      if (!(stream instanceof MessageStream)) throw new Error('DATA stream is not a MessageStream');
      if (!transaction || !context.session) {
        stream.discard(NO_TRANSACTION, finish);
        return;
      }
      const envelope = envelopeOf(transaction);
      const smtputf8 = transaction.params.smtputf8 ?? false;
      const slot = smtputf8 ? 1 : 0;
      let start = context.receivedStart[slot];
      if (start === null) {
        start = receivedHeaderStart({
          helo: context.info.helo,
          esmtp: context.info.esmtp,
          remoteAddress: context.info.remoteAddress,
          hostname: options.hostname,
          secure: context.info.secure,
          tls: context.info.tls,
          authenticated: context.info.user !== null,
          smtputf8,
        });
        context.receivedStart[slot] = start;
      }
      const header =
        start +
        receivedHeaderEnd({
          id: `${context.info.sessionId}.${session.transaction}`,
          rcptTo: envelope.rcptTo.map((r) => r.address),
          date: now(),
        });
      stream.deliver(header, context.session, envelope, finish);
    },
  };

  const servers = listeners.map((listener) => {
    const disabledCommands = ['XCLIENT', 'XFORWARD', 'WIZ', 'SHELL', 'KILL'];
    const authPossible =
      backend.auth !== undefined && (listener.tls !== 'none' || listener.allowPlaintextAuth);
    if (!authPossible) disabledCommands.push('AUTH');
    if (listener.tls !== 'starttls') disabledCommands.push('STARTTLS');
    const server = new ListenerServer({
      ...handlers,
      name: options.hostname,
      banner: options.banner,
      secure: listener.tls === 'implicit',
      ...(listener.tls !== 'none' && options.tls ? { key: options.tls.key, cert: options.tls.cert } : {}),
      hideSTARTTLS: listener.tls !== 'starttls',
      disabledCommands,
      authMethods: ['PLAIN', 'LOGIN'],
      authOptional: !listener.requireAuth,
      allowInsecureAuth: listener.allowPlaintextAuth,
      authRequiredMessage: '5.7.0 Authentication required',
      hideENHANCEDSTATUSCODES: false,
      hideDSN: !dsn,
      hideREQUIRETLS: true,
      size: maxMessageSize,
      // Bounds implicit-TLS handshakes still pending; sessions are counted by connection-limits.ts.
      maxClients: limits.maxConnections,
      socketTimeout: limits.idleTimeoutMs,
      maxCommandLength: limits.maxLineLength,
      maxRecipients: limits.maxRecipients,
      disableReverseLookup: true,
      logger: false,
    });
    server.hooks = hooksFor(listener);
    server.on('error', (error: Error & { code?: string }) => {
      logger.warn({ err: error, listener: listener.name }, 'smtp connection error');
    });
    return { listener, server };
  });

  async function listen(): Promise<readonly ListeningAddress[]> {
    addresses = await Promise.all(
      servers.map(
        ({ listener, server }) =>
          new Promise<ListeningAddress>((resolve, reject) => {
            const net: NetServer = server.server;
            const onError = (error: Error) => reject(error);
            net.once('error', onError);
            net.listen(listener.port, listener.host, () => {
              net.off('error', onError);
              const bound = net.address();
              const port = typeof bound === 'object' && bound ? bound.port : listener.port;
              logger.info({ listener: listener.name, host: listener.host, port }, 'smtp listening');
              resolve({ name: listener.name, host: listener.host, port, tls: listener.tls });
            });
          }),
      ),
    );
    return addresses;
  }

  function idle(context: ConnectionContext): boolean {
    const { connection } = context;
    return !context.inData && !connection._handlerPending && !connection.session.envelope?.mailFrom;
  }

  async function shutdown(closeOptions: CloseOptions): Promise<void> {
    closing = true;
    const deadline = closeOptions.deadline ?? 30_000;
    const waitMs = deadline instanceof Date ? Math.max(0, deadline.getTime() - Date.now()) : deadline;
    const stopped = servers.map(
      ({ server }) =>
        new Promise<void>((resolve) => {
          if (!server.server.listening) resolve();
          else server.server.close(() => resolve());
          // Sockets still in the implicit TLS handshake have no session that could finish.
          for (const pending of server._pendingSockets.values()) pending.destroy();
        }),
    );
    for (const context of open) {
      if (idle(context)) context.connection.send(421, '4.3.2 Server shutting down, try again later');
    }
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), waitMs);
    });
    const all = Promise.all(stopped).then(() => 'stopped' as const);
    const first = await Promise.race([all, expired]);
    clearTimeout(timer);
    if (first === 'expired') {
      for (const context of open) {
        context.connection.send(421, '4.3.2 Server shutting down, try again later');
        // Do not wait for a client that does not close its side.
        setTimeout(() => context.connection._socket.destroy(), 1000).unref();
      }
      await all;
    }
    logger.info({}, 'smtp server closed');
  }

  return {
    listen,
    get addresses() {
      return addresses;
    },
    get connections() {
      return open.size;
    },
    close(closeOptions = {}) {
      closed ??= shutdown(closeOptions);
      return closed;
    },
    [Symbol.asyncDispose]() {
      closed ??= shutdown({});
      return closed;
    },
  };
}
