// The README's usage example is examples/quick-start.ts, included verbatim: this test keeps the
// two identical and runs the example.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { quickStart } from '../examples/quick-start.ts';

describe('README example', () => {
  it('is examples/quick-start.ts, verbatim', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const example = readFileSync(new URL('../examples/quick-start.ts', import.meta.url), 'utf8');
    expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
  });

  it('signs, verifies, seals and rewrites as it says', async () => {
    const result = await quickStart();
    expect(result.record).toMatch(/^mail2026\._domainkey\.example\.org\. IN TXT/);
    expect(result.verdict.spf.result).toBe('pass');
    expect(result.verdict.dkim[0]?.result).toBe('pass');
    expect(result.verdict.dmarc.result).toBe('pass');
    expect(result.verdict.authenticationResults).toMatch(/^Authentication-Results: mx\.example\.net;/);
    expect(result.seal).toMatchObject({ sealed: true, instance: 1 });
    expect(result.bounceTo).toMatch(/^SRS0=[^=]{4}=[A-Z2-7]{2}=example\.org=alice@example\.net$/);
    expect(result.original).toEqual({ ok: true, address: 'alice@example.org' });
  });
});
