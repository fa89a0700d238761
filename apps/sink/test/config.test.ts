import { describe, expect, it } from 'vitest';
import { ConfigError, parseSinkConfig } from '../src/index.ts';

describe('parseSinkConfig', () => {
  it('defaults to loopback 1025/8025, ./.mailyard/sink.db and 500 messages', () => {
    const config = parseSinkConfig([], {}, '/tmp/project');
    expect(config).toMatchObject({
      smtp: { host: '127.0.0.1', port: 1025 },
      listen: { host: '127.0.0.1', port: 8025 },
      database: '/tmp/project/.mailyard/sink.db',
      max: 500,
      maxAgeMs: 0,
      smtpAuth: 'none',
    });
  });

  it('takes Mailpit flag names and lets flags win over MAILYARD_* env', () => {
    const config = parseSinkConfig(['--smtp', '0.0.0.0:2525', '--max', '20', '--max-age', '7d'], {
      MAILYARD_SMTP: '127.0.0.1:9999',
      MAILYARD_LISTEN: '[::1]:8080',
      MAILYARD_SMTP_AUTH_ACCEPT_ANY: 'true',
    });
    expect(config).toMatchObject({
      smtp: { host: '0.0.0.0', port: 2525 },
      listen: { host: '::1', port: 8080 },
      max: 20,
      maxAgeMs: 7 * 86_400_000,
      smtpAuth: 'accept-any',
    });
  });

  it('reports every problem at once', () => {
    try {
      parseSinkConfig(['--smtp', 'nope', '--max=-1', '--smtp-require-tls'], {});
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toHaveLength(3);
    }
  });

  it('returns help for --help', () => {
    expect(parseSinkConfig(['--help'], {})).toBe('help');
  });
});
