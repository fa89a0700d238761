import { describe, expect, it } from 'vitest';
import { readCheckSpecs } from './check-specs.ts';
import { loadConfigFile } from './config-file.ts';
import { createConfigReader } from './config-reader.ts';

describe('readCheckSpecs', () => {
  it('reads each check with its place in the file, and reports a missing module', () => {
    const source = loadConfigFile(
      `checks:
  - module: "@mailyard/check-dnsbl"
    name: spamhaus
    timeout: 2s
    options: { zones: [zen.spamhaus.org] }
  - options: {}
`,
      { file: 'app.yaml', env: {} },
    );
    const r = createConfigReader(source);
    const specs = readCheckSpecs(r, (path) => source.where(path));
    expect(specs).toEqual([
      {
        module: '@mailyard/check-dnsbl',
        name: 'spamhaus',
        timeoutMs: 2000,
        options: { zones: ['zen.spamhaus.org'] },
        path: 'app.yaml:2:5: checks[0]',
      },
    ]);
    expect(r.problems).toEqual([expect.stringMatching(/^app\.yaml:6:\d+: checks\[1\]\.module: is required/)]);
  });
});
