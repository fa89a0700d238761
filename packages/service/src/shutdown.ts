// How an app opens and closes its parts: each part, once open, registers what closes it; closing
// runs those steps newest first. Opening in dependency order (queue, metrics, deliveries, SMTP
// listener, admin) therefore closes in the order a graceful stop needs: stop accepting first, then
// deliveries, the queue and its store last. The same steps undo a start that failed half way.

import type { Logger } from './logger.ts';

export interface CloseOptions {
  /** How long SMTP transactions under way may take to finish. */
  readonly deadlineMs?: number;
}

export type CloseStep = (options: CloseOptions) => Promise<void> | void;

export interface Shutdown {
  /** Registers what closes the part just opened. */
  add(step: CloseStep): void;
  /** Runs every step once, newest first; later calls get the same promise. */
  close(options?: CloseOptions): Promise<void>;
}

/** `app` names the lines logged around closing (`relay stopping`, `relay stopped`). */
export function createShutdown(logger: Logger, app: string): Shutdown {
  const steps: CloseStep[] = [];
  let closing: Promise<void> | undefined;
  return {
    add(step) {
      steps.push(step);
    },
    close(options = {}) {
      closing ??= (async () => {
        logger.info({}, `${app} stopping`);
        for (const step of steps.reverse()) await step(options);
        logger.info({}, `${app} stopped`);
      })();
      return closing;
    },
  };
}
