import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type PeerScript, type SmtpPeer, startPeer } from './smtp-peer.ts';

const peers: SmtpPeer[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(peers.splice(0).map((p) => p.close()));
});

/** A minimal line-oriented client: `reply()` resolves with the next complete (multi-line) reply. */
async function client(script: PeerScript = {}) {
  const peer = await startPeer(script);
  peers.push(peer);
  const socket = connect(peer.port, peer.host);
  sockets.push(socket);
  let buffer = '';
  let closed = false;
  let wake: (() => void) | null = null;
  socket.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    wake?.();
  });
  socket.on('close', () => {
    closed = true;
    wake?.();
  });
  socket.on('error', () => {});
  const reply = async (): Promise<string> => {
    for (;;) {
      const match = /^(?:\d{3}-[^\n]*\n)*\d{3}(?: [^\n]*)?\r?\n/.exec(buffer);
      if (match) {
        buffer = buffer.slice(match[0].length);
        return match[0];
      }
      if (closed) return 'closed';
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  };
  const waitClosed = async () => {
    while (!closed) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  };
  await once(socket, 'connect');
  return { peer, socket, reply, waitClosed };
}

describe('startPeer', () => {
  it('accepts a transaction and records MAIL, RCPT and DATA bytes as received', async () => {
    const { peer, socket, reply } = await client();
    expect(await reply()).toMatch(/^220 /);
    socket.write('EHLO client.test\r\n');
    expect(await reply()).toMatch(/250-PIPELINING[\s\S]*250 SIZE 10485760/);
    socket.write('MAIL FROM:<a@example.test>\r\n');
    expect(await reply()).toMatch(/^250 /);
    socket.write('RCPT TO:<b@example.test>\r\n');
    expect(await reply()).toMatch(/^250 /);
    socket.write('DATA\r\n');
    expect(await reply()).toMatch(/^354 /);
    socket.write('Subject: x\r\n\r\n..dot\r\nbody\r\n.\r\n');
    expect(await reply()).toMatch(/^250 /);
    const [transaction] = peer.transactions;
    expect(transaction?.mailFrom).toBe('MAIL FROM:<a@example.test>');
    expect(transaction?.rcptTo).toEqual(['RCPT TO:<b@example.test>']);
    expect(transaction?.data?.toString()).toBe('Subject: x\r\n\r\n..dot\r\nbody\r\n.\r\n');
    expect(transaction?.content?.toString()).toBe('Subject: x\r\n\r\n.dot\r\nbody\r\n');
    expect(peer.sessions[0]?.heloName).toBe('client.test');
  });

  it('answers from a list in order, then with the default', async () => {
    const { socket, reply } = await client({ rcpt: ['451 4.2.1 busy'] });
    await reply();
    socket.write('HELO c\r\nMAIL FROM:<>\r\n');
    await reply();
    await reply();
    socket.write('RCPT TO:<a@x.test>\r\n');
    expect(await reply()).toMatch(/^451 4\.2\.1/);
    socket.write('RCPT TO:<a@x.test>\r\n');
    expect(await reply()).toMatch(/^250 /);
  });

  it('rejects EHLO when scripted as a HELO-only server', async () => {
    const { socket, reply } = await client({ ehlo: '502 5.5.2 Command not recognized' });
    await reply();
    socket.write('EHLO c\r\n');
    expect(await reply()).toMatch(/^502 /);
    socket.write('HELO c\r\n');
    expect(await reply()).toMatch(/^250 /);
  });

  it('advertises the scripted extensions only', async () => {
    const { socket, reply } = await client({ extensions: ['8BITMIME'] });
    await reply();
    socket.write('EHLO c\r\n');
    const ehlo = await reply();
    expect(ehlo).toContain('8BITMIME');
    expect(ehlo).not.toContain('PIPELINING');
  });

  it('drops the connection when DATA bytes arrive if scripted to', async () => {
    const { peer, socket, reply, waitClosed } = await client({ dropMidData: true });
    await reply();
    socket.write('HELO c\r\nMAIL FROM:<>\r\nRCPT TO:<a@x.test>\r\nDATA\r\n');
    for (let i = 0; i < 3; i++) await reply();
    expect(await reply()).toMatch(/^354/);
    socket.write('Subject: partial\r\n');
    await waitClosed();
    await peer.waitForTransactions(1);
    expect(peer.transactions[0]?.ended).toBe(false);
    expect(peer.transactions[0]?.data?.toString()).toBe('Subject: partial\r\n');
  });

  it('delays the greeting when scripted to', async () => {
    const started = Date.now();
    const { reply } = await client({ greetingDelayMs: 300 });
    await reply();
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('marks commands that arrived before the previous reply as pipelined', async () => {
    const { peer, socket, reply } = await client({ mail: [{ delayMs: 200, reply: '250 2.1.0 OK' }] });
    await reply();
    socket.write('EHLO c\r\n');
    await reply();
    socket.write('MAIL FROM:<>\r\nRCPT TO:<a@x.test>\r\n');
    await reply();
    await reply();
    const flags = peer.sessions[0]?.commands.map((c) => [c.verb, c.pipelined]);
    expect(flags).toEqual([
      ['EHLO', false],
      ['MAIL', false],
      ['RCPT', true],
    ]);
  });

  it('verifies AUTH PLAIN credentials against the scripted users', async () => {
    const { peer, socket, reply } = await client({ auth: { users: { alice: 'secret' } } });
    await reply();
    socket.write('EHLO c\r\n');
    expect(await reply()).toContain('AUTH PLAIN LOGIN');
    socket.write(`AUTH PLAIN ${Buffer.from('\0alice\0wrong').toString('base64')}\r\n`);
    expect(await reply()).toMatch(/^535 /);
    socket.write('AUTH PLAIN\r\n');
    expect(await reply()).toMatch(/^334/);
    socket.write(`${Buffer.from('\0alice\0secret').toString('base64')}\r\n`);
    expect(await reply()).toMatch(/^235 /);
    expect(peer.sessions[0]?.auth).toEqual({ mechanism: 'PLAIN', username: 'alice', password: 'secret' });
  });

  it('runs the AUTH LOGIN exchange', async () => {
    const { peer, socket, reply } = await client({ auth: {} });
    await reply();
    socket.write('AUTH LOGIN\r\n');
    expect(await reply()).toMatch(/^334 VXNlcm5hbWU6/);
    socket.write(`${Buffer.from('bob').toString('base64')}\r\n`);
    expect(await reply()).toMatch(/^334 UGFzc3dvcmQ6/);
    socket.write(`${Buffer.from('pw').toString('base64')}\r\n`);
    expect(await reply()).toMatch(/^235 /);
    expect(peer.sessions[0]?.auth?.username).toBe('bob');
  });

  it('never answers a command scripted as silent', async () => {
    const { peer, socket, reply } = await client({ mail: 'silent' });
    await reply();
    socket.write('HELO c\r\nMAIL FROM:<>\r\n');
    await reply();
    const next = await Promise.race([reply(), new Promise((r) => setTimeout(() => r('nothing'), 300))]);
    expect(next).toBe('nothing');
    expect(peer.commands).toEqual(['HELO c', 'MAIL FROM:<>']);
  });

  it('closes the connection for a command scripted as drop', async () => {
    const { socket, reply, waitClosed } = await client({ greeting: '220 hi', helo: 'drop' });
    expect(await reply()).toMatch(/^220 hi/);
    socket.write('HELO c\r\n');
    await waitClosed();
    expect(await reply()).toBe('closed');
  });
});
