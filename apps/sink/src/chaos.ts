// SMTP chaos: make the sink answer with chosen errors so that tests can exercise a sender's
// error handling. Mailpit-compatible triggers (Sender, Recipient, Authentication: ErrorCode +
// Probability) plus an optional `Match` regex per trigger (only matching addresses fail) and a
// `Data` stage; MailHog's Jim maps onto the same triggers.

export interface ChaosTrigger {
  ErrorCode: number;
  Probability: number;
  /** Extension: only addresses matching this case-insensitive regex fail. */
  Match?: string;
}

export interface ChaosTriggers {
  Sender: ChaosTrigger;
  Recipient: ChaosTrigger;
  Authentication: ChaosTrigger;
  /** Extension: after DATA. */
  Data?: ChaosTrigger;
}

export type ChaosStage = 'Sender' | 'Recipient' | 'Authentication' | 'Data';

export class Chaos {
  triggers: ChaosTriggers = Chaos.empty();
  readonly random: () => number;

  constructor(random: () => number = Math.random) {
    this.random = random;
  }

  static empty(): ChaosTriggers {
    return {
      Sender: { ErrorCode: 451, Probability: 0 },
      Recipient: { ErrorCode: 451, Probability: 0 },
      Authentication: { ErrorCode: 451, Probability: 0 },
    };
  }

  /** Replaces the triggers; throws a message for a 400 on bad values. */
  set(input: Record<string, unknown>): void {
    const next = Chaos.empty();
    for (const stage of ['Sender', 'Recipient', 'Authentication', 'Data'] as const) {
      const value = input[stage] as Record<string, unknown> | undefined;
      if (!value) continue;
      const code = Number(value.ErrorCode ?? 451);
      const probability = Number(value.Probability ?? 0);
      if (!Number.isInteger(code) || code < 400 || code > 599)
        throw new Error(`Invalid error code (${code})`);
      if (!(probability >= 0 && probability <= 100)) throw new Error(`Invalid probability (${probability})`);
      const trigger: ChaosTrigger = { ErrorCode: code, Probability: probability };
      if (typeof value.Match === 'string' && value.Match) {
        new RegExp(value.Match, 'i');
        trigger.Match = value.Match;
      }
      next[stage] = trigger;
    }
    this.triggers = next;
  }

  /** True when this stage has a trigger that can fire. */
  armed(stage: ChaosStage): boolean {
    const trigger = this.triggers[stage];
    return trigger !== undefined && trigger.Probability > 0;
  }

  /** The reply code to fail with at this stage, or null to go on. */
  fire(stage: ChaosStage, address = ''): number | null {
    const trigger = this.triggers[stage];
    if (!trigger || trigger.Probability <= 0) return null;
    if (trigger.Match && !new RegExp(trigger.Match, 'i').test(address)) return null;
    return this.random() * 100 < trigger.Probability ? trigger.ErrorCode : null;
  }
}
