// A full disk: the sink runs in its own process with a file size limit (`ulimit -f`, as a small
// disk would stop its writes: EFBIG where a full one gives ENOSPC), and a message too large for
// what is left gets 452 4.3.1 while the sink stays up, keeps what it had and takes the next one.
import { join } from 'node:path';
import { openTempDir, sendRaw, type TempDir } from '@mailyard/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SinkProcess, startSinkProcess } from './helpers.ts';

/** Largest file the sink may write, in KiB. */
const LIMIT_KIB = 4096;

function transaction(subject: string, bodyBytes: number): string {
  const line = `${'x'.repeat(76)}\r\n`;
  const body = line.repeat(Math.ceil(bodyBytes / line.length));
  return `EHLO client.test\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\nSubject: ${subject}\r\n\r\n${body}.\r\nQUIT\r\n`;
}

describe('a full disk', () => {
  let dir: TempDir;
  let sink: SinkProcess;

  beforeAll(async () => {
    dir = await openTempDir('mailyard-sink-full-');
    sink = await startSinkProcess(join(dir.path, 'sink.db'), { fileSizeLimitKib: LIMIT_KIB });
  }, 60_000);

  afterAll(async () => {
    await sink?.stop();
    await dir?.[Symbol.asyncDispose]();
  });

  it('refuses a message that does not fit with 452 4.3.1, and the sink goes on', async () => {
    const send = (subject: string, bytes: number) =>
      sendRaw('127.0.0.1', sink.smtpPort, transaction(subject, bytes), {
        until: /^221 /m,
        timeoutMs: 60_000,
      });
    const before = await send('before', 1000);
    expect(before).toMatch(/^250 .*queued as/m);
    // Written to its segment as it arrives: the write that crosses the limit fails mid-message.
    const tooBig = await send('too big', 6 * 1024 * 1024);
    expect(tooBig).toMatch(/^452 4\.3\.1 /m);
    const after = await send('after', 1000);
    expect(after).toMatch(/^250 .*queued as/m);
    expect(sink.child.exitCode).toBeNull();
    const list = (await (await fetch(`${sink.httpUrl}/api/v1/messages`)).json()) as {
      messages: { Subject: string }[];
    };
    expect(list.messages.map((m) => m.Subject)).toEqual(['after', 'before']);
  }, 60_000);
});
