// The README's usage is examples/service.ts, verbatim; this runs it.

import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { example } from '../examples/service.ts';

it('shows the example verbatim in the README', async () => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const code = await readFile(new URL('../examples/service.ts', import.meta.url), 'utf8');
  expect(readme).toContain(`\`\`\`ts\n${code}\`\`\``);
});

it('runs the example: the configuration with its overrides, a route behind the token, every problem at once', async () => {
  expect(await example()).toEqual({
    hostname: 'mx.example.org',
    greeting: { text: 'bonjour' },
    anonymous: 401,
    problems: [
      'example.yaml:2:15: queue.retry[1]: must be a duration: milliseconds, or a number with ms, s, m, h or d (e.g. 4h)',
      'example.yaml:4:9: delivery.port: must be an integer from 1 to 65535',
    ],
  });
});
