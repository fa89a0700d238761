import { describe, expect, it } from 'vitest';
import { compileRules, formatProblem } from './compile-rules.ts';
import type { Problem } from './types.ts';

function problemsOf(input: string | unknown, options = {}): Problem[] {
  const result = compileRules(input, options);
  return result.ok ? [...result.warnings] : [...result.problems];
}

function only(input: string | unknown, options = {}): Problem {
  const problems = problemsOf(input, options);
  expect(problems).toHaveLength(1);
  return problems[0]!;
}

const yaml = (lines: string[]): string => `${lines.join('\n')}\n`;

describe('compileRules: problems', () => {
  it('compiles a valid configuration with no problems', () => {
    const result = compileRules(
      yaml(['rules:', '  - recipient: a@example.com', '    forward: b@example.org']),
    );
    expect(result.ok).toBe(true);
    expect(result.ok && result.warnings).toEqual([]);
  });

  it('reports an unknown key at the key with line, column and path', () => {
    const problem = only(
      yaml([
        'rules:',
        '  - recipient: a@example.com',
        '    forwrd: b@example.org',
        '    forward: c@example.org',
      ]),
      { file: 'r.yaml' },
    );
    expect(problem).toMatchObject({
      severity: 'error',
      path: 'rules[0].forwrd',
      line: 3,
      column: 5,
      file: 'r.yaml',
    });
    expect(problem.message).toContain("did you mean 'forward'");
    expect(formatProblem(problem)).toMatch(/^r\.yaml:3:5: error: rules\[0\]\.forwrd: unknown key/);
  });

  it('reports a bad recipient address at its value', () => {
    const problem = only(yaml(['rules:', '  - recipient: "a b@example.com"', '    deliver: true']));
    expect(problem).toMatchObject({ path: 'rules[0].recipient', line: 2, column: 16 });
    expect(problem.message).toContain('not a valid address');
  });

  it('tells how to write a domain catch-all when given a bare domain', () => {
    const problem = only(yaml(['rules:', '  - recipient: example.com', '    deliver: true']));
    expect(problem.message).toContain("write '*@example.com'");
  });

  it('reports a regex that does not compile', () => {
    const problem = only(yaml(['rules:', '  - recipient: /(a@example\\.com/', '    deliver: true']));
    expect(problem).toMatchObject({ path: 'rules[0].recipient', line: 2 });
    expect(problem.message).toContain('does not compile');
  });

  it('reports a forward destination that is not an address', () => {
    const problem = only(
      yaml(['rules:', '  - recipient: a@example.com', '    forward: [b@example.org, nobody]']),
    );
    expect(problem).toMatchObject({ path: 'rules[0].forward[1]', line: 3, column: 30 });
  });

  it('reports a capture the recipient pattern does not have', () => {
    const problem = only(
      yaml(['rules:', '  - recipient: sales-*@example.com', '    forward: $2@example.org']),
    );
    expect(problem.message).toMatch(/uses \$2 .* captures only 1/);
  });

  it('reports a reply code outside 4xx/5xx and an enhanced code of the wrong class', () => {
    const problems = problemsOf(
      yaml([
        'rules:',
        '  - recipient: a@example.com',
        '    reject: { code: 250, text: ok }',
        '  - recipient: b@example.com',
        '    reject: { code: 450, enhanced: 5.7.1 }',
        '  - recipient: c@example.com',
        '    reject: { code: 550, enhanced: "5.7" }',
      ]),
    );
    expect(problems.map((p) => [p.path, p.line])).toEqual([
      ['rules[0].reject.code', 3],
      ['rules[1].reject.enhanced', 5],
      ['rules[2].reject.enhanced', 7],
    ]);
    expect(problems[1]?.message).toContain('must be 4.x.x');
  });

  it('reports a duplicate rule as an error pointing at the later one', () => {
    const problem = only(
      yaml([
        'rules:',
        '  - recipient: a@example.com',
        '    forward: b@example.org',
        '  - recipient: A@example.com',
        '    forward: c@example.org',
      ]),
    );
    expect(problem).toMatchObject({ severity: 'error', path: 'rules[1].recipient', line: 4 });
    expect(problem.message).toContain('duplicate rule');
  });

  it('does not call a rule a duplicate when the earlier one continues', () => {
    const result = compileRules({
      rules: [
        { recipient: 'a@example.com', webhook: 'log', continue: true },
        { recipient: 'a@example.com', forward: 'c@example.org' },
      ],
    });
    expect(result.ok && result.warnings).toEqual([]);
  });

  it('warns about a rule shadowed by an earlier catch-all of the same rank', () => {
    const result = compileRules(
      yaml([
        'rules:',
        "  - recipient: '*@*.example.com'",
        '    deliver: true',
        '  - recipient: sales-*@eu.example.com',
        '    forward: x@example.org',
        "  - recipient: '*@example.com'",
        '    deliver: true',
        "  - recipient: '*@example.com'",
        '    sender: "*@example.org"',
        '    drop: true',
      ]),
    );
    expect(result.ok).toBe(true);
    const warnings = result.ok ? result.warnings : [];
    expect(warnings.map((w) => [w.severity, w.path, w.line])).toEqual([
      ['warning', 'rules[1].recipient', 4],
      ['warning', 'rules[3].recipient', 8],
    ]);
  });

  it('does not warn when a catch-all comes before an exact address (precedence handles it)', () => {
    const result = compileRules({
      rules: [
        { recipient: '*@example.com', deliver: true },
        { recipient: 'alice@example.com', forward: 'a@example.org' },
      ],
    });
    expect(result.ok && result.warnings).toEqual([]);
  });

  it('reports every problem at once', () => {
    const problems = problemsOf(
      yaml([
        'rules:',
        '  - recipient: bad',
        '    forward: nobody',
        '    colour: red',
        '  - recipient: /[/',
        '    deliver: maybe',
        '  - forward: a@example.org',
        '    clientIp: 10.0.0.1/8',
      ]),
    );
    expect(problems.map((p) => p.path)).toEqual([
      'rules[0].recipient',
      'rules[0].forward',
      'rules[0].colour',
      'rules[1].recipient',
      'rules[1].deliver',
      'rules[2]',
      'rules[2].clientIp',
    ]);
    expect(problems.every((p) => p.line !== null && p.column !== null)).toBe(true);
  });

  it('reports a rule without an action, and one combining reject with others', () => {
    const problems = problemsOf({
      rules: [
        { recipient: 'a@example.com' },
        { recipient: 'b@example.com', reject: true, forward: 'x@example.org' },
        { recipient: 'c@example.com', drop: true, continue: true },
      ],
    });
    expect(problems.map((p) => p.path)).toEqual(['rules[0]', 'rules[1].reject', 'rules[2].continue']);
  });

  it('checks smarthost and webhook names when the application lists them', () => {
    const problems = problemsOf(
      {
        rules: [
          { recipient: '*', relay: 'nope' },
          { recipient: 'a@example.com', webhook: 'hook' },
        ],
      },
      { smarthosts: ['outbound'], webhooks: [] },
    );
    expect(problems.map((p) => p.path)).toEqual(['rules[0].relay', 'rules[1].webhook']);
  });

  it('reports duplicate rule names', () => {
    const problem = only({
      rules: [
        { name: 'x', recipient: 'a@example.com', deliver: true },
        { name: 'x', recipient: 'b@example.com', deliver: true },
      ],
    });
    expect(problem.path).toBe('rules[1].name');
  });

  it('gives paths without positions for a configuration built in code', () => {
    const problem = only({ rules: [{ recipient: 'a@example.com', forward: 'nobody' }] });
    expect(problem).toMatchObject({ path: 'rules[0].forward', line: null, column: null });
  });

  it('reports YAML syntax errors with their position', () => {
    const problems = problemsOf('rules:\n  - recipient: [a@example.com\n');
    expect(problems[0]).toMatchObject({ severity: 'error', path: '(yaml)' });
    expect(problems[0]?.line).toBeGreaterThan(0);
  });

  it('reports a key written twice in YAML', () => {
    const problems = problemsOf(
      yaml(['rules:', '  - recipient: a@example.com', '    recipient: b@example.com']),
    );
    expect(problems[0]?.line).toBe(3);
  });

  it('refuses a top level that is not a mapping with rules', () => {
    expect(only('- a\n').path).toBe('(root)');
    expect(problemsOf({ rule: [] }).map((p) => p.path)).toEqual(['rule', 'rules']);
  });

  it('refuses an alias bomb instead of expanding it', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 12; i++)
      lines.push(
        `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(97 + i)}`)
          .join(', ')}]`,
      );
    lines.push('rules: []');
    const result = compileRules(`${lines.join('\n')}\n`);
    expect(result.ok).toBe(false);
  });
});
