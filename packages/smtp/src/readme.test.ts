// The README shows the files in examples/ verbatim; their own tests run them. This keeps the
// README from drifting away from code that works.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it.each(['server.ts', 'send.ts', 'dsn.ts'])('shows examples/%s verbatim', (name) => {
    const example = readFileSync(new URL(`../examples/${name}`, import.meta.url), 'utf8');
    expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
  });
});
