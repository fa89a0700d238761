import { sendRaw } from '@mailyard/testkit';
import { afterEach, expect, it } from 'vitest';
import { startExampleServer } from '../examples/server.ts';

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
});

it('runs the example server, which accepts a message and refuses nobody@', async () => {
  const server = await startExampleServer(0);
  close = () => server.close({ deadline: 1000 });
  const port = server.addresses[0]?.port ?? 0;
  const replies = await sendRaw(
    '127.0.0.1',
    port,
    'EHLO client.example\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<nobody@example.com>\r\n' +
      'RCPT TO:<bob@example.com>\r\nDATA\r\nSubject: hi\r\n\r\nhello\r\n.\r\nQUIT\r\n',
  );
  expect(replies).toMatch(/^550 5\.1\.1 No such user here\r$/m);
  expect(replies).toMatch(/^250 2\.6\.0 queued as \S+\r$/m);
});
