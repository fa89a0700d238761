import { describe, expect, it } from 'vitest';
import { createDnsResolver } from '../client/dns-resolver.ts';
import type { ConnectionInfo } from '../server/backend.ts';
import { SmtpError } from '../smtp-error.ts';
import type { Check, CheckContext, CheckVerdict } from './check.ts';
import { runChecks } from './run-checks.ts';

const connection: ConnectionInfo = {
  sessionId: 's1',
  listener: 'smtp',
  localAddress: '127.0.0.1',
  localPort: 25,
  remoteAddress: '192.0.2.1',
  remotePort: 40000,
  clientHostname: '[192.0.2.1]',
  helo: null,
  esmtp: false,
  secure: false,
  tls: null,
  user: null,
};

const logged: { level: string; message: string | undefined }[] = [];
const context: Omit<CheckContext, 'signal'> = {
  connection,
  envelope: null,
  resolver: createDnsResolver({ servers: ['127.0.0.1:9'] }),
  logger: {
    info: (_fields, message) => logged.push({ level: 'info', message }),
    warn: (_fields, message) => logged.push({ level: 'warn', message }),
    error: (_fields, message) => logged.push({ level: 'error', message }),
  },
};

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function connectCheck(
  name: string,
  answer: (context: CheckContext) => CheckVerdict | Promise<CheckVerdict>,
): Check {
  return { name, connect: answer };
}

const reject = (code: number, enhanced: string): CheckVerdict => ({
  action: 'reject',
  error: new SmtpError(code, enhanced, 'refused'),
});

describe('runChecks', () => {
  it('accepts when no check has a hook for the stage', async () => {
    const outcome = await runChecks(
      [{ name: 'rcpt-only', rcpt: () => reject(550, '5.7.1') }],
      { stage: 'connect' },
      context,
    );
    expect(outcome).toEqual({ action: 'accept', tags: [] });
  });

  it('lets the first rejection in config order win, even when a later check answers first', async () => {
    const outcome = await runChecks(
      [
        connectCheck('slow', async () => {
          await sleep(30);
          return reject(554, '5.7.1');
        }),
        connectCheck('fast', () => reject(550, '5.7.0')),
      ],
      { stage: 'connect' },
      context,
    );
    expect(outcome.action).toBe('reject');
    if (outcome.action !== 'reject') return;
    expect(outcome.check).toBe('slow');
    expect(outcome.error.code).toBe(554);
  });

  it('runs the checks of a stage in parallel', async () => {
    let startedB: () => void = () => undefined;
    const bStarted = new Promise<void>((resolve) => {
      startedB = resolve;
    });
    // A waits for B to start: sequential running would wait forever (and time out).
    const outcome = await runChecks(
      [
        connectCheck('a', async () => {
          await bStarted;
          return { action: 'tag', tag: 'a' };
        }),
        connectCheck('b', () => {
          startedB();
          return { action: 'tag', tag: 'b' };
        }),
      ],
      { stage: 'connect' },
      context,
      { timeoutMs: 1000 },
    );
    expect(outcome).toEqual({
      action: 'accept',
      tags: [
        { check: 'a', tag: 'a' },
        { check: 'b', tag: 'b' },
      ],
    });
  });

  it('keeps the tags of the checks before a rejection', async () => {
    const outcome = await runChecks(
      [
        connectCheck('t', () => ({ action: 'tag', tag: 'seen' })),
        connectCheck('r', () => reject(554, '5.7.1')),
      ],
      { stage: 'connect' },
      context,
    );
    expect(outcome).toMatchObject({ action: 'reject', check: 'r', tags: [{ check: 't', tag: 'seen' }] });
  });

  it('aborts the checks still running once the outcome is decided', async () => {
    let aborted = false;
    await runChecks(
      [
        connectCheck('r', () => reject(554, '5.7.1')),
        connectCheck('waits', (ctx) => {
          ctx.signal.addEventListener('abort', () => {
            aborted = true;
          });
          return new Promise<CheckVerdict>(() => undefined);
        }),
      ],
      { stage: 'connect' },
      context,
    );
    expect(aborted).toBe(true);
  });

  it('turns an unknown thrown error into 451 4.3.0 and keeps it as the cause', async () => {
    const failure = new Error('database down');
    const outcome = await runChecks(
      [
        connectCheck('boom', () => {
          throw failure;
        }),
      ],
      { stage: 'connect' },
      context,
    );
    expect(outcome).toMatchObject({
      action: 'reject',
      check: 'boom',
      error: { code: 451, enhanced: '4.3.0' },
    });
    if (outcome.action === 'reject') expect(outcome.error.cause).toBe(failure);
    expect(logged.some((entry) => entry.level === 'error' && entry.message === 'check failed')).toBe(true);
  });

  it('keeps a thrown SmtpError as the reply', async () => {
    const outcome = await runChecks(
      [
        connectCheck('thrower', async () => {
          throw new SmtpError(550, '5.7.1', 'go away');
        }),
      ],
      { stage: 'connect' },
      context,
    );
    expect(outcome).toMatchObject({ action: 'reject', error: { code: 550, enhanced: '5.7.1' } });
  });

  it('answers 451 4.3.0 for a hook that returns no verdict', async () => {
    const broken = connectCheck('broken', () => ({ action: 'maybe' }) as unknown as CheckVerdict);
    const outcome = await runChecks([broken], { stage: 'connect' }, context);
    expect(outcome).toMatchObject({ action: 'reject', error: { code: 451, enhanced: '4.3.0' } });
  });

  it('answers 451 4.3.0 for a check that overruns its time limit, and aborts it', async () => {
    let signal: AbortSignal | undefined;
    const hung = connectCheck('hung', (ctx) => {
      signal = ctx.signal;
      return new Promise<CheckVerdict>(() => undefined);
    });
    const outcome = await runChecks([hung], { stage: 'connect' }, context, { timeoutMs: 20 });
    expect(outcome).toMatchObject({
      action: 'reject',
      check: 'hung',
      error: { code: 451, enhanced: '4.3.0' },
    });
    expect(signal?.aborted).toBe(true);
  });

  it('skips an overrunning check with onTimeout skip', async () => {
    const hung = connectCheck('hung', () => new Promise<CheckVerdict>(() => undefined));
    const outcome = await runChecks([hung], { stage: 'connect' }, context, {
      timeoutMs: 20,
      onTimeout: 'skip',
    });
    expect(outcome).toEqual({ action: 'accept', tags: [] });
  });

  it("uses the check's own time limit over the host's", async () => {
    const slow: Check = {
      name: 'slow',
      timeoutMs: 500,
      connect: async () => {
        await sleep(40);
        return { action: 'tag', tag: 'done' };
      },
    };
    const outcome = await runChecks([slow], { stage: 'connect' }, context, { timeoutMs: 10 });
    expect(outcome).toEqual({ action: 'accept', tags: [{ check: 'slow', tag: 'done' }] });
  });

  it('hands each stage its argument', async () => {
    const seen: unknown[] = [];
    const check: Check = {
      name: 'all',
      mail: (from) => {
        seen.push(from);
        return { action: 'accept' };
      },
      rcpt: (to) => {
        seen.push(to.address.localPart);
        return { action: 'accept' };
      },
      data: (message) => {
        seen.push(message.declaredSize);
        return { action: 'accept' };
      },
    };
    await runChecks([check], { stage: 'mail', from: null }, context);
    await runChecks(
      [check],
      { stage: 'rcpt', to: { address: { localPart: 'bob', domain: 'example.com' } } },
      context,
    );
    await runChecks([check], { stage: 'data', message: { header: [], declaredSize: 42 } }, context);
    expect(seen).toEqual([null, 'bob', 42]);
  });
});
