// The README's Quick start, as a user lives it: `mailyard sink` on its defaults (ports moved to 0
// so tests never collide), swaks completes a transaction, and the message shows in the API.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../bin/mailyard.js', import.meta.url));
const swaks = '/usr/bin/swaks';
const haveSwaks = existsSync(swaks);
if (!haveSwaks && process.env.CI) throw new Error('swaks is missing: .ci/run installs it');

describe.skipIf(!haveSwaks)('quick start (needs swaks: apt-get install swaks)', () => {
  let dir: string;
  let sink: ChildProcess;
  let smtpPort: number;
  let httpUrl: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailyard-quick-start-'));
    sink = spawn(process.execPath, [bin, 'sink', '--smtp', '127.0.0.1:0', '--listen', '127.0.0.1:0'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      sink.once('exit', (code) => reject(new Error(`sink exited with ${code}: ${out}`)));
      sink.stdout?.on('data', (chunk: Buffer) => {
        out += chunk;
        const smtp = /SMTP smtp:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        const http = /(http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (smtp?.[1] && http?.[1]) {
          smtpPort = Number(smtp[1]);
          httpUrl = http[1];
          resolve();
        }
      });
    });
  });

  afterAll(async () => {
    if (sink && sink.exitCode === null) {
      sink.kill('SIGTERM');
      await new Promise((resolve) => sink.once('exit', resolve));
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps its database in ./.mailyard of the working directory', () => {
    expect(existsSync(join(dir, '.mailyard'))).toBe(true);
  });

  it('accepts a message from swaks and shows it in the Mailpit API', async () => {
    const { stdout } = await promisify(execFile)(swaks, [
      '--server',
      `127.0.0.1:${smtpPort}`,
      '--from',
      'me@example.com',
      '--to',
      'you@example.com',
      '--header',
      'Subject: quick start',
    ]);
    expect(stdout).toMatch(/^ -> \.\n<- {2}250 /m);
    const response = await fetch(`${httpUrl}/api/v1/messages`);
    const list = (await response.json()) as { messages: { Subject: string; To: { Address: string }[] }[] };
    expect(list.messages.map((m) => [m.Subject, m.To[0]?.Address])).toContainEqual([
      'quick start',
      'you@example.com',
    ]);
  });

  it('stops cleanly on SIGTERM', async () => {
    sink.kill('SIGTERM');
    const code = await new Promise((resolve) => sink.once('exit', resolve));
    expect(code).toBe(0);
  });
});
