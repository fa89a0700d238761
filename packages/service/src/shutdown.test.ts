import { describe, expect, it } from 'vitest';
import type { Logger } from './logger.ts';
import { createShutdown } from './shutdown.ts';

describe('createShutdown', () => {
  it('closes newest first, once, handing every step the options', async () => {
    const ran: string[] = [];
    const logger: Logger = {
      info: (_fields, message) => ran.push(String(message)),
      warn() {},
      error() {},
      debug() {},
    };
    const shutdown = createShutdown(logger, 'relay');
    shutdown.add(() => {
      ran.push('queue');
    });
    shutdown.add(async (options) => {
      ran.push(`listener ${options.deadlineMs}`);
    });
    const first = shutdown.close({ deadlineMs: 500 });
    expect(shutdown.close()).toBe(first);
    await first;
    expect(ran).toEqual(['relay stopping', 'listener 500', 'queue', 'relay stopped']);
  });
});
