// The README's usage is examples/quick-start.ts, verbatim; this runs it.

import { readFile } from 'node:fs/promises';
import { openTempDir } from '@mailyard/testkit';
import { expect, it } from 'vitest';
import { quickStart } from '../examples/quick-start.ts';

it('shows the quick-start example verbatim in the README', async () => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const example = await readFile(new URL('../examples/quick-start.ts', import.meta.url), 'utf8');
  expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
});

it('runs the quick-start: one recipient delivered, one bounced, and a DSN delivered to the sender', async () => {
  await using dir = await openTempDir();
  expect(await quickStart(dir.path)).toEqual({
    states: ['bob@example.net delivered', 'nobody@example.net bounced'],
    bounces: [['alice@example.com delivered']],
  });
});
