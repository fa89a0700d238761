// One SMTP connection, hardened: smtp-server's SMTPConnection with the behaviour the stock class
// lacks — a configurable greeting delay (see greeting-delay.ts), connection limits, a total
// session deadline, a configurable cap on unrecognised commands (RFC 5321 §4.3.2: 500, then
// 421 and close), strict base64 in AUTH (RFC 4954 §4: 501 5.5.2), AUTH hidden until TLS
// (RFC 3207 §4, RFC 4954 §4: 530 5.7.0), graceful shutdown, and replies that keep the RFC 3463
// enhanced code the backend chose (RFC 2034). Only servers built by createSmtpServer use it.

import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { SMTPServer } from 'smtp-server';
import { SMTPConnection, type SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection.js';
import { SmtpError } from '../smtp-error.ts';
import type { Admission, ConnectionLimits } from './connection-limits.ts';
import { scheduleGreeting } from './greeting-delay.ts';

/** What a connection asks of the server that owns it. */
export interface ConnectionHooks {
  readonly greetingDelayMs: number;
  readonly sessionTimeoutMs: number;
  readonly maxUnrecognizedCommands: number;
  readonly limits: ConnectionLimits;
  /** The server is shutting down: finish open transactions, refuse the rest. */
  isClosing(): boolean;
  /** AUTH can be offered on this connection now (backend verifies; TLS or plaintext allowed). */
  authOffered(connection: HardenedConnection): boolean;
  /** Called once per connection, before anything else. */
  created(connection: HardenedConnection): void;
  /** HELO/EHLO answered (successfully or not). */
  greeted(connection: HardenedConnection): void;
  /** The raw MAIL/RCPT line, just before smtp-server's own handling. */
  command(connection: HardenedConnection, verb: 'MAIL' | 'RCPT', line: Buffer): void;
  /** smtp-server reset the transaction state (RSET, HELO/EHLO, STARTTLS, end of DATA). */
  reset(connection: HardenedConnection): void;
  closed(connection: HardenedConnection): void;
}

/** A line of an AUTH exchange: RFC 4648 base64, or `=` for an empty initial response. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** A reply text that already carries an enhanced status code. */
const ENHANCED_PREFIX = /^([245])\.\d{1,3}\.\d{1,3} /;

function replyText(error: SmtpError): string {
  return `${error.enhanced} ${error.message}`;
}

export class HardenedConnection extends SMTPConnection {
  declare readonly hooks: ConnectionHooks;
  declare admission: Admission | null;
  declare sessionTimer: NodeJS.Timeout | null;
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
    this.sessionTimer = null;
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
      if (this.hooks.sessionTimeoutMs > 0) {
        this.sessionTimer = setTimeout(() => {
          this.send(421, '4.4.2 Session time limit exceeded, closing connection');
        }, this.hooks.sessionTimeoutMs);
        this.sessionTimer.unref();
      }
      this.greetingTimer = scheduleGreeting(() => {
        this.greetingTimer = null;
        if (!this._closing && !this._closed) this.connectionReady();
      }, this.hooks.greetingDelayMs);
    });
  }

  override _onClose(): void {
    if (!this._closed) {
      this.admission?.release();
      if (this.sessionTimer) clearTimeout(this.sessionTimer);
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
    const match = typeof data === 'string' ? ENHANCED_PREFIX.exec(data) : null;
    if (match && match[1] === String(code)[0]) {
      super.send(code, data, false);
      return;
    }
    super.send(code, data, context);
  }

  /** An over-long line breaks smtp-server's parser for good: say 500 (RFC 5321 §4.5.3.1.10), then 421. */
  override _createParser(): ReturnType<SMTPConnection['_createParser']> {
    const parser = super._createParser();
    parser.removeAllListeners('error');
    parser.on('error', (error: Error) => {
      if (/too long/i.test(error.message)) this.send(500, '5.5.2 Line too long');
      this.send(421, '4.4.2 Closing connection after a protocol error');
    });
    return parser;
  }

  override _onCommand(command: Buffer, callback?: () => void): void {
    const next = callback ?? (() => undefined);
    const later = () => setImmediate(() => this._whenWritable(next));
    if (this._upgrading) {
      super._onCommand(command, callback);
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
        later();
        return;
      }
      super._onCommand(command, callback);
      return;
    }
    const name = command.toString('latin1').split(' ')[0]?.toUpperCase() ?? '';
    if (this.hooks.isClosing() && !this.mayFinish(name)) {
      this.send(421, '4.3.2 Server shutting down, try again later');
      return;
    }
    if (!this._isSupported(name)) {
      this.unrecognized++;
      if (this.unrecognized >= this.hooks.maxUnrecognizedCommands) {
        this.send(421, '4.7.0 Too many unrecognized commands, closing connection');
        return;
      }
      // Our counter decides; keep smtp-server's fixed limit of 10 from firing first.
      this._unrecognizedCommands = 0;
    }
    super._onCommand(command, callback);
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

  override handler_MAIL(command: Buffer, callback: () => void): void {
    this.hooks.command(this, 'MAIL', command);
    super.handler_MAIL(command, callback);
  }

  override handler_RCPT(command: Buffer, callback: () => void): void {
    this.hooks.command(this, 'RCPT', command);
    super.handler_RCPT(command, callback);
  }
}
