// One SMTP connection, hardened: smtp-server's SMTPConnection with the behaviour the stock class
// lacks — a configurable greeting delay (see greeting-delay.ts), connection limits, a total
// session deadline, a configurable cap on unrecognised commands (RFC 5321 §4.3.2: 500, then
// 421 and close), strict base64 in AUTH (RFC 4954 §4: 501 5.5.2), AUTH hidden until TLS
// (RFC 3207 §4, RFC 4954 §4: 530 5.7.0), graceful shutdown, and replies that keep the RFC 3463
// enhanced code the backend chose (RFC 2034). MAIL and RCPT (RFC 5321 §4.1.1.2-3) are parsed
// once, by esmtp-command.ts, instead of by smtp-server and then again by us; DATA flows through
// one MessageStream (message-stream.ts) in place of smtp-server's PassThrough. Only servers
// built by createSmtpServer use it.

import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection.js';
import type { SMTPStreamOptions } from 'smtp-server/lib/smtp-stream.js';
import { SmtpError } from '../smtp-error.ts';
import type { Admission, ConnectionLimits } from './connection-limits.ts';
import type { DataGuardOptions } from './data-guard.ts';
import { scheduleGreeting } from './greeting-delay.ts';
import { MessageStream } from './message-stream.ts';
import type { SessionDeadlines } from './session-deadlines.ts';
import { SMTPConnection, type SMTPServer, SMTPStream } from './smtp-server-module.ts';

/** What a connection asks of the server that owns it. */
export interface ConnectionHooks {
  readonly greetingDelayMs: number;
  /** The server's session deadlines (one timer for all connections), or null: no deadline. */
  readonly deadlines: SessionDeadlines<HardenedConnection> | null;
  readonly maxUnrecognizedCommands: number;
  readonly limits: ConnectionLimits;
  /** SIZE limit and bare line-end policy for each message. */
  readonly dataGuard: DataGuardOptions;
  /** HardenedConnection's memory of smtp-server's _isSupported answers, one per listener. */
  readonly supportedCommands: Map<string, boolean>;
  /** The server is shutting down: finish open transactions, refuse the rest. */
  isClosing(): boolean;
  /** AUTH can be offered on this connection now (backend verifies; TLS or plaintext allowed). */
  authOffered(connection: HardenedConnection): boolean;
  /** Called once per connection, before anything else. */
  created(connection: HardenedConnection): void;
  /** HELO/EHLO answered (successfully or not). */
  greeted(connection: HardenedConnection): void;
  /**
   * MAIL FROM, the raw line: parse it, ask the backend, reply, then `callback`. On success it
   * calls `connection.acceptMail`.
   */
  mail(connection: HardenedConnection, line: Buffer, callback: () => void): void;
  /** RCPT TO, the raw line, sent inside a transaction; on success `connection.acceptRcpt`. */
  rcpt(connection: HardenedConnection, line: Buffer, callback: () => void): void;
  /** smtp-server reset the transaction state (RSET, HELO/EHLO, STARTTLS, end of DATA). */
  reset(connection: HardenedConnection): void;
  closed(connection: HardenedConnection): void;
}

/** A line of an AUTH exchange: RFC 4648 base64, or `=` for an empty initial response. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** A reply text that already carries an enhanced status code. */
const ENHANCED_PREFIX = /^([245])\.\d{1,3}\.\d{1,3} /;
const SPACE = 0x20;
const DOT = 0x2e;
const MAX_CACHED_NAMES = 64;
/** Case-folds four ASCII bytes into one number (bit 5 off: a-z onto A-Z, letters only). */
function verbKey(a: number, b: number, c: number, d: number): number {
  return (((a & 0xdf) << 24) | ((b & 0xdf) << 16) | ((c & 0xdf) << 8) | (d & 0xdf)) >>> 0;
}
/** The four-letter verbs, found without allocating: every command goes through verbOf. */
const VERBS = new Map<number, string>(
  [
    'HELO',
    'EHLO',
    'LHLO',
    'MAIL',
    'RCPT',
    'DATA',
    'RSET',
    'NOOP',
    'QUIT',
    'VRFY',
    'HELP',
    'AUTH',
    'EXPN',
  ].map((verb) => [
    verbKey(verb.charCodeAt(0), verb.charCodeAt(1), verb.charCodeAt(2), verb.charCodeAt(3)),
    verb,
  ]),
);

/** Verbs that may start an HTTP request line; smtp-server refuses such lines with 421. */
const HTTP_VERBS = new Set(['OPTIONS', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'TRACE', 'CONNECT']);
/** smtp-server's own test for an HTTP request line (SMTPConnection._onCommand). */
const HTTP_REQUEST = /^(OPTIONS|GET|HEAD|POST|PUT|DELETE|TRACE|CONNECT) \/.* HTTP\/\d\.\d$/i;

function noop(): void {}

/** The replies to an accepted MAIL and RCPT, as smtp-server's send would format them. */
const MAIL_ACCEPTED = '250 2.1.0 Accepted\r\n';
const RCPT_ACCEPTED = '250 2.1.5 Accepted\r\n';

/** smtp-server's command parser, whose DATA stream is a MessageStream. */
class MessageParser extends SMTPStream {
  readonly connection: HardenedConnection;

  constructor(options: SMTPStreamOptions, connection: HardenedConnection) {
    super(options);
    this.connection = connection;
  }

  /**
   * SMTPStream.prototype.startDataMode (pinned in greeting-delay.ts), with a MessageStream where
   * it creates a PassThrough: the message is checked and headed on its one way through.
   */
  override startDataMode(maxBytes?: number | string | null): MessageStream {
    this._dataMode = true;
    this._maxBytes = (maxBytes && Number(maxBytes)) || Number.POSITIVE_INFINITY;
    this.dataBytes = 0;
    this._atDataStart = true;
    const stream = new MessageStream(this.connection.hooks.dataGuard);
    this._dataStream = stream;
    return stream;
  }
}

function replyText(error: SmtpError): string {
  return `${error.enhanced} ${error.message}`;
}

/** The command verb, upper-cased, as smtp-server finds it (the text before the first space). */
function verbOf(command: Buffer): string {
  if (command.length === 4 || (command.length > 4 && command[4] === SPACE)) {
    // verbKey folds case for letters only, and every entry of VERBS is letters.
    const verb = VERBS.get(verbKey(command[0] ?? 0, command[1] ?? 0, command[2] ?? 0, command[3] ?? 0));
    if (verb !== undefined) return verb;
  }
  const space = command.indexOf(SPACE);
  return command.toString('latin1', 0, space < 0 ? command.length : space).toUpperCase();
}

export class HardenedConnection extends SMTPConnection {
  declare readonly hooks: ConnectionHooks;
  declare admission: Admission | null;
  declare greetingTimer: NodeJS.Timeout | null;
  declare unrecognized: number;

  constructor(
    server: SMTPServer,
    socket: Socket | TLSSocket,
    options: SMTPConnectionOptions | null | undefined,
    hooks: ConnectionHooks,
  ) {
    super(server, socket, options);
    // Assigned here and not as class fields: SMTPConnection's constructor already calls some of
    // our overrides (_createParser), and field initialisers would run after it.
    this.hooks = hooks;
    this.admission = null;
    this.greetingTimer = null;
    this.unrecognized = 0;
    hooks.created(this);
  }

  /** Replaces smtp-server's init (pinned in greeting-delay.ts): limits, then our greeting delay. */
  override init(): void {
    this._setListeners(() => {
      const admission = this.hooks.limits.admit(this.remoteAddress);
      if (admission instanceof SmtpError) {
        this.send(admission.code, replyText(admission));
        return;
      }
      this.admission = admission;
      this.hooks.deadlines?.start(this);
      this.greetingTimer = scheduleGreeting(() => {
        this.greetingTimer = null;
        if (!this._closing && !this._closed) this.connectionReady();
      }, this.hooks.greetingDelayMs);
    });
  }

  override _onClose(): void {
    if (!this._closed) {
      this.admission?.release();
      this.hooks.deadlines?.end(this);
      if (this.greetingTimer) clearTimeout(this.greetingTimer);
      super._onClose();
      this.hooks.closed(this);
      return;
    }
    super._onClose();
  }

  /**
   * Replies whose text starts with an enhanced code (ours, from SmtpError) are sent as they are;
   * smtp-server would otherwise put its own guess from the reply code in front.
   */
  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    // `x.y.z `: the second character is a dot; most texts fail that test before the regex.
    const match = typeof data === 'string' && data.charCodeAt(1) === DOT ? ENHANCED_PREFIX.exec(data) : null;
    if (match && match[1] === String(code)[0]) {
      super.send(code, data, false);
      return;
    }
    super.send(code, data, context);
  }

  /**
   * SMTPConnection.prototype._createParser (pinned in greeting-delay.ts) with two changes: the
   * parser hands out MessageStreams for DATA, and an over-long line, which breaks smtp-server's
   * parser for good, gets 500 (RFC 5321 §4.5.3.1.10) before the 421.
   */
  override _createParser(): ReturnType<SMTPConnection['_createParser']> {
    const parser = new MessageParser({ maxCommandLength: this._server.options.maxCommandLength }, this);
    parser.oncommand = (command, callback) => this._onCommand(command, callback);
    parser.on('error', (error: Error) => {
      if (/too long/i.test(error.message)) this.send(500, '5.5.2 Line too long');
      this.send(421, '4.4.2 Closing connection after a protocol error');
    });
    return parser;
  }

  /** The total session deadline passed (session-deadlines.ts). */
  sessionExpired(): void {
    this.send(421, '4.4.2 Session time limit exceeded, closing connection');
  }

  /** Sends a reply that carries its own enhanced code (smtp-server adds none). */
  reply(code: number, text: string): void {
    super.send(code, text, false);
  }

  /** Sends an SmtpError as the reply. */
  replyError(error: SmtpError): void {
    super.send(error.code, replyText(error), false);
  }

  /**
   * Replaces SMTPConnection.prototype._onCommand (pinned in greeting-delay.ts) for every line
   * outside STARTTLS and AUTH exchanges: the same checks in the same order with the same
   * replies, but the verb is found once (verbOf, no string split per line), the handler is the
   * cached answer of _isSupported, and nothing is built for smtp-server's debug log, which our
   * servers disable (logger: false). The rare paths (TLS upgrade, AUTH continuation, LMTP) still
   * go through smtp-server's own code.
   */
  override _onCommand(command: Buffer, callback?: () => void): void {
    if (this._upgrading || this._server.options.lmtp) {
      super._onCommand(command, callback);
      return;
    }
    if (this._server._closeTimeout) {
      this.send(421, 'Server shutting down', verbOf(command));
      return;
    }
    if (!this._ready) {
      // RFC 5321 §4.3.1 / §3.1: the client must wait for the greeting.
      this.send(421, `4.7.0 ${this.name} Protocol error: command sent before the greeting`);
      return;
    }
    if (this._nextHandler) {
      // A continuation line of AUTH: refuse what is not base64 instead of decoding garbage.
      const line = command.toString('latin1').trim();
      if (line !== '*' && (line === '' || !BASE64.test(line))) {
        this._nextHandler = false;
        this.send(501, '5.5.2 Invalid base64 data');
        const next = callback ?? (() => undefined);
        setImmediate(() => this._whenWritable(next));
        return;
      }
      super._onCommand(command, callback);
      return;
    }
    const name = verbOf(command);
    // smtp-server refuses HTTP requests (a web page made to talk SMTP); only these verbs can match.
    if (HTTP_VERBS.has(name) && HTTP_REQUEST.test(command.toString())) {
      this.send(421, 'HTTP requests not allowed', name);
      return;
    }
    if (this.hooks.isClosing() && !this.mayFinish(name)) {
      this.send(421, '4.3.2 Server shutting down, try again later');
      return;
    }
    const next = callback ?? noop;
    if (!this.supported(name)) {
      this.unrecognized++;
      if (this.unrecognized >= this.hooks.maxUnrecognizedCommands) {
        this.send(421, '4.7.0 Too many unrecognized commands, closing connection');
        return;
      }
      this.send(500, 'Error: command not recognized', name);
      setImmediate(() => this._whenWritable(next));
      return;
    }
    if (name === 'HELO' || name === 'EHLO' || name === 'LHLO') this.openingCommand = name;
    const handler = this._getHandler(name);
    if (!handler) {
      // A supported verb without a handler method: smtp-server answers it as unrecognised.
      this.send(500, 'Error: command not recognized', name);
      setImmediate(() => this._whenWritable(next));
      return;
    }
    const options = this._server.options;
    const user = this.session.user;
    if (!user && !options.authOptional && this.supported('AUTH')) {
      if (name !== 'AUTH' && this._maxAllowedUnauthenticatedCommands !== false) {
        this._unauthenticatedCommands++;
        if (this._unauthenticatedCommands >= this._maxAllowedUnauthenticatedCommands) {
          this.send(421, 'Error: too many unauthenticated commands', name);
          return;
        }
      }
    }
    const transactional = name === 'MAIL' || name === 'RCPT' || name === 'DATA';
    if (!this.hostNameAppearsAs && (transactional || name === 'AUTH')) {
      this.send(503, 'Error: send HELO/EHLO first');
      setImmediate(() => this._whenWritable(next));
      return;
    }
    if (!user && transactional && !options.authOptional && this.supported('AUTH')) {
      this.send(
        530,
        typeof options.authRequiredMessage === 'string'
          ? options.authRequiredMessage
          : 'Error: authentication Required',
      );
      setImmediate(() => this._whenWritable(next));
      return;
    }
    // A handler bug must not escape into the socket data pipe (as in smtp-server).
    let handlerDone = false;
    const handlerCallback = () => {
      handlerDone = true;
      this._handlerPending = false;
      this._whenWritable(next);
    };
    this._handlerPending = true;
    try {
      handler.call(this, command, handlerCallback);
    } catch (error) {
      this._server.logger.error(
        { err: error, tnx: 'command', cid: this.id, command: name },
        '%s Failed to process %s command: %s',
        this.id,
        name,
        (error as Error).message,
      );
      if (!handlerDone) {
        this.send(451, 'Error: internal server error');
        handlerCallback();
      }
    }
  }

  /**
   * smtp-server's _isSupported, remembered per server: outside handler_EHLO (which changes
   * session.disabledCommands for the length of its reply) the answer depends only on the
   * server's options and the handlers of this class. At most MAX_CACHED_NAMES names are kept,
   * so a client sending garbage verbs cannot grow the cache.
   */
  private supported(name: string): boolean {
    const cache = this.hooks.supportedCommands;
    let supported = cache.get(name);
    if (supported === undefined) {
      supported = this._isSupported(name);
      if (cache.size < MAX_CACHED_NAMES) cache.set(name, supported);
    }
    return supported;
  }

  /** During shutdown a transaction already open may still complete. */
  private mayFinish(name: string): boolean {
    if (name === 'QUIT') return true;
    const open = Boolean(this.session.envelope?.mailFrom);
    return open && (name === 'RCPT' || name === 'DATA' || name === 'NOOP');
  }

  override _resetSession(): void {
    super._resetSession();
    this.hooks.reset(this);
  }

  override handler_EHLO(command: Buffer, callback: () => void): void {
    const done = () => {
      this.hooks.greeted(this);
      callback();
    };
    if (this.hooks.authOffered(this)) {
      super.handler_EHLO(command, done);
      return;
    }
    // Hide AUTH from the EHLO reply only; smtp-server reads session.disabledCommands there.
    const saved = this.session.disabledCommands;
    this.session.disabledCommands = [...(this._server.options.disabledCommands ?? []), 'AUTH'];
    try {
      super.handler_EHLO(command, done);
    } finally {
      if (saved === undefined) delete this.session.disabledCommands;
      else this.session.disabledCommands = saved;
    }
  }

  override handler_HELO(command: Buffer, callback: () => void): void {
    super.handler_HELO(command, () => {
      this.hooks.greeted(this);
      callback();
    });
  }

  override handler_AUTH(command: Buffer, callback: () => void): void {
    if (!this.hooks.authOffered(this)) {
      this.send(530, '5.7.0 Must issue a STARTTLS command first');
      callback();
      return;
    }
    const initial = command.toString('latin1').trim().split(/\s+/)[2];
    if (initial !== undefined && initial !== '=' && !BASE64.test(initial)) {
      this.send(501, '5.5.2 Invalid base64 data');
      callback();
      return;
    }
    super.handler_AUTH(command, callback);
  }

  /**
   * Replaces smtp-server's handler_MAIL: the line is parsed once, by esmtp-command.ts (which
   * accepts only what smtp-server's parser did not refuse as well, and decodes the ESMTP
   * parameters), and the result is handed to the backend.
   */
  override handler_MAIL(command: Buffer, callback: () => void): void {
    this.emitConnection();
    if (this.session.envelope.mailFrom) {
      this.reply(503, '5.5.1 Error: nested MAIL command');
      callback();
      return;
    }
    this.hooks.mail(this, command, callback);
  }

  /** Records an accepted MAIL where smtp-server's own code looks for it, then says 250. */
  acceptMail(address: string, smtputf8: boolean, body: string | undefined): void {
    const envelope = this.session.envelope;
    envelope.mailFrom = { address, args: false };
    if (smtputf8) envelope.smtpUtf8 = true;
    if (body !== undefined) envelope.bodyType = body.toLowerCase();
    this.sendFixed(MAIL_ACCEPTED);
  }

  /** Replaces smtp-server's handler_RCPT, as handler_MAIL. */
  override handler_RCPT(command: Buffer, callback: () => void): void {
    if (!this.session.envelope.mailFrom) {
      this.reply(503, '5.5.1 Error: need MAIL command');
      callback();
      return;
    }
    this.hooks.rcpt(this, command, callback);
  }

  /**
   * Records an accepted recipient where smtp-server's own code looks for it (handler_DATA needs
   * one), at `index` of the transaction's list, then says 250.
   */
  acceptRcpt(address: string, index: number): void {
    this.session.envelope.rcptTo[index] = { address, args: false };
    this.sendFixed(RCPT_ACCEPTED);
  }

  /**
   * Writes one of our constant positive replies (no control characters, below 400) where
   * smtp-server's send would, under the same conditions, without building it anew each time:
   * they are sent for every MAIL and RCPT.
   */
  private sendFixed(payload: string): void {
    const socket = this._socket;
    if (!this._upgrading && socket && !socket.destroyed && socket.readyState === 'open') {
      socket.write(payload);
    }
  }
}
