import { openTempDir } from '@mailyard/testkit';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-reader.ts';
import { openConfig, readConfigText } from './open-config.ts';

describe('openConfig', () => {
  it('reports unknown top-level keys with their line, and stops at a file that does not parse', () => {
    const { reader } = openConfig('hostname: a\nhostnme: b\n', {
      file: 'app.yaml',
      env: {},
      known: ['hostname'],
    });
    expect(reader.problems).toEqual([expect.stringMatching(/^app\.yaml:2:\d+: hostnme: unknown key/)]);
    expect(() => openConfig('a: [\n', { file: 'bad.yaml', env: {}, known: ['a'] })).toThrow(ConfigError);
  });

  it('reads a file, or says why it cannot', async () => {
    await using dir = await openTempDir();
    expect(() => readConfigText(dir.join('missing.yaml'))).toThrow(/missing\.yaml: cannot read: ENOENT/);
  });
});
