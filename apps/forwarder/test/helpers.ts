// Test helpers: a forwarder on loopback, configured as data (each test overrides what it is about),
// with a loopback DNS zone for every domain involved, and one SMTP peer standing in for every MX
// (the courier's delivery port points at it, so the sender's and the destinations' MX are one peer).

import { writeFileSync } from 'node:fs';
import { dkimDnsRecord, generateDkimKey } from '@mailyard/auth';
import { type Logger, silentLogger } from '@mailyard/service';
import {
  createTestCertificate,
  type DnsServer,
  openTempDir,
  type PeerScript,
  type SmtpPeer,
  startDns,
  startPeer,
  type TempDir,
  type Zone,
} from '@mailyard/testkit';
import { createTransport } from 'nodemailer';
import { stringify } from 'yaml';
import { type Forwarder, openForwarder } from '../src/forwarder.ts';
import { parseForwarderConfig } from '../src/forwarder-config.ts';

export const ADMIN_TOKEN = 'forwarder-admin-token-0123';
export const SRS_SECRET = 'srs-secret-for-tests-0123456789';
export const KEYS = { sender: generateDkimKey({ type: 'rsa' }), arc: generateDkimKey({ type: 'rsa' }) };

/** The TXT records a destination needs to check DKIM and ARC (as dkimpy's dnsfunc serves them). */
export const KEY_RECORDS: Record<string, string> = {
  'rsa._domainkey.sender.test': dkimDnsRecord({
    domain: 'sender.test',
    selector: 'rsa',
    key: KEYS.sender.privateKey,
  }).value,
  'arc._domainkey.forward.test': dkimDnsRecord({
    domain: 'forward.test',
    selector: 'arc',
    key: KEYS.arc.privateKey,
  }).value,
};

export const ZONE: Zone = {
  'sender.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'], MX: [{ priority: 10, exchange: 'mx.sender.test' }] },
  'mx.sender.test': { A: ['127.0.0.1'] },
  '_dmarc.sender.test': { TXT: ['v=DMARC1; p=reject'] },
  'strict.test': { TXT: ['v=spf1 -all'] },
  '_dmarc.strict.test': { TXT: ['v=DMARC1; p=reject'] },
  'loose.test': { TXT: ['v=spf1 -all'] },
  '_dmarc.loose.test': { TXT: ['v=DMARC1; p=quarantine'] },
  'forward.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'], MX: [{ priority: 10, exchange: 'mx.forward.test' }] },
  'inbox.test': { MX: [{ priority: 10, exchange: 'mx.inbox.test' }] },
  'mx.inbox.test': { A: ['127.0.0.1'] },
  ...Object.fromEntries(Object.entries(KEY_RECORDS).map(([name, value]) => [name, { TXT: [value] }])),
};

export const RULES = [
  { recipient: 'alias@forward.test', forward: 'dest@inbox.test' },
  { recipient: 'two@forward.test', forward: ['one@inbox.test', 'other@inbox.test'] },
  { recipient: 'bounce@forward.test', forward: 'gone@inbox.test' },
  { recipient: 'alice@forward.test', forward: 'alice@inbox.test' },
  { recipient: 'alice+news@forward.test', forward: 'news@inbox.test' },
  { recipient: 'spam@forward.test', drop: true },
  { recipient: 'hook@forward.test', webhook: 'app' },
  { recipient: 'old@forward.test', reject: { code: 550, enhanced: '5.1.6', text: 'This address moved' } },
  { recipient: '*@catch.test', forward: 'catchall@inbox.test' },
];

type Json = { [key: string]: unknown };

export interface TestWorld extends AsyncDisposable {
  readonly dns: DnsServer;
  readonly peer: SmtpPeer;
  readonly forwarder: Forwarder;
  readonly dir: TempDir;
  readonly port: number;
}

let certificate: ReturnType<typeof createTestCertificate> | undefined;

/** DNS, the MX peer and a forwarder; `overrides` replace top-level keys of the configuration. */
export async function startWorld(
  overrides: Json = {},
  peerScript: PeerScript = {},
  logger: Logger = silentLogger,
): Promise<TestWorld> {
  const dir = await openTempDir('mailyard-forwarder-');
  const dns = await startDns(ZONE);
  const peer = await startPeer({ name: 'mx.test', ...peerScript });
  certificate ??= createTestCertificate();
  const { key, cert } = await certificate;
  writeFileSync(dir.join('key.pem'), key);
  writeFileSync(dir.join('cert.pem'), cert);
  writeFileSync(dir.join('arc.pem'), KEYS.arc.privateKey);
  const config = {
    hostname: 'mx.forward.test',
    dataDir: 'data',
    listen: '127.0.0.1:0',
    tls: { cert: 'cert.pem', key: 'key.pem' },
    domains: ['forward.test', 'catch.test'],
    srs: { domain: 'forward.test', secrets: [SRS_SECRET] },
    arc: { domain: 'forward.test', selector: 'arc', key: 'arc.pem' },
    rules: RULES,
    webhooks: { app: { url: 'http://127.0.0.1:9/unused', secret: 'webhook-secret-0123456789' } },
    delivery: { port: peer.port, tls: 'none', mtaSts: false, reuseIdle: 0, poll: '100ms' },
    queue: { retry: ['1s'] },
    admin: { listen: '127.0.0.1:0', token: ADMIN_TOKEN },
    log: { level: 'silent' },
    ...overrides,
    // The loopback zone is always the resolver; an override adds other dns keys (cacheTtl).
    dns: { servers: [dns.address], ...(overrides.dns as Json | undefined) },
  };
  const file = dir.join('forwarder.yaml');
  writeFileSync(file, stringify(config));
  const forwarder = await openForwarder(parseForwarderConfig(stringify(config), { file }), { logger });
  return {
    dns,
    peer,
    forwarder,
    dir,
    port: forwarder.listener.port,
    async [Symbol.asyncDispose]() {
      await forwarder.close({ deadlineMs: 500 });
      await peer.close();
      await dns.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

export interface SendOptions {
  readonly from: string;
  readonly to: readonly string[];
  readonly headerFrom?: string;
  readonly subject?: string;
  /** Sign with sender.test's DKIM key (nodemailer's own signer: independent of ours). */
  readonly dkim?: boolean;
  /** An envelope sender other than `from` (`null`: the null sender). */
  readonly mailFrom?: string | null;
}

/** Sends through the forwarder with nodemailer over STARTTLS; resolves with its info or rejects with the reply. */
export function send(port: number, options: SendOptions) {
  const transport = createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    tls: { rejectUnauthorized: false },
    ...(options.dkim
      ? { dkim: { domainName: 'sender.test', keySelector: 'rsa', privateKey: KEYS.sender.privateKey } }
      : {}),
  });
  return transport.sendMail({
    from: options.headerFrom ?? options.from,
    to: options.to.join(', '),
    subject: options.subject ?? 'Forward me',
    text: 'Hello through the forwarder.\n',
    envelope: {
      from: options.mailFrom === null ? '' : (options.mailFrom ?? options.from),
      to: [...options.to],
    },
  });
}

/** The transactions the MX peer accepted whose RCPT names `rcpt`. */
export function deliveredTo(peer: SmtpPeer, rcpt: string) {
  return peer.transactions.filter(
    (t) => t.ended && t.accepted.some((line) => line.toLowerCase().includes(`<${rcpt}>`)),
  );
}

/** Waits until `check` is true, polling (the queue delivers asynchronously). */
export async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export { stringify as yaml };
