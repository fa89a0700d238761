// Test helpers: a relay on loopback with a throwaway certificate, a users file, DKIM keys and a
// configuration built as data (so each test overrides only what it is about).

import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateDkimKey } from '@mailyard/auth';
import { type Logger, silentLogger } from '@mailyard/service';
import { createTestCertificate, openTempDir, type TempDir } from '@mailyard/testkit';
import { stringify } from 'yaml';
import { openRelay, type Relay } from '../src/relay.ts';
import { parseRelayConfig } from '../src/relay-config.ts';
import { addUser } from '../src/users-file.ts';

export const PASSWORD = 'correct horse battery';
export const ADMIN_TOKEN = 'test-admin-token-0123456789';
const here = dirname(fileURLToPath(import.meta.url));
export const CLI_MAIN = resolve(here, '../../cli/src/main.ts');

type Json = { [key: string]: unknown };

function merge(base: Json, extra: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] =
      value &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      current &&
      typeof current === 'object' &&
      !Array.isArray(current)
        ? merge(current as Json, value as Json)
        : value;
  }
  return out;
}

let certificate: Promise<{ key: string; cert: string }> | undefined;
const keys = { ed: generateDkimKey({ type: 'ed25519' }), rsa: generateDkimKey({ type: 'rsa' }) };
export const DKIM_KEYS = keys;

export interface RelayFiles {
  readonly dir: TempDir;
  readonly configPath: string;
  readonly config: Json;
}

/** Writes cert, keys, users and relay.yaml into a fresh temp dir. */
export async function writeRelayFiles(overrides: Json = {}): Promise<RelayFiles> {
  const dir = await openTempDir('mailyard-relay-');
  certificate ??= createTestCertificate();
  const { key, cert } = await certificate;
  writeFileSync(dir.join('key.pem'), key);
  writeFileSync(dir.join('cert.pem'), cert);
  writeFileSync(dir.join('dkim-ed.pem'), keys.ed.privateKey);
  writeFileSync(dir.join('dkim-rsa.pem'), keys.rsa.privateKey);
  await addUser(dir.join('users.txt'), 'alice', PASSWORD);
  const config = merge(
    {
      hostname: 'relay.test',
      dataDir: 'data',
      tls: { cert: 'cert.pem', key: 'key.pem' },
      listeners: {
        submission: { listen: '127.0.0.1:0' },
        submissions: { listen: '127.0.0.1:0' },
        trusted: { listen: '127.0.0.1:0', networks: ['127.0.0.0/8'] },
      },
      localDomains: ['relay.test'],
      users: { file: 'users.txt', grants: { alice: ['example.org'] } },
      dkim: [
        { domain: 'example.org', selector: 'ed', key: 'dkim-ed.pem' },
        { domain: 'example.org', selector: 'rsa', key: 'dkim-rsa.pem' },
      ],
      delivery: { reuseIdle: 0, poll: '200ms', mtaSts: false },
      admin: { listen: '127.0.0.1:0', token: ADMIN_TOKEN },
      log: { level: 'silent' },
    },
    overrides,
  );
  const configPath = dir.join('relay.yaml');
  writeFileSync(configPath, stringify(config));
  return { dir, configPath, config };
}

export interface TestRelay extends AsyncDisposable {
  readonly relay: Relay;
  readonly dir: TempDir;
  readonly configPath: string;
  port(listener: 'submission' | 'submissions' | 'trusted'): number;
  admin(path: string, init?: RequestInit): Promise<Response>;
}

export async function startTestRelay(
  overrides: Json = {},
  logger: Logger = silentLogger,
): Promise<TestRelay> {
  const files = await writeRelayFiles(overrides);
  const config = parseRelayConfig(stringify(files.config), { file: files.configPath });
  const relay = await openRelay(config, { logger });
  return {
    relay,
    dir: files.dir,
    configPath: files.configPath,
    port(listener) {
      const bound = relay.listeners[listener];
      if (!bound) throw new Error(`no ${listener} listener`);
      return bound.port;
    },
    admin(path, init = {}) {
      return fetch(`${relay.adminUrl}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(init.headers as Record<string, string>) },
      });
    },
    async [Symbol.asyncDispose]() {
      await relay.close({ deadlineMs: 1000 });
      await files.dir[Symbol.asyncDispose]();
    },
  };
}

/** A message with the fields DKIM signs. */
export function testMessage(subject: string, from = 'alice@example.org', to = 'bob@example.net'): string {
  return [
    `From: Alice <${from}>`,
    `To: <${to}>`,
    `Subject: ${subject}`,
    'Date: Sun, 29 Nov 2026 10:00:00 +0000',
    `Message-ID: <${subject.replace(/\W/g, '-')}@example.org>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    `Body of ${subject}.`,
    '',
  ].join('\r\n');
}

/** Injects a message through the admin API; returns the queue id. */
export async function inject(
  relay: TestRelay,
  message: string,
  from: string,
  to: readonly string[],
): Promise<string> {
  const query = new URLSearchParams([
    ['from', from] as [string, string],
    ...to.map((t): [string, string] => ['to', t]),
  ]);
  const response = await relay.admin(`/api/messages?${query}`, { method: 'POST', body: message });
  const body = (await response.json()) as { queueId: string };
  if (response.status !== 200) throw new Error(`injection failed: ${JSON.stringify(body)}`);
  return body.queueId;
}

/** Starts `mailyard relay --config` as a child process; resolves once it printed `ready`. */
export async function spawnRelay(
  configPath: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ child: ChildProcess; output: () => string; listeners: Record<string, number> }> {
  const child = spawn(process.execPath, ['--conditions=source', CLI_MAIN, 'relay', '--config', configPath], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  await new Promise<void>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay did not start:\n${output}`)), 30_000);
    const check = (): void => {
      if (output.includes('mailyard relay: ready')) {
        clearTimeout(timer);
        resolvePromise();
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`relay exited with ${code}:\n${output}`));
    });
  });
  const listeners: Record<string, number> = {};
  for (const match of output.matchAll(/mailyard relay: (\w+) smtp:\/\/[\d.]+:(\d+)/g))
    listeners[match[1] as string] = Number(match[2]);
  return { child, output: () => output, listeners };
}

export { join };
