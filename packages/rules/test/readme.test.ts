// The README's examples are executable: the quick start is examples/quick-start.ts verbatim, and
// every `# recipient [from sender] -> result` line of its YAML examples is routed and checked.
import { readFileSync } from 'node:fs';
import { compileRules } from '@mailyard/rules';
import { parseAddress } from '@mailyard/smtp';
import { describe, expect, it } from 'vitest';
import { formatAction } from '../src/format-explanation.ts';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const yamlBlocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
const examples = yamlBlocks.filter((block) => /^# \S+@\S+.* -> /m.test(block));

describe('README', () => {
  it('includes examples/quick-start.ts verbatim', () => {
    const example = readFileSync(new URL('../examples/quick-start.ts', import.meta.url), 'utf8');
    expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
  });

  it('quick start refuses the unknown recipient and keeps the tag', async () => {
    const logged: unknown[] = [];
    const original = console.log;
    console.log = (...args: unknown[]) => logged.push(args[0]);
    try {
      const { plan, decision } = await import('../examples/quick-start.ts');
      expect(decision.accepted).toBe(false);
      expect(plan.recipients[0]?.actions).toEqual([
        { type: 'forward', to: [{ localPart: 'alice+shop', domain: 'home.example' }] },
      ]);
    } finally {
      console.log = original;
    }
    expect(logged[0]).toBe('550 5.1.1 No such user here');
  });

  it('has precedence examples', () => {
    expect(examples.length).toBeGreaterThanOrEqual(5);
  });

  it('compiles every YAML block without problems', () => {
    for (const block of yamlBlocks) {
      const result = compileRules(block);
      expect(result.ok ? [] : result.problems, block).toEqual([]);
    }
  });

  for (const [i, block] of examples.entries()) {
    it(`precedence example ${i + 1} routes as its comments say`, () => {
      const result = compileRules(block);
      if (!result.ok) throw new Error(JSON.stringify(result.problems));
      for (const line of block.split('\n')) {
        const m = /^# (\S+@\S+)(?: from (\S+))? -> (.+)$/.exec(line);
        if (!m) continue;
        const [, rcpt = '', from = 'someone@sender.example', expected] = m;
        const plan = result.router.route({
          mailFrom: parseAddress(from),
          rcptTo: [{ address: parseAddress(rcpt) }],
          params: {},
        });
        const actual = plan.recipients[0]?.actions.map(formatAction).join('; ');
        expect(`${rcpt} -> ${actual}`).toBe(`${rcpt} -> ${expected}`);
      }
    });
  }
});
