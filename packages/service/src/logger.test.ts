import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.ts';

describe('createLogger', () => {
  it('writes JSON lines with the app name, an ISO time, and only messages at or above the level', async () => {
    const destination = new PassThrough();
    const logger = createLogger({ app: 'forwarder', level: 'info', destination });
    logger.debug({ queueId: 'q0' }, 'hidden');
    logger.info({ queueId: 'q1', rcpt: 'b@example.net' }, 'delivered');
    destination.end();
    const lines = String(Buffer.concat(await destination.toArray()))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toEqual([
      expect.objectContaining({ app: 'forwarder', queueId: 'q1', rcpt: 'b@example.net', msg: 'delivered' }),
    ]);
    expect(lines[0]?.time).toMatch(/^\d{4}-\d\d-\d\dT/);
  });
});
