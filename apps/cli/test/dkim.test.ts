import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStaticResolver, verify } from '@mailyard/auth';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli.ts';
import { captureIo } from './capture-io.ts';

const dir = await mkdtemp(join(tmpdir(), 'mailyard-dkim-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

/** The TXT value from a zone line `name. IN TXT ( "a" "b" )`. */
function txtValue(zoneLine: string): string {
  return [...zoneLine.matchAll(/"([^"]*)"/g)].map((m) => m[1]).join('');
}

const MESSAGE = 'From: alice@example.org\r\nTo: bob@example.net\r\nSubject: cli\r\n\r\nHello\r\n';

describe('mailyard dkim', () => {
  it('keygen writes an ed25519 key to --out (mode 0600) and prints the record to publish', async () => {
    const out = join(dir, 'ed.pem');
    const t = captureIo();
    expect(
      await main(['dkim', 'keygen', '--domain', 'example.org', '--selector', 's1', '--out', out], t.io),
    ).toBe(0);
    expect(await readFile(out, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    expect(t.stdout()).toMatch(
      /^s1\._domainkey\.example\.org\. IN TXT \( "v=DKIM1; k=ed25519; p=[A-Za-z0-9+/=]+" \)\n$/,
    );
  });

  it('keygen --type rsa prints a record split into 255-octet strings', async () => {
    const t = captureIo();
    expect(
      await main(
        [
          'dkim',
          'keygen',
          '--domain',
          'example.org',
          '--selector',
          'r1',
          '--type',
          'rsa',
          '--out',
          join(dir, 'rsa.pem'),
        ],
        t.io,
      ),
    ).toBe(0);
    const strings = [...t.stdout().matchAll(/"([^"]*)"/g)].map((m) => m[1] ?? '');
    expect(strings.length).toBeGreaterThan(1);
    for (const s of strings) expect(s.length).toBeLessThanOrEqual(255);
    expect(strings.join('')).toMatch(/^v=DKIM1; k=rsa; p=/);
  });

  it('keygen refuses to overwrite an existing key file', async () => {
    const out = join(dir, 'exists.pem');
    await writeFile(out, 'keep me');
    await expect(
      main(['dkim', 'keygen', '--domain', 'example.org', '--selector', 's', '--out', out], captureIo().io),
    ).rejects.toThrow(/EEXIST/);
    expect(await readFile(out, 'utf8')).toBe('keep me');
  });

  it('keygen without --domain is a usage error (exit 2)', async () => {
    const t = captureIo();
    expect(await main(['dkim', 'keygen', '--selector', 's'], t.io)).toBe(2);
    expect(t.stderr()).toMatch(/--domain is required/);
  });

  it('an unknown option or --type is a usage error (exit 2)', async () => {
    expect(
      await main(['dkim', 'keygen', '--domain', 'd.test', '--selector', 's', '--bogus'], captureIo().io),
    ).toBe(2);
    expect(
      await main(
        ['dkim', 'keygen', '--domain', 'd.test', '--selector', 's', '--type', 'dsa'],
        captureIo().io,
      ),
    ).toBe(2);
  });

  it('sign prints the message with a signature that verifies against the keygen record', async () => {
    const keyFile = join(dir, 'sign.pem');
    const gen = captureIo();
    await main(['dkim', 'keygen', '--domain', 'example.org', '--selector', 'cli', '--out', keyFile], gen.io);
    const signed = captureIo({ stdin: MESSAGE });
    expect(
      await main(
        ['dkim', 'sign', '--key', keyFile, '--domain', 'example.org', '--selector', 'cli'],
        signed.io,
      ),
    ).toBe(0);
    expect(signed.stdout()).toMatch(/^DKIM-Signature: v=1; a=ed25519-sha256;/);
    expect(signed.stdout().endsWith(MESSAGE)).toBe(true);
    const resolver = createStaticResolver({
      'cli._domainkey.example.org': { TXT: [txtValue(gen.stdout())] },
    });
    const verdict = await verify(signed.stdout(), { resolver, authservId: 'mx.test' });
    expect(verdict.dkim[0]?.result).toBe('pass');
  });
});
