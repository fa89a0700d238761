import { describe, expect, it } from 'vitest';
import { loadConfigFile } from './config-file.ts';
import { ConfigError, createConfigReader } from './config-reader.ts';

const reader = (text: string) => createConfigReader(loadConfigFile(text, { file: 'mta.yaml' }));

describe('createConfigReader', () => {
  it('reads durations as milliseconds, with or without a unit', () => {
    const r = reader('a: 1500\nb: 30s\nc: 4h\nd: 1.5m\n');
    expect([r.duration(['a'], 0), r.duration(['b'], 0), r.duration(['c'], 0), r.duration(['d'], 0)]).toEqual([
      1500, 30_000, 14_400_000, 90_000,
    ]);
    expect(r.problems).toEqual([]);
  });

  it('collects one problem per bad value, with its place, and goes on with the fallback', () => {
    const r = reader('port: seventy\nlist: [a, {}]\nwait: soon\nflag: yes please\nq: {url: x, bogus: 1}\n');
    expect(r.integer(['port'], 25, 1, 65535)).toBe(25);
    expect(r.strings(['list'], [])).toEqual(['a']);
    expect(r.duration(['wait'], 7)).toBe(7);
    expect(r.boolean(['flag'], true)).toBe(true);
    r.keys(['q'], ['url']);
    expect(r.problems).toEqual([
      'mta.yaml:1:7: port: must be an integer from 1 to 65535',
      'mta.yaml:2:11: list[1]: must be a non-empty string',
      expect.stringMatching(/^mta\.yaml:3:7: wait: must be a duration/),
      'mta.yaml:4:7: flag: must be true or false',
      'mta.yaml:5:20: q.bogus: unknown key (known: url)',
    ]);
  });

  it('takes a comma-separated string as a list (as the environment writes one)', () => {
    expect(reader('servers: 127.0.0.1, 10.0.0.1\n').strings(['servers'], [])).toEqual([
      '127.0.0.1',
      '10.0.0.1',
    ]);
  });

  it('gathers every problem in one ConfigError', () => {
    const error = new ConfigError(['a: one', 'b: two']);
    expect(error.problems).toEqual(['a: one', 'b: two']);
    expect(error.message).toBe('invalid configuration:\n  a: one\n  b: two');
  });
});
