import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { peekHead } from './message-head.ts';

describe('peekHead', () => {
  it('finds the header block across chunks and replays the whole message', async () => {
    const chunks = ['From: a@exa', 'mple.org\r\nSubj', 'ect: x\r\n', '\r\nbody', ' more\r\n'];
    const { head, message } = await peekHead(Readable.from(chunks.map((c) => Buffer.from(c))));
    expect(head.toString()).toBe('From: a@example.org\r\nSubject: x');
    expect(Buffer.concat(await message.toArray()).toString()).toBe(chunks.join(''));
  });

  it('handles a message without a body', async () => {
    const { head, message } = await peekHead(Readable.from([Buffer.from('Subject: only\r\n')]));
    expect(head.toString()).toBe('Subject: only\r\n');
    expect(Buffer.concat(await message.toArray()).toString()).toBe('Subject: only\r\n');
  });
});
