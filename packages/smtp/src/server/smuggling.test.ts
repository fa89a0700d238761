// SMTP smuggling (CVE-2023-51764/5/6): every end-of-data sequence from the SEC Consult scanner
// (../shared/testdata/smtp-smuggling-sequences, read in place), sent whole and byte by byte over a
// real socket. Only CRLF.CRLF may end DATA; nothing after a fake terminator may become a command.

import { readFileSync } from 'node:fs';
import { sendRaw } from '@mailyard/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { createSmtpServer, type SmtpServer } from './create-smtp-server.ts';
import type { BareLineEndings } from './data-guard.ts';
import { createRecordingBackend, type RecordingBackend } from './test-backend.ts';

interface Sequence {
  readonly json: string;
  readonly hex: string;
}
const DATA_FILE = new URL(
  '../../../../../shared/testdata/smtp-smuggling-sequences/eod-sequences.json',
  import.meta.url,
);
const file = JSON.parse(readFileSync(DATA_FILE, 'utf8')) as {
  inbound_eod_sequences: Sequence[];
  outbound_eod_sequences: Sequence[];
};
const SEQUENCES = [
  ...new Set([...file.inbound_eod_sequences, ...file.outbound_eod_sequences].map((s) => s.hex)),
];

const HEAD = 'EHLO client.example\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n';
const SMUGGLED =
  'MAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\n' +
  'Subject: smuggled\r\n\r\nsmuggled\r\n.\r\nQUIT\r\n';

function payload(hex: string): Buffer {
  return Buffer.concat([
    Buffer.from(`${HEAD}Subject: test\r\n\r\nbody`, 'latin1'),
    Buffer.from(hex, 'hex'),
    Buffer.from(SMUGGLED, 'latin1'),
  ]);
}

/** True when the DATA content around this sequence has a CR or LF that is not part of CRLF. */
function hasBareLineEnding(hex: string): boolean {
  const content = `body${Buffer.from(hex, 'hex').toString('latin1')}MAIL`;
  return /\r(?!\n)|(?<!\r)\n/.test(content);
}

function replyCodes(replies: string): string[] {
  return replies
    .split('\r\n')
    .filter((line) => /^\d{3} /.test(line))
    .map((line) => line.slice(0, 9));
}

const servers: SmtpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close({ deadline: 1000 })));
});

async function start(bareLineEndings: BareLineEndings): Promise<{ backend: RecordingBackend; port: number }> {
  const backend = createRecordingBackend();
  const server = createSmtpServer({ hostname: 'mx.test.example', bareLineEndings }, backend);
  servers.push(server);
  const [address] = await server.listen();
  return { backend, port: address?.port ?? 0 };
}

describe('SMTP smuggling end-of-data sequences', () => {
  it('reads every listed sequence from the shared test data', () => {
    expect(SEQUENCES.length).toBeGreaterThanOrEqual(9);
  });

  for (const hex of SEQUENCES) {
    for (const byteByByte of [false, true]) {
      const how = byteByByte ? 'byte by byte' : 'whole';
      it(`never ends DATA at ${hex} (sent ${how}) and yields one transaction`, async () => {
        const { backend, port } = await start('reject');
        const replies = await sendRaw('127.0.0.1', port, payload(hex), { byteByByte, until: /^221 /m });
        const codes = replyCodes(replies);
        // greeting, EHLO, MAIL, RCPT, 354, one reply to the message, QUIT
        expect(codes.filter((c) => c.startsWith('354'))).toHaveLength(1);
        expect(backend.mails).toHaveLength(1);
        expect(backend.rcpts.map((r) => r.address.localPart)).toEqual(['bob']);
        if (hasBareLineEnding(hex)) {
          expect(codes.at(-2)).toBe('550 5.6.0');
          expect(backend.messages).toHaveLength(0);
        } else {
          expect(codes.at(-2)).toBe('250 2.6.0');
          expect(backend.messages).toHaveLength(1);
          expect(backend.messages[0]?.body).toContain('MAIL FROM:<evil@attacker.example>');
        }
        expect(codes.at(-1)).toBe('221 2.0.0');
      });
    }

    it(`with normalize, keeps ${hex} as content with CRLF line ends in one message`, async () => {
      const { backend, port } = await start('normalize');
      const replies = await sendRaw('127.0.0.1', port, payload(hex), { until: /^221 /m });
      const codes = replyCodes(replies);
      expect(codes.filter((c) => c.startsWith('354'))).toHaveLength(1);
      expect(codes.at(-2)).toBe('250 2.6.0');
      expect(backend.mails).toHaveLength(1);
      expect(backend.messages).toHaveLength(1);
      const body = backend.messages[0]?.body ?? '';
      expect(body).toContain('MAIL FROM:<evil@attacker.example>');
      expect(body).not.toMatch(/\r(?!\n)|(?<!\r)\n/);
    });
  }
});
