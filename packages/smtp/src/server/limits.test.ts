import { connect, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { sendRaw } from '@mailyard/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { createSmtpServer, type SmtpServer } from './create-smtp-server.ts';
import type { SmtpServerOptions } from './server-options.ts';
import { createRecordingBackend, type RecordingBackend } from './test-backend.ts';

const servers: SmtpServer[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((s) => s.close({ deadline: 1000 })));
});

async function start(
  options: Partial<SmtpServerOptions> = {},
  backend: RecordingBackend = createRecordingBackend(),
) {
  const server = createSmtpServer({ hostname: 'mx.test.example', ...options }, backend);
  servers.push(server);
  const [address] = await server.listen();
  return { server, backend, port: address?.port ?? 0 };
}

/** Opens a connection and resolves with its first reply line. */
function open(port: number): Promise<{ socket: Socket; first: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    sockets.push(socket);
    let text = '';
    const onData = (data: Buffer) => {
      text += data.toString();
      if (text.includes('\r\n')) {
        socket.off('data', onData);
        resolve({ socket, first: text.split('\r\n')[0] ?? '' });
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

const MAIL = 'EHLO client.example\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.net>\r\n';

describe('SIZE', () => {
  it('refuses a message over the limit with 552 5.3.4 without its size showing in memory', async () => {
    const limit = 64 * 1024;
    const total = 256 * 1024 * 1024;
    const backend = createRecordingBackend({ keepBytes: 1024 });
    const { port } = await start({ maxMessageSize: limit }, backend);
    const line = Buffer.from(`${'x'.repeat(1022)}\r\n`);
    async function* message() {
      yield `${MAIL}DATA\r\n`;
      const block = Buffer.concat(Array.from({ length: 64 }, () => line));
      for (let sent = 0; sent < total; sent += block.length) yield block;
      yield '.\r\nQUIT\r\n';
    }
    // Garbage awaiting collection is not growth: measure what survives a full collection.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const retained = () => {
      gc();
      const now = process.memoryUsage();
      return now.arrayBuffers + now.heapUsed;
    };
    const baseline = retained();
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, retained() - baseline);
    }, 50);
    const replies = await sendRaw('127.0.0.1', port, message(), { until: /^221 /m, timeoutMs: 60_000 });
    clearInterval(sampler);
    expect(replies).toMatch(/^552 5\.3\.4 /m);
    expect(backend.messages).toHaveLength(0);
    // The message is 256 MiB; what the process holds stays far below it. Buffers in flight between
    // the client and the parser (both live in this process) come to 10–35 MiB on a loaded machine,
    // whatever the message size; a server that kept the message would hold all 256.
    expect(peak).toBeLessThan(64 * 1024 * 1024);
  }, 60_000);

  it('refuses a MAIL whose declared SIZE is over the limit with 552 5.3.4', async () => {
    const { port } = await start({ maxMessageSize: 1000 });
    const replies = await sendRaw(
      '127.0.0.1',
      port,
      'EHLO c.example\r\nMAIL FROM:<a@b.example> SIZE=1001\r\nQUIT\r\n',
    );
    expect(replies).toMatch(/^552 5\.3\.4 /m);
  });

  it('accepts a message right at the limit', async () => {
    const { port, backend } = await start({ maxMessageSize: 100 });
    const body = `${'y'.repeat(98)}\r\n`;
    const replies = await sendRaw('127.0.0.1', port, `${MAIL}DATA\r\n${body}.\r\nQUIT\r\n`);
    expect(replies).toMatch(/^250 2\.6\.0 /m);
    expect(backend.messages[0]?.body.endsWith(body)).toBe(true);
  });
});

describe('limits', () => {
  it('refuses recipients beyond maxRecipients with 452 4.5.3', async () => {
    const { port, backend } = await start({ limits: { maxRecipients: 2 } });
    const replies = await sendRaw(
      '127.0.0.1',
      port,
      'EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<r1@x.example>\r\nRCPT TO:<r2@x.example>\r\nRCPT TO:<r3@x.example>\r\nQUIT\r\n',
    );
    expect(replies).toMatch(/^452 4\.5\.3 /m);
    expect(backend.rcpts).toHaveLength(2);
  });

  it('refuses connections beyond maxConnectionsPerIp with 421 4.7.0, and admits again after one closes', async () => {
    const { port } = await start({ limits: { maxConnectionsPerIp: 2 } });
    const first = await open(port);
    await open(port);
    const third = await open(port);
    expect(third.first).toMatch(/^421 4\.7\.0 /);
    first.socket.destroy();
    // The slot comes back once the server has seen the close; give a loaded machine time.
    let again = '';
    for (let attempt = 0; attempt < 40 && !again.startsWith('220 '); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const next = await open(port);
      again = next.first;
      if (!again.startsWith('220 ')) next.socket.destroy();
    }
    expect(again).toMatch(/^220 /);
  });

  it('refuses connections beyond maxConnections with 421 4.3.2', async () => {
    const { port } = await start({ limits: { maxConnections: 1 } });
    expect((await open(port)).first).toMatch(/^220 /);
    expect((await open(port)).first).toMatch(/^421 4\.3\.2 /);
  });

  it('answers an over-long command line with 500 and closes with 421, and stays up', async () => {
    const { port } = await start({ limits: { maxLineLength: 512 } });
    const replies = await sendRaw('127.0.0.1', port, `EHLO c.example\r\nNOOP ${'a'.repeat(600)}\r\nNOOP\r\n`);
    expect(replies).toMatch(/^500 5\.5\.2 /m);
    expect(replies).toMatch(/^421 4\.4\.2 /m);
    expect(replies).not.toMatch(/^250 2\.0\.0 OK/m);
    expect((await open(port)).first).toMatch(/^220 /);
  });

  it('closes an idle connection with 421 after idleTimeoutMs', async () => {
    const { port } = await start({ limits: { idleTimeoutMs: 300 } });
    const replies = await sendRaw('127.0.0.1', port, 'EHLO c.example\r\n');
    expect(replies).toMatch(/^421 4\.4\.2 /m);
  });

  it('closes a busy connection with 421 4.4.2 after sessionTimeoutMs', async () => {
    const { port } = await start({ limits: { sessionTimeoutMs: 500, idleTimeoutMs: 10_000 } });
    async function* chatty() {
      for (let i = 0; i < 50; i++) {
        yield 'NOOP\r\n';
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    const replies = await sendRaw('127.0.0.1', port, chatty());
    expect(replies).toMatch(/^421 4\.4\.2 Session time limit/m);
    expect(replies.match(/^250 /gm)?.length ?? 0).toBeLessThan(50);
  });

  it('closes with 421 after maxUnrecognizedCommands unrecognised commands', async () => {
    const { port } = await start({ limits: { maxUnrecognizedCommands: 3 } });
    const replies = await sendRaw('127.0.0.1', port, 'FOO\r\nBAR\r\nBAZ\r\nQUX\r\n');
    expect(replies.match(/^500 5\.5\.2 /gm)).toHaveLength(2);
    expect(replies).toMatch(/^421 4\.7\.0 Too many unrecognized commands/m);
  });
});
