import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { sendRaw } from '@mailyard/testkit';
import { SMTPServer } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { afterEach, describe, expect, it } from 'vitest';
import { createSmtpServer, type SmtpServer } from './create-smtp-server.ts';
import { assertPatchable, IncompatibleSmtpServerError, installedSmtpServer } from './greeting-delay.ts';
import { createRecordingBackend } from './test-backend.ts';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function startOurs(greetingDelayMs?: number): Promise<{ server: SmtpServer; port: number }> {
  const backend = createRecordingBackend();
  const server = createSmtpServer(
    { hostname: 'mx.test.example', ...(greetingDelayMs === undefined ? {} : { greetingDelayMs }) },
    backend,
  );
  closers.push(() => server.close({ deadline: 1000 }));
  const [address] = await server.listen();
  return { server, port: address?.port ?? 0 };
}

/** Milliseconds from TCP connect to the first byte of the greeting. */
function timeToGreeting(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let start = 0;
    socket.once('connect', () => {
      start = performance.now();
    });
    socket.once('data', () => {
      resolve(performance.now() - start);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

async function medianGreeting(port: number, count: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) times.push(await timeToGreeting(port));
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
}

describe('the smtp-server override guard', () => {
  it('guards the CommonJS build, the one the server loads (2 MB less heap than its ESM build)', () => {
    const cjs = createRequire(import.meta.url);
    const installed = installedSmtpServer();
    expect(installed.serverPrototype).toBe(cjs('smtp-server').SMTPServer.prototype);
    expect(installed.connectionPrototype).toBe(
      cjs('smtp-server/lib/smtp-connection.js').SMTPConnection.prototype,
    );
    // The ESM build's classes (imported by this test) are other objects; the server does not use them.
    expect(installed.serverPrototype).not.toBe(SMTPServer.prototype);
  });

  it('accepts the installed smtp-server', () => {
    expect(() => assertPatchable()).not.toThrow();
    expect(installedSmtpServer().version).toBe('3.21.6');
  });

  it('refuses an smtp-server whose SMTPConnection.init changed', () => {
    const changed = Object.create(SMTPConnection.prototype) as Record<string, unknown>;
    changed.init = function init() {
      setTimeout(() => undefined, 250);
    };
    expect(() =>
      assertPatchable({
        connectionPrototype: changed,
        serverPrototype: SMTPServer.prototype,
        version: '9.9.9',
      }),
    ).toThrow(IncompatibleSmtpServerError);
  });

  it('refuses an smtp-server whose SMTPConnection._onCommand changed', () => {
    const changed = Object.create(SMTPConnection.prototype) as Record<string, unknown>;
    changed._onCommand = function _onCommand() {
      return undefined;
    };
    expect(() =>
      assertPatchable({ connectionPrototype: changed, serverPrototype: SMTPServer.prototype }),
    ).toThrow(/_onCommand is not the code/);
  });

  it('refuses an smtp-server that lacks a method the override calls', () => {
    const reduced = Object.create(SMTPConnection.prototype) as Record<string, unknown>;
    reduced._setListeners = undefined;
    expect(() =>
      assertPatchable({ connectionPrototype: reduced, serverPrototype: SMTPServer.prototype }),
    ).toThrow(/_setListeners is missing/);
  });
});

describe('greetingDelayMs', () => {
  it('greets a new connection promptly by default (median well under 100 ms)', async () => {
    const { port } = await startOurs();
    expect(await medianGreeting(port, 9)).toBeLessThan(75);
  });

  it('honours a configured delay', async () => {
    const { port } = await startOurs(300);
    expect(await timeToGreeting(port)).toBeGreaterThanOrEqual(280);
  });

  it('refuses a client that talks before the delayed greeting with 421 4.7.0', async () => {
    const { port } = await startOurs(300);
    const replies = await sendRaw('127.0.0.1', port, 'EHLO early.example\r\n', { waitForGreeting: false });
    expect(replies).toMatch(/^421 4\.7\.0 /);
    expect(replies).not.toContain('220 ');
  });

  it('leaves other SMTPServer instances in the process with their stock 100 ms pause', async () => {
    const stock = new SMTPServer({
      logger: false,
      disableReverseLookup: true,
      disabledCommands: ['STARTTLS'],
    });
    await new Promise<void>((resolve) => stock.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => stock.close(() => resolve())));
    const address = stock.server.address();
    const stockPort = typeof address === 'object' && address ? address.port : 0;
    const { port } = await startOurs();
    expect(await timeToGreeting(stockPort)).toBeGreaterThanOrEqual(90);
    expect(await medianGreeting(port, 5)).toBeLessThan(75);
  });
});
