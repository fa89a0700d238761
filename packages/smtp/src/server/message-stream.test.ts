import { sendRaw } from '@mailyard/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { SmtpError } from '../smtp-error.ts';
import { createSmtpServer, type SmtpServer } from './create-smtp-server.ts';
import { createRecordingBackend, type RecordingBackend } from './test-backend.ts';

const servers: SmtpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close({ deadline: 1000 })));
});

async function start(backend: RecordingBackend, maxMessageSize?: number): Promise<number> {
  const server = createSmtpServer(
    { hostname: 'mx.test.example', ...(maxMessageSize ? { maxMessageSize } : {}) },
    backend,
  );
  servers.push(server);
  const [address] = await server.listen();
  return address?.port ?? 0;
}

const ENVELOPE = 'EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n';
const AGAIN =
  'MAIL FROM:<e@f.example>\r\nRCPT TO:<g@h.example>\r\nDATA\r\nSubject: two\r\n\r\nsecond\r\n.\r\n';

/** The final reply of every transaction (the replies after each 354). */
function dataReplies(replies: string): string[] {
  const lines = replies.split('\r\n');
  return lines.flatMap((line, i) => (line.startsWith('354 ') ? [lines[i + 1]?.slice(0, 9) ?? ''] : []));
}

describe('the DATA stream', () => {
  it('hands an empty message to the backend as its Received header alone', async () => {
    const backend = createRecordingBackend();
    const port = await start(backend);
    await sendRaw('127.0.0.1', port, `${ENVELOPE}.\r\nQUIT\r\n`);
    expect(backend.messages).toHaveLength(1);
    expect(backend.messages[0]?.body).toMatch(
      /^Received: from c\.example \(\[127\.0\.0\.1\]\)\r\n[\s\S]*\+0000\r\n$/,
    );
  });

  it('puts the Received header in front of a large first chunk too', async () => {
    const backend = createRecordingBackend();
    const port = await start(backend);
    const line = `${'x'.repeat(998)}\r\n`;
    const body = `Subject: big\r\n\r\n${line.repeat(100)}`;
    await sendRaw('127.0.0.1', port, `${ENVELOPE}${body}.\r\nQUIT\r\n`);
    const received = backend.messages[0]?.body ?? '';
    expect(received.startsWith('Received: from c.example')).toBe(true);
    expect(received.slice(received.indexOf('Subject: big'))).toBe(body);
  });

  it('replies after the end of DATA when the backend answers before reading, and goes on', async () => {
    let first = true;
    const backend = createRecordingBackend({
      data() {
        if (!first) return undefined;
        first = false;
        return Promise.resolve('queued early');
      },
    });
    const port = await start(backend);
    const replies = await sendRaw(
      '127.0.0.1',
      port,
      `${ENVELOPE}Subject: one\r\n\r\n${'line\r\n'.repeat(5000)}.\r\n${AGAIN}QUIT\r\n`,
    );
    expect(replies).toMatch(/^250 2\.6\.0 queued early\r$/m);
    expect(dataReplies(replies)).toEqual(['250 2.6.0', '250 2.6.0']);
    expect(backend.messages.map((m) => m.body.slice(m.body.indexOf('Subject:')))).toEqual([
      'Subject: two\r\n\r\nsecond\r\n',
    ]);
  });

  it('replies with the error of a backend that refuses mid-stream, after the end of DATA', async () => {
    let first = true;
    const backend = createRecordingBackend({
      async data(message) {
        if (!first) return undefined;
        first = false;
        for await (const _ of message) throw new SmtpError(554, '5.7.1', 'No thanks');
        return undefined;
      },
    });
    const port = await start(backend);
    const replies = await sendRaw(
      '127.0.0.1',
      port,
      `${ENVELOPE}Subject: one\r\n\r\n${'line\r\n'.repeat(5000)}.\r\n${AGAIN}QUIT\r\n`,
    );
    expect(dataReplies(replies)).toEqual(['554 5.7.1', '250 2.6.0']);
  });

  it('refuses a bare LF even after the backend has answered, and stays in step', async () => {
    let first = true;
    const backend = createRecordingBackend({
      data() {
        if (!first) return undefined;
        first = false;
        return Promise.resolve('queued early');
      },
    });
    const port = await start(backend);
    const replies = await sendRaw(
      '127.0.0.1',
      port,
      `${ENVELOPE}Subject: one\r\n\r\n${'line\r\n'.repeat(5000)}bare\nlf\r\n.\r\n${AGAIN}QUIT\r\n`,
    );
    expect(dataReplies(replies)).toEqual(['550 5.6.0', '250 2.6.0']);
  });

  it('destroys the stream the backend reads with 552 5.3.4 once SIZE is crossed', async () => {
    let seen: unknown = null;
    const backend = createRecordingBackend({
      async data(message) {
        try {
          for await (const _ of message);
        } catch (error) {
          seen = error;
          throw error;
        }
      },
    });
    const port = await start(backend, 10_000);
    const replies = await sendRaw(
      '127.0.0.1',
      port,
      `${ENVELOPE}${`${'z'.repeat(998)}\r\n`.repeat(30)}.\r\nQUIT\r\n`,
    );
    expect(dataReplies(replies)).toEqual(['552 5.3.4']);
    expect(seen).toBeInstanceOf(SmtpError);
    expect((seen as SmtpError).code).toBe(552);
  });
});
