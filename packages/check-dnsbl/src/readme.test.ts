// The README shows examples/server.ts verbatim, and test/smtp-server.test.ts runs that file
// against a loopback DNS zone. This keeps the README from drifting away from code that works.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

it('shows examples/server.ts verbatim', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const example = readFileSync(new URL('../examples/server.ts', import.meta.url), 'utf8');
  expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
});
