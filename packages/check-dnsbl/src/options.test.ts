import { CheckConfigError } from '@mailyard/smtp';
import { describe, expect, it } from 'vitest';
import { parseDnsblOptions } from './options.ts';

function issuesOf(options: unknown): { path: string; message: string }[] {
  try {
    parseDnsblOptions(options, 'checks[0].options');
  } catch (error) {
    expect(error).toBeInstanceOf(CheckConfigError);
    return [...(error as CheckConfigError).issues];
  }
  throw new Error('options were accepted');
}

describe('parseDnsblOptions', () => {
  it('fills in the defaults: reject at RCPT, postmaster and abuse exempt, 5 s lookups', () => {
    expect(parseDnsblOptions({ zones: ['ZEN.Example.'] }, 'p')).toEqual({
      zones: [{ zone: 'zen.example', codes: null }],
      domainZones: [],
      domains: ['mailFrom', 'helo'],
      action: 'reject',
      stage: 'rcpt',
      exempt: ['postmaster', 'abuse'],
      skipAuthenticated: true,
      timeoutMs: 5000,
    });
  });

  it('reads code ranges', () => {
    const config = parseDnsblOptions(
      { zones: [{ zone: 'zen.example', codes: ['127.0.0.2-127.0.0.11', '127.0.0.20'] }] },
      'p',
    );
    expect(config.zones[0]?.codes).toEqual([
      { from: 0x7f000002, to: 0x7f00000b },
      { from: 0x7f000014, to: 0x7f000014 },
    ]);
  });

  it('reports every problem at once, each with its path', () => {
    expect(
      issuesOf({
        zones: [
          'zen.example',
          'bad zone!',
          { zone: 'x.example', codes: ['127.255.255.254', '10.0.0.1', 'nope'] },
          'zen.example',
        ],
        action: 'drop',
        timeoutMs: 0,
        extra: true,
        domains: ['envelope'],
      }).map((issue) => issue.path),
    ).toEqual([
      'checks[0].options.extra',
      'checks[0].options.zones[1]',
      'checks[0].options.zones[2].codes[0]',
      'checks[0].options.zones[2].codes[1]',
      'checks[0].options.zones[2].codes[2]',
      'checks[0].options.zones[3]',
      'checks[0].options.domains[0]',
      'checks[0].options.action',
      'checks[0].options.timeoutMs',
    ]);
  });

  it('refuses error codes as listing codes', () => {
    const [issue] = issuesOf({ zones: [{ zone: 'zen.example', codes: ['127.255.255.0-127.255.255.255'] }] });
    expect(issue?.message).toContain('errors');
  });

  it('needs at least one list', () => {
    expect(issuesOf({})).toEqual([
      { path: 'checks[0].options.zones', message: expect.stringContaining('at least one list') },
    ]);
    expect(issuesOf(null)[0]?.path).toBe('checks[0].options');
  });

  it('refuses a stage for the tag action', () => {
    expect(issuesOf({ zones: ['a.example'], action: 'tag', stage: 'connect' })[0]?.path).toBe(
      'checks[0].options.stage',
    );
  });
});
