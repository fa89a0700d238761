import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startPeer } from '@mailyard/testkit';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL('../../', import.meta.url));

describe('examples/send.ts', () => {
  it('delivers one message to the given host and port and prints its outcome', async () => {
    await using peer = await startPeer();
    const { stdout } = await run(
      process.execPath,
      ['--conditions=source', 'examples/send.ts', peer.host, String(peer.port), 'carol@example.net'],
      { cwd: packageDir, timeout: 15_000 },
    );
    expect(stdout).toBe('carol@example.net: delivered (250 2.0.0 OK queued)\n');
    expect(peer.transactions[0]?.rcptTo).toEqual(['RCPT TO:<carol@example.net>']);
    expect(peer.transactions[0]?.content?.toString()).toContain('Subject: Hello\r\n');
  });
});
