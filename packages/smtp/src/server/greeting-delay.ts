// The pre-greeting pause (RFC 5321 §4.3.1 lets a server delay its 220; MTAs use the pause to
// catch "early talkers", clients that send before the greeting — spamware, not real MTAs).
// smtp-server 3.21.6 hard-codes 100 ms in SMTPConnection.prototype.init, which caps a server at
// ~10 messages/s per concurrent client when each message opens a connection. We replace init in
// a subclass used only by our own SMTPServer instances (other instances in the process keep the
// stock behaviour), so the pause becomes the `greetingDelayMs` option. Because the replacement
// re-implements library code, it is pinned: the guard below compares the source of the methods
// we replace with what we reviewed, and refuses to start if smtp-server changed them. The same
// guard covers SMTPConnection._createParser and SMTPStream.startDataMode, which
// hardened-connection.ts re-implements to hand out its own data stream, and
// SMTPConnection._onCommand, which it re-implements to find each verb once.

import { createRequire } from 'node:module';
import { SMTPConnection, SMTPServer, SMTPStream } from './smtp-server-module.ts';

/** smtp-server's code we replace, whitespace and comments squashed (smtp-server 3.21.6). */
export const PINNED_SOURCES: Readonly<Record<string, string>> = {
  'SMTPConnection.prototype.init':
    "init() { this._setListeners(() => { if (this._server.options.maxClients && this._server.connections.size > this._server.options.maxClients) { return this.send(421, this.name + ' Too many connected clients, try again in a moment', false); } let readyTimer = setTimeout(() => this.connectionReady(), 100); readyTimer.unref(); }); }",
  'SMTPServer.prototype.connect':
    "connect(socket, socketOptions) { let connection = new SMTPConnection(this, socket, socketOptions); this.connections.add(connection); connection.on('error', err => this._onError(err)); connection.on('connect', data => this._onClientConnect(data)); connection.init(); }",
  'SMTPConnection.prototype._createParser':
    "_createParser() { let parser = new SMTPStream({ maxCommandLength: this._server.options.maxCommandLength }); parser.oncommand = (command, callback) => this._onCommand(command, callback); parser.on('error', err => { this.send(421, 'Error: ' + err.message); }); return parser; }",
  'SMTPConnection.prototype._onCommand':
    "_onCommand(command, callback) { let commandName = (command || '').toString().split(' ').shift().toUpperCase(); let logged = this._redactCredentials(commandName, (command || '').toString()); this._server.logger.debug({ tnx: 'command', cid: this.id, command: logged.commandName, user: (this.session.user && this.session.user.username) || this.session.user }, 'C:', logged.line); let handler; const next = callback || (() => false); const done = () => this._whenWritable(next); if (this._upgrading) { return done(); } if (this._server._closeTimeout) { return this.send(421, 'Server shutting down', commandName); } if (!this._ready) { return this.send(421, this.name + ' You talk too soon', commandName); } if (/^(OPTIONS|GET|HEAD|POST|PUT|DELETE|TRACE|CONNECT) \\/.* HTTP\\/\\d\\.\\d$/i.test(command.toString())) { return this.send(421, 'HTTP requests not allowed', commandName); } if (this._nextHandler) { handler = this._nextHandler; this._nextHandler = false; } else { switch (commandName) { case 'HELO': case 'EHLO': case 'LHLO': this.openingCommand = commandName; break; } if (this._server.options.lmtp) { switch (commandName) { case 'HELO': case 'EHLO': this.send(500, 'Error: ' + commandName + ' not allowed in LMTP server', false); setImmediate(done); return; case 'LHLO': commandName = 'EHLO'; break; } } if (this._isSupported(commandName)) { handler = this._getHandler(commandName); } } if (!handler) { this._unrecognizedCommands++; if (this._unrecognizedCommands >= 10) { return this.send(421, 'Error: too many unrecognized commands', commandName); } this.send(500, 'Error: command not recognized', commandName); setImmediate(done); return; } if (!this.session.user && this._isSupported('AUTH') && !this._server.options.authOptional && commandName !== 'AUTH' && this._maxAllowedUnauthenticatedCommands !== false) { this._unauthenticatedCommands++; if (this._unauthenticatedCommands >= this._maxAllowedUnauthenticatedCommands) { return this.send(421, 'Error: too many unauthenticated commands', commandName); } } if (!this.hostNameAppearsAs && commandName && ['MAIL', 'RCPT', 'DATA', 'AUTH'].includes(commandName)) { this.send(503, 'Error: send ' + (this._server.options.lmtp ? 'LHLO' : 'HELO/EHLO') + ' first'); setImmediate(done); return; } if (!this.session.user && this._isSupported('AUTH') && ['MAIL', 'RCPT', 'DATA'].includes(commandName) && !this._server.options.authOptional) { this.send(530, typeof this._server.options.authRequiredMessage === 'string' ? this._server.options.authRequiredMessage : 'Error: authentication Required'); setImmediate(done); return; } let handlerDone = false; let handlerCallback = () => { handlerDone = true; this._handlerPending = false; return done(); }; this._handlerPending = true; try { handler.call(this, command, handlerCallback); } catch (E) { let err = E; this._server.logger.error({ err, tnx: 'command', cid: this.id, command: commandName }, '%s Failed to process %s command: %s', this.id, commandName, err.message); if (!handlerDone) { this.send(451, 'Error: internal server error'); handlerCallback(); } } }",
  'SMTPStream.prototype.startDataMode':
    'startDataMode(maxBytes) { this._dataMode = true; this._maxBytes = (maxBytes && Number(maxBytes)) || Infinity; this.dataBytes = 0; this._atDataStart = true; let dataStream = new PassThrough(); dataStream.byteLength = 0; dataStream.sizeExceeded = false; this._dataStream = dataStream; return dataStream; }',
};

/** Internals of SMTPConnection our subclass calls or overrides; each must still be a function. */
const REQUIRED_CONNECTION_METHODS = [
  '_setListeners',
  'connectionReady',
  'send',
  'close',
  '_onCommand',
  '_onClose',
  '_createParser',
  '_resetSession',
  '_isSupported',
  '_getHandler',
  '_whenWritable',
  'emitConnection',
  'handler_EHLO',
  'handler_HELO',
  'handler_AUTH',
  'handler_DATA',
];

function squash(source: string): string {
  return (
    source
      .replace(/\/\/[^\n]*\n/g, '\n')
      .replace(/\s+/g, ' ')
      .trim()
      // The CommonJS build (what we load) names imports through their module objects:
      // `new smtp_stream_js_1.SMTPStream(…)`, `(0, shared_1.getLogger)(…)`. Read as the code says.
      .replace(/\(0, \w+_1\.(\w+)\)/g, '$1')
      .replace(/\b\w+_1\.(?=[A-Za-z_$])/g, '')
  );
}

export class IncompatibleSmtpServerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IncompatibleSmtpServerError';
  }
}

export interface PatchTargets {
  readonly connectionPrototype: object;
  readonly serverPrototype: object;
  /** SMTPStream.prototype; default: the installed one. */
  readonly streamPrototype?: object;
  readonly version?: string;
}

function method(target: object, name: string): unknown {
  return (target as Record<string, unknown>)[name];
}

/**
 * Throws IncompatibleSmtpServerError when smtp-server's code differs from what the override
 * was written against. Runs in createSmtpServer, so an upgrade fails loudly at startup and in
 * the tests, never silently in production.
 */
export function assertPatchable(targets: PatchTargets = installedSmtpServer()): void {
  const found: Record<string, unknown> = {
    'SMTPConnection.prototype.init': method(targets.connectionPrototype, 'init'),
    'SMTPServer.prototype.connect': method(targets.serverPrototype, 'connect'),
    'SMTPConnection.prototype._createParser': method(targets.connectionPrototype, '_createParser'),
    'SMTPConnection.prototype._onCommand': method(targets.connectionPrototype, '_onCommand'),
    'SMTPStream.prototype.startDataMode': method(
      targets.streamPrototype ?? SMTPStream.prototype,
      'startDataMode',
    ),
  };
  const version = targets.version ?? 'unknown';
  for (const [name, expected] of Object.entries(PINNED_SOURCES)) {
    const fn = found[name];
    if (typeof fn !== 'function' || squash(fn.toString()) !== expected) {
      throw new IncompatibleSmtpServerError(
        `smtp-server ${version}: ${name} is not the code @mailyard/smtp's overrides (greeting delay, data stream) were pinned to ` +
          '(smtp-server 3.21.6). Review the new code and update src/server/greeting-delay.ts.',
      );
    }
  }
  for (const name of REQUIRED_CONNECTION_METHODS) {
    if (typeof method(targets.connectionPrototype, name) !== 'function') {
      throw new IncompatibleSmtpServerError(
        `smtp-server ${version}: SMTPConnection.prototype.${name} is missing`,
      );
    }
  }
}

export function installedSmtpServer(): PatchTargets {
  const require = createRequire(import.meta.url);
  const { version } = require('smtp-server/package.json') as { version: string };
  return {
    connectionPrototype: SMTPConnection.prototype,
    serverPrototype: SMTPServer.prototype,
    streamPrototype: SMTPStream.prototype,
    version,
  };
}

/** Schedules the greeting the way smtp-server's init did, with our delay (0 = right away). */
export function scheduleGreeting(ready: () => void, delayMs: number): NodeJS.Timeout | null {
  if (delayMs <= 0) {
    ready();
    return null;
  }
  const timer = setTimeout(ready, delayMs);
  // Like smtp-server's own timer: a pending greeting must not keep the process alive.
  timer.unref();
  return timer;
}
