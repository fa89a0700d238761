import { describe, expect, it } from 'vitest';
import { parseCommandLine } from './command-line.ts';
import { ScaffoldError } from './scaffold.ts';

describe('parseCommandLine', () => {
  it('reads a name, --app and --description', () => {
    expect(parseCommandLine(['mta-sts', '--app', '--description', 'MTA-STS policies.'])).toEqual({
      name: 'mta-sts',
      kind: 'app',
      description: 'MTA-STS policies.',
    });
  });

  it('defaults to a package and skips a -- separator', () => {
    expect(parseCommandLine(['--', 'arc'])).toEqual({ name: 'arc', kind: 'package' });
  });

  it('accepts --description=text', () => {
    expect(parseCommandLine(['arc', '--description=ARC sealing'])).toMatchObject({
      description: 'ARC sealing',
    });
  });

  it('answers help for --help', () => {
    expect(parseCommandLine(['--help'])).toBe('help');
  });

  it('refuses a missing name, a second name and unknown options', () => {
    expect(() => parseCommandLine([])).toThrow(ScaffoldError);
    expect(() => parseCommandLine(['a', 'b'])).toThrow(/one name/);
    expect(() => parseCommandLine(['a', '--force'])).toThrow(/unknown option --force/);
    expect(() => parseCommandLine(['a', '--description'])).toThrow(/needs a value/);
  });
});
