import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli.ts';
import { captureIo } from './capture-io.ts';

const dir = await mkdtemp(join(tmpdir(), 'mailyard-rules-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

async function file(name: string, lines: string[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

const good = await file('good.yaml', [
  'rules:',
  '  - name: alice',
  '    recipient: alice@example.com',
  '    forward: alice@home.example',
  '  - name: dmarc quarantine',
  "    recipient: '*@example.com'",
  '    auth: { dmarc: fail }',
  '    hold: dmarc failed',
  "  - recipient: '*@example.com'",
  '    reject: { code: 550, enhanced: 5.1.1, text: No such user here }',
  "  - recipient: '*'",
  '    clientIp: 192.0.2.0/24',
  '    relay: outbound',
]);

const bad = await file('bad.yaml', [
  'rules:',
  '  - recipient: alice@example.com',
  '    forwrd: alice@home.example',
  '  - recipient: bob@example.com',
  '    forward: not-an-address',
  '  - recipient: /(unclosed@example\\.com/',
  '    deliver: true',
  '  - recipient: carol@example.com',
  '    reject: { code: 450, enhanced: 5.1.1 }',
]);

describe('mailyard rules check', () => {
  it('exits 0 and counts the rules of a valid file', async () => {
    const t = captureIo();
    expect(await main(['rules', 'check', '--config', good], t.io)).toBe(0);
    expect(t.stdout()).toBe(`${good}: 4 rules, ok\n`);
  });

  it('exits 1 and lists every error as file:line:col with its path', async () => {
    const t = captureIo();
    expect(await main(['rules', 'check', '--config', bad], t.io)).toBe(1);
    const lines = t.stderr().trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(new RegExp(`^${bad}:2:5: error: rules\\[0\\]: a rule needs an action`)),
      expect.stringMatching(new RegExp(`^${bad}:3:5: error: rules\\[0\\]\\.forwrd: unknown key 'forwrd'`)),
      expect.stringMatching(new RegExp(`^${bad}:5:14: error: rules\\[1\\]\\.forward: destination`)),
      expect.stringMatching(
        new RegExp(`^${bad}:6:16: error: rules\\[2\\]\\.recipient: regex does not compile`),
      ),
      expect.stringMatching(new RegExp(`^${bad}:9:36: error: rules\\[3\\]\\.reject\\.enhanced: .*4\\.x\\.x`)),
      `${bad}: 5 errors`,
    ]);
  });

  it('checks smarthost names given on the command line', async () => {
    const t = captureIo();
    expect(await main(['rules', 'check', '--config', good, '--smarthost', 'other'], t.io)).toBe(1);
    expect(t.stderr()).toContain("rules[3].relay: unknown smarthost 'outbound'");
  });

  it('exits 1 when the file cannot be read', async () => {
    const t = captureIo();
    expect(await main(['rules', 'check', '--config', join(dir, 'missing.yaml')], t.io)).toBe(1);
    expect(t.stderr()).toContain('ENOENT');
  });

  it('exits 2 without --config', async () => {
    const t = captureIo();
    expect(await main(['rules', 'check'], t.io)).toBe(2);
    expect(t.stderr()).toContain('--config FILE is required');
  });
});

describe('mailyard rules test', () => {
  it('prints the plan and the rules tried for each recipient', async () => {
    const t = captureIo();
    const argv = ['rules', 'test', '--config', good, '--from', 'bob@sender.example'];
    expect(await main([...argv, '--to', 'alice@example.com', '--to', 'zed@example.com'], t.io)).toBe(0);
    expect(t.stdout()).toBe(
      [
        'alice@example.com: accepted',
        '  -> forward to alice@home.example',
        `  decided by: rules[0] 'alice' (${good}:2:5)`,
        '  tried, strongest first:',
        `    matched     rules[0] 'alice' (${good}:2:5) [exact 'alice@example.com']: matched (exact); stops evaluation`,
        `    not-reached rules[1] 'dmarc quarantine' (${good}:5:5) [domain '*@example.com']: not reached: rules[0] 'alice' stopped evaluation`,
        `    not-reached rules[2] (${good}:9:5) [domain '*@example.com']: not reached: rules[0] 'alice' stopped evaluation`,
        `    not-reached rules[3] (${good}:11:5) [any '*']: not reached: rules[0] 'alice' stopped evaluation`,
        'zed@example.com: rejected',
        '  -> reject 550 5.1.1 No such user here',
        `  decided by: rules[2] (${good}:9:5)`,
        '  tried, strongest first:',
        `    no-match    rules[1] 'dmarc quarantine' (${good}:5:5) [domain '*@example.com']: dmarc verdict not known before DATA`,
        `    matched     rules[2] (${good}:9:5) [domain '*@example.com']: rejects with 550 5.1.1 No such user here (domain); stops evaluation`,
        `    not-reached rules[3] (${good}:11:5) [any '*']: not reached: rules[2] stopped evaluation`,
        '',
      ].join('\n'),
    );
  });

  it('uses the verdicts, client IP and null sender given as options', async () => {
    const t = captureIo();
    const argv = [
      'rules',
      'test',
      '--config',
      good,
      '--from',
      '<>',
      '--dmarc',
      'fail',
      '--client-ip',
      '192.0.2.5',
    ];
    expect(await main([...argv, '--to', 'x@example.com', '--to', 'y@example.net'], t.io)).toBe(0);
    expect(t.stdout()).toContain('x@example.com: accepted\n  -> hold (dmarc failed)\n');
    expect(t.stdout()).toContain("y@example.net: accepted\n  -> relay via smarthost 'outbound'\n");
  });

  it('lists the rules whose pattern did not match with --verbose', async () => {
    const t = captureIo();
    const argv = [
      'rules',
      'test',
      '--config',
      good,
      '--from',
      'a@b.example',
      '--to',
      'q@example.org',
      '--verbose',
    ];
    expect(await main(argv, t.io)).toBe(0);
    expect(t.stdout()).toContain("recipient 'q@example.org' does not match 'alice@example.com'");
  });

  it('prints the problems and exits 1 for an invalid file', async () => {
    const t = captureIo();
    const argv = ['rules', 'test', '--config', bad, '--from', 'a@b.example', '--to', 'alice@example.com'];
    expect(await main(argv, t.io)).toBe(1);
    expect(t.stderr()).toContain(`${bad}:3:5: error`);
    expect(t.stdout()).toBe('');
  });

  it('exits 2 for a bad address or a missing --to', async () => {
    const bad1 = captureIo();
    expect(
      await main(['rules', 'test', '--config', good, '--from', 'nope', '--to', 'a@b.example'], bad1.io),
    ).toBe(2);
    expect(bad1.stderr()).toContain('--from nope');
    const bad2 = captureIo();
    expect(await main(['rules', 'test', '--config', good, '--from', 'a@b.example'], bad2.io)).toBe(2);
    const bad3 = captureIo();
    expect(await main(['rules', 'test', '--config', good, '--nope'], bad3.io)).toBe(2);
  });

  it('is listed in mailyard --help', async () => {
    const t = captureIo();
    await main(['--help'], t.io);
    expect(t.stdout()).toMatch(/^ {2}rules +check a routing rules file/m);
  });
});
