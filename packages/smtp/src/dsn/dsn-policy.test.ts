import { describe, expect, it } from 'vitest';
import { parseAddress } from '../address.ts';
import type { Recipient } from '../envelope.ts';
import { mayNotifySender, wantsDsn } from './dsn-policy.ts';

const address = parseAddress('bob@example.net');
const rcpt = (notify?: Recipient['notify']): Recipient =>
  notify === undefined ? { address } : { address, notify };

describe('wantsDsn', () => {
  it('reports failures and delays but not successes when NOTIFY is absent', () => {
    expect(wantsDsn(rcpt(), 'failed')).toBe(true);
    expect(wantsDsn(rcpt(), 'delayed')).toBe(true);
    expect(wantsDsn(rcpt(), 'delivered')).toBe(false);
    expect(wantsDsn(rcpt(), 'relayed')).toBe(false);
  });

  it('reports nothing for NOTIFY=NEVER', () => {
    for (const action of ['failed', 'delayed', 'delivered', 'relayed', 'expanded'] as const) {
      expect(wantsDsn(rcpt('NEVER'), action)).toBe(false);
    }
  });

  it('reports exactly the events listed in NOTIFY', () => {
    expect(wantsDsn(rcpt(['SUCCESS']), 'delivered')).toBe(true);
    expect(wantsDsn(rcpt(['SUCCESS']), 'expanded')).toBe(true);
    expect(wantsDsn(rcpt(['SUCCESS']), 'failed')).toBe(false);
    expect(wantsDsn(rcpt(['FAILURE']), 'failed')).toBe(true);
    expect(wantsDsn(rcpt(['FAILURE']), 'delayed')).toBe(false);
    expect(wantsDsn(rcpt(['DELAY', 'SUCCESS']), 'delayed')).toBe(true);
  });
});

describe('mayNotifySender', () => {
  it('never allows a DSN to the null sender', () => {
    expect(mayNotifySender({ mailFrom: null })).toBe(false);
  });

  it('allows a DSN to a real sender', () => {
    expect(mayNotifySender({ mailFrom: parseAddress('alice@example.com') })).toBe(true);
  });
});
