// Test helpers: a sink on loopback port 0 with a temp SQLite file, and an SMTP client.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createStaticResolver } from '@mailyard/auth';
import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer/index.js';
import { openSink, type Sink, type SinkOptions } from '../src/index.ts';

export interface TestSink extends Sink {
  readonly dir: string;
  send(mail: Mail.Options): Promise<string>;
  sendRaw(raw: string | Buffer, envelope?: { from: string; to: string[] }): Promise<string>;
  get(path: string, init?: RequestInit): Promise<Response>;
  // biome-ignore lint/suspicious/noExplicitAny: API JSON in tests is checked by the assertions
  json<T = any>(path: string, init?: RequestInit): Promise<T>;
}

export async function startSink(options: Partial<SinkOptions> = {}): Promise<TestSink> {
  const dir = mkdtempSync(join(tmpdir(), 'mailyard-sink-'));
  const sink = await openSink({
    database: join(dir, 'sink.db'),
    smtp: { port: 0 },
    http: { port: 0 },
    // No network in tests: verdicts come from an empty fixture zone (every lookup: no such name).
    verdicts: { resolver: createStaticResolver({}) },
    ...options,
  });
  const transport = nodemailer.createTransport({
    host: sink.smtpAddress.host,
    port: sink.smtpAddress.port,
    secure: false,
    ignoreTLS: true,
    pool: false,
  });
  const close = async () => {
    transport.close();
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  };
  const get = (path: string, init?: RequestInit) => fetch(`${sink.httpUrl}${path}`, init);
  return {
    ...sink,
    dir,
    async send(mail) {
      const info = await transport.sendMail(mail);
      return /queued as (\w+)/.exec(String(info.response))?.[1] ?? '';
    },
    async sendRaw(raw, envelope = { from: 'sender@example.test', to: ['rcpt@example.test'] }) {
      const info = await transport.sendMail({ envelope, raw });
      return /queued as (\w+)/.exec(String(info.response))?.[1] ?? '';
    },
    get,
    async json<T>(path: string, init?: RequestInit): Promise<T> {
      const response = await get(path, init);
      if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
      return (await response.json()) as T;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

export interface SinkProcess {
  readonly child: ChildProcess;
  readonly smtpPort: number;
  readonly httpUrl: string;
  /** SIGTERM, and waits for the exit (if it is still running). */
  stop(): Promise<void>;
}

/**
 * A sink in a process of its own (fixtures/sink-process.ts), for tests of the process itself;
 * `fileSizeLimitKib` starts it under `ulimit -f`, as a small disk would stop its writes.
 */
export async function startSinkProcess(
  database: string,
  options: { fileSizeLimitKib?: number } = {},
): Promise<SinkProcess> {
  const fixture = join(import.meta.dirname, 'fixtures', 'sink-process.ts');
  const node = [process.execPath, '--conditions=source', fixture, database];
  const [command, ...args] =
    options.fileSizeLimitKib === undefined
      ? node
      : ['bash', '-c', `ulimit -f ${options.fileSizeLimitKib} && exec "$0" "$@"`, ...node];
  const child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const { smtpPort, httpUrl } = JSON.parse(line) as { smtpPort: number; httpUrl: string };
  return {
    child,
    smtpPort,
    httpUrl,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}
