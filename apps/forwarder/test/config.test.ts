// The forwarder's configuration: the annotated example is valid once the files it names exist,
// environment overrides apply, and every problem is reported at once with its line.

import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { generateDkimKey } from '@mailyard/auth';
import type { ConfigError } from '@mailyard/service';
import { createTestCertificate, openTempDir } from '@mailyard/testkit';
import { describe, expect, it } from 'vitest';
import { parseForwarderConfig, readForwarderConfig } from '../src/forwarder-config.ts';

describe('forwarder configuration', () => {
  it('accepts the annotated example once the files it names exist', async () => {
    await using dir = await openTempDir();
    copyFileSync(new URL('../forwarder.example.yaml', import.meta.url), dir.join('forwarder.yaml'));
    const { key, cert } = await createTestCertificate();
    mkdirSync(dir.join('tls'));
    mkdirSync(dir.join('keys'));
    writeFileSync(dir.join('tls/key.pem'), key);
    writeFileSync(dir.join('tls/cert.pem'), cert);
    writeFileSync(dir.join('keys/arc.rsa.pem'), generateDkimKey({ type: 'rsa' }).privateKey);
    writeFileSync(dir.join('admin.token'), 'an-admin-token-of-enough-length\n');
    const config = readForwarderConfig(dir.join('forwarder.yaml'), { MAILYARD_DMARC: 'quarantine' });
    expect(config.domains).toEqual(['forward.example', 'other.example']);
    expect(config.listen).toEqual({ host: '0.0.0.0', port: 25 });
    expect(config.arc).toMatchObject({ domain: 'forward.example', selector: 'arc2026' });
    expect(config.dmarc).toBe('quarantine');
    expect(config.limits).toEqual({ maxRecipients: 50, connectionsPerMinute: 60, messagesPerMinute: 120 });
    expect([...config.webhooks.keys()]).toEqual(['shop']);
    expect(config.checks.map((c) => c.module)).toEqual(['@mailyard/check-dnsbl']);
    expect(config.destinations).toEqual({ verify: true, publicUrl: 'https://forward.example:8027' });
  });

  it('reports every problem with its line', () => {
    const text = [
      'listen: nowhere',
      'srs:',
      '  domain: forward.test',
      'webhooks:',
      '  app: { url: ftp://x, secret: s }',
      'rules:',
      '  - recipient: a@forward.test',
      '    webhook: other',
      'destinations: { verify: true }',
      'subaddressing: { separator: "#" }',
    ].join('\n');
    let problems: readonly string[] = [];
    try {
      parseForwarderConfig(text, { file: 'f.yaml' });
    } catch (error) {
      problems = (error as ConfigError).problems;
    }
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^f\.yaml:1:\d+: listen: nowhere is not host:port/),
        expect.stringMatching(/domains: at least one domain/),
        expect.stringMatching(/^f\.yaml:3:\d+: srs\.secrets: at least one secret/),
        expect.stringMatching(/^f\.yaml:5:\d+: webhooks\.app\.url: an http\(s\):\/\/ URL is required/),
        expect.stringMatching(/webhooks\.app\.secret: a secret of 16 characters/),
        expect.stringMatching(/^f\.yaml:7:\d+: rules\[0\].*unknown webhook 'other'/),
        expect.stringMatching(/destinations\.verify: needs the admin listener/),
        expect.stringMatching(/subaddressing\.separator: must be one of/),
      ]),
    );
  });
});
