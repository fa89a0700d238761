import { describe, expect, it } from 'vitest';
import { loadConfigFile, pathText } from './config-file.ts';

describe('loadConfigFile', () => {
  it('places every path at its file line and column', () => {
    const source = loadConfigFile('hostname: mx.example\nqueue:\n  retry: [5m, 1h]\n', { file: 'mta.yaml' });
    expect(source.problems).toEqual([]);
    expect(source.where(['hostname'])).toBe('mta.yaml:1:11');
    expect(source.where(['queue', 'retry', 1])).toBe('mta.yaml:3:15');
    // A path that is not in the file is placed at its nearest written parent.
    expect(source.where(['queue', 'url'])).toBe('mta.yaml:3:3');
  });

  it('lays MAILYARD_* variables over the file, typed as YAML, and names the variable as the place', () => {
    const source = loadConfigFile('queue:\n  url: postgres://file\n', {
      file: 'mta.yaml',
      env: {
        MAILYARD_QUEUE__URL: 'postgres://env',
        MAILYARD_DATA_DIR: '/var/lib/mailyard',
        MAILYARD_DNS__SERVERS: '[127.0.0.1:53, 10.0.0.1]',
        MAILYARD_DELIVERY__PORT: '2525',
      },
    });
    expect(source.value).toEqual({
      queue: { url: 'postgres://env' },
      dataDir: '/var/lib/mailyard',
      dns: { servers: ['127.0.0.1:53', '10.0.0.1'] },
      delivery: { port: 2525 },
    });
    expect(source.where(['queue', 'url'])).toBe('MAILYARD_QUEUE__URL');
    expect(source.where(['dns', 'servers', 0])).toBe('MAILYARD_DNS__SERVERS');
  });

  it('leaves variables of other programs alone when the known keys are given', () => {
    const source = loadConfigFile('', {
      file: 'mta.yaml',
      known: ['queue'],
      env: { MAILYARD_TEST_PG_URL: 'postgres://x', MAILYARD_QUEUE__SCHEMA: 'mail' },
    });
    expect(source.value).toEqual({ queue: { schema: 'mail' } });
  });

  it('reports YAML syntax errors and a document that is not a mapping with their places', () => {
    expect(loadConfigFile('hostname: [unclosed\n', { file: 'mta.yaml' }).problems).toEqual([
      expect.stringMatching(/^mta\.yaml:\d+:\d+: /),
    ]);
    expect(loadConfigFile('- a\n- b\n', { file: 'mta.yaml' }).problems).toEqual([
      'mta.yaml:1:1: the configuration must be a mapping of keys to values',
    ]);
  });

  it('refuses alias expansion beyond a bound ("billion laughs")', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      lines.push(
        `${name}: &${name} [*${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}]`,
      );
    }
    expect(() => loadConfigFile(lines.join('\n'), { file: 'bomb.yaml' })).toThrow(/alias/i);
  });
});

describe('pathText', () => {
  it('writes keys with dots and list indexes in brackets', () => {
    expect(pathText(['queue', 'retry', 1])).toBe('queue.retry[1]');
    expect(pathText([])).toBe('(root)');
  });
});
