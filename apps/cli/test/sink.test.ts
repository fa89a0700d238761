import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli.ts';

function io(env: NodeJS.ProcessEnv, signal: AbortSignal) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk) => (out += chunk));
  stderr.on('data', (chunk) => (err += chunk));
  return { io: { stdout, stderr, stdin: new PassThrough(), env, signal }, out: () => out, err: () => err };
}

describe('mailyard sink', () => {
  it('starts SMTP and HTTP, prints both URLs, catches mail and stops on the abort signal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailyard-cli-sink-'));
    const controller = new AbortController();
    const { io: commandIo, out } = io(
      { MAILYARD_LISTEN: '127.0.0.1:0', MAILYARD_NO_VERDICTS: '1' },
      controller.signal,
    );
    try {
      const exit = main(['sink', '--smtp', '127.0.0.1:0', '--database', join(dir, 'sink.db')], commandIo);
      await expect.poll(() => out(), { timeout: 20_000 }).toMatch(/web UI and API (http:\/\/\S+)/);
      expect(out()).toMatch(/SMTP smtp:\/\/127\.0\.0\.1:\d+/);
      const http = /web UI and API (http:\/\/\S+)/.exec(out())![1]!;
      const sent = await fetch(`${http}/api/v1/send`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          From: { Email: 'a@example.test' },
          To: [{ Email: 'b@example.test' }],
          Subject: 'cli',
        }),
      });
      expect(sent.status).toBe(200);
      controller.abort();
      expect(await exit).toBe(0);
      expect(out()).toContain('stopping');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports bad flags with exit status 2', async () => {
    const { io: commandIo, err } = io({}, new AbortController().signal);
    expect(await main(['sink', '--smtp', 'nonsense'], commandIo)).toBe(2);
    expect(err()).toContain('--smtp');
  });
});
