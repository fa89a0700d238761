import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { replyCodes, sendRaw } from './send-raw.ts';

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A line echo server with a greeting; `QUIT` closes. Records the sizes of the chunks it reads. */
async function startEcho(chunks: number[] = []): Promise<number> {
  server = createServer((socket) => {
    socket.write('220 hello\r\n');
    let buffered = '';
    socket.on('data', (data: Buffer) => {
      chunks.push(data.length);
      buffered += data.toString('latin1');
      for (let end = buffered.indexOf('\r\n'); end >= 0; end = buffered.indexOf('\r\n')) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        if (line === 'QUIT') socket.end('221 bye\r\n');
        else socket.write(`250 ${line}\r\n`);
      }
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

describe('sendRaw', () => {
  it('waits for the greeting, sends, and returns every reply until the server closes', async () => {
    const port = await startEcho();
    expect(await sendRaw('127.0.0.1', port, 'A\r\nB\r\nQUIT\r\n')).toBe(
      '220 hello\r\n250 A\r\n250 B\r\n221 bye\r\n',
    );
  });

  it('stops at `until` without waiting for the server to close', async () => {
    const port = await startEcho();
    expect(await sendRaw('127.0.0.1', port, ['A\r\n', 'B\r\n'], { until: '250 B\r\n' })).toBe(
      '220 hello\r\n250 A\r\n250 B\r\n',
    );
  });

  it('writes byte by byte when asked', async () => {
    const chunks: number[] = [];
    const port = await startEcho(chunks);
    await sendRaw('127.0.0.1', port, 'ABCDEF\r\nQUIT\r\n', { byteByByte: true });
    expect(chunks.length).toBeGreaterThan(8);
  });

  it('rejects with what arrived when the timeout passes', async () => {
    const port = await startEcho();
    await expect(sendRaw('127.0.0.1', port, 'A\r\n', { timeoutMs: 300 })).rejects.toThrow(/250 A/);
  });

  it('connects from the local address it is given', async () => {
    const peers: (string | undefined)[] = [];
    server = createServer((socket) => {
      peers.push(socket.remoteAddress);
      socket.resume();
      socket.end('221 bye\r\n');
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    await sendRaw('127.0.0.1', port, 'QUIT\r\n', { localAddress: '127.0.0.2' });
    expect(peers).toEqual(['127.0.0.2']);
  });
});

describe('replyCodes', () => {
  it('lists the code of each final reply line, with its enhanced code when it has one', () => {
    const replies =
      '220 mx ready\r\n250-mx\r\n250 SIZE 10\r\n250 2.1.0 OK\r\n554 5.7.1 No\r\n221 2.0.0 Bye\r\n';
    expect(replyCodes(replies)).toEqual(['220', '250', '250 2.1.0', '554 5.7.1', '221 2.0.0']);
  });
});
