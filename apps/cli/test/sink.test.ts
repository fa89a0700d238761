import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli.ts';
import { captureIo } from './capture-io.ts';

describe('mailyard sink', () => {
  it('starts SMTP and HTTP, prints both URLs, catches mail and stops on the abort signal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailyard-cli-sink-'));
    const controller = new AbortController();
    const { io: commandIo, stdout: out } = captureIo({
      env: { MAILYARD_LISTEN: '127.0.0.1:0', MAILYARD_NO_VERDICTS: '1' },
      signal: controller.signal,
    });
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
    const { io: commandIo, stderr: err } = captureIo();
    expect(await main(['sink', '--smtp', 'nonsense'], commandIo)).toBe(2);
    expect(err()).toContain('--smtp');
  });
});
