// Runs the checks of one stage and folds their verdicts into one outcome. Checks of a stage
// run in parallel (they are independent by contract, and are mostly waits on DNS), but the
// outcome is decided in config order: the first check, in that order, to reject wins, and the
// checks after it are aborted. Tags accumulate. A check that throws, answers something that is
// not a verdict, or overruns its time limit is broken infrastructure: it gets `451 4.3.0`
// (temporary, so the client retries and nothing is lost; STYLE.md "errors are temporary by
// default"), unless the host chose `onTimeout: 'skip'` for overruns.

import type { Address } from '../address.ts';
import type { Recipient } from '../envelope.ts';
import { SmtpError } from '../smtp-error.ts';
import type { Check, CheckContext, CheckStage, CheckTag, CheckVerdict, MessageInfo } from './check.ts';

export type CheckCall =
  | { readonly stage: 'connect' }
  | { readonly stage: 'mail'; readonly from: Address | null }
  | { readonly stage: 'rcpt'; readonly to: Recipient }
  | { readonly stage: 'data'; readonly message: MessageInfo };

export interface RunChecksOptions {
  /** Time limit of one check's hook, unless the check sets `timeoutMs`. Default 10 000 ms. */
  readonly timeoutMs?: number;
  /**
   * What an overrun means: `tempfail` (default) answers `451 4.3.0`, so a hung check delays
   * mail but never lets it bypass the check; `skip` counts it as accept (fail open).
   */
  readonly onTimeout?: 'tempfail' | 'skip';
}

export type ChecksOutcome =
  | { readonly action: 'accept'; readonly tags: readonly CheckTag[] }
  | {
      readonly action: 'reject';
      readonly error: SmtpError;
      /** The name of the check that rejected. */
      readonly check: string;
      readonly tags: readonly CheckTag[];
    };

export const DEFAULT_CHECK_TIMEOUT_MS = 10_000;

/** A check's hook ran out of time. */
export class CheckTimeoutError extends Error {
  constructor(check: string, stage: CheckStage, timeoutMs: number) {
    super(`check ${check} did not answer at ${stage} within ${timeoutMs} ms`);
    this.name = 'CheckTimeoutError';
  }
}

/** The checks that have a hook for this stage. */
export function checksFor(checks: readonly Check[], stage: CheckStage): Check[] {
  return checks.filter((check) => typeof check[stage] === 'function');
}

function invoke(check: Check, call: CheckCall, context: CheckContext): Promise<CheckVerdict> | CheckVerdict {
  switch (call.stage) {
    case 'connect':
      return check.connect!(context);
    case 'mail':
      return check.mail!(call.from, context);
    case 'rcpt':
      return check.rcpt!(call.to, context);
    case 'data':
      return check.data!(call.message, context);
  }
}

function isVerdict(value: unknown): value is CheckVerdict {
  const verdict = value as CheckVerdict | null | undefined;
  switch (verdict?.action) {
    case 'accept':
      return true;
    case 'reject':
      return verdict.error instanceof SmtpError;
    case 'tag':
      return typeof verdict.tag === 'string';
    default:
      return false;
  }
}

type Settled = CheckVerdict | { readonly action: 'failed'; readonly error: unknown };

/** One check's hook, bounded by its time limit; never rejects. */
async function settle(
  check: Check,
  call: CheckCall,
  context: Omit<CheckContext, 'signal'>,
  controller: AbortController,
  options: RunChecksOptions,
): Promise<Settled> {
  const timeoutMs = check.timeoutMs ?? options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const overrun = new Promise<Settled>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      const error = new CheckTimeoutError(check.name, call.stage, timeoutMs);
      context.logger.warn(
        { check: check.name, stage: call.stage, sessionId: context.connection.sessionId, err: error },
        'check timed out',
      );
      resolve(options.onTimeout === 'skip' ? { action: 'accept' } : { action: 'failed', error });
    }, timeoutMs);
  });
  const answer = (async (): Promise<Settled> => {
    try {
      const verdict: unknown = await invoke(check, call, { ...context, signal: controller.signal });
      if (isVerdict(verdict)) return verdict;
      return {
        action: 'failed',
        error: new TypeError(`check ${check.name} answered no verdict at ${call.stage}`),
      };
    } catch (error) {
      return { action: 'failed', error };
    }
  })();
  try {
    return await Promise.race([answer, overrun]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs the hooks of `call.stage` of `checks` (those without that hook are left out) and
 * returns the outcome: the first rejection in `checks` order, or accept with every tag.
 */
export async function runChecks(
  checks: readonly Check[],
  call: CheckCall,
  context: Omit<CheckContext, 'signal'>,
  options: RunChecksOptions = {},
): Promise<ChecksOutcome> {
  const staged = checksFor(checks, call.stage);
  const controllers = staged.map(() => new AbortController());
  const running = staged.map((check, i) => settle(check, call, context, controllers[i]!, options));
  const tags: CheckTag[] = [];
  const base = {
    stage: call.stage,
    sessionId: context.connection.sessionId,
    remoteAddr: context.connection.remoteAddress,
  };
  try {
    for (const [i, check] of staged.entries()) {
      const verdict = await running[i]!;
      if (verdict.action === 'accept') continue;
      if (verdict.action === 'tag') {
        tags.push({ check: check.name, tag: verdict.tag });
        continue;
      }
      const error = verdict.action === 'reject' ? verdict.error : SmtpError.from(verdict.error);
      if (verdict.action === 'failed' && !(verdict.error instanceof CheckTimeoutError)) {
        context.logger.error({ ...base, check: check.name, err: verdict.error }, 'check failed');
      }
      context.logger.info(
        {
          ...base,
          check: check.name,
          smtpCode: error.code,
          enhanced: error.enhanced,
          reason: verdict.action === 'reject' ? verdict.reason : undefined,
        },
        'check rejected',
      );
      return { action: 'reject', error, check: check.name, tags };
    }
    return { action: 'accept', tags };
  } finally {
    // Whatever is still running after the decision is no longer wanted.
    for (const controller of controllers) controller.abort();
  }
}
