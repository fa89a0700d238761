// What the HTTP routes share: the store, chaos triggers, the optional relay and runtime facts.

import type { Chaos } from './chaos.ts';
import type { RelayTarget } from './release.ts';
import type { SinkStore } from './store.ts';

export interface SinkContext {
  readonly store: SinkStore;
  readonly chaos: Chaos;
  readonly relay: RelayTarget | null;
  readonly version: string;
  readonly startedAt: number;
  readonly label: string;
  /** Jim (MailHog's chaos monkey) on or off; its settings map onto `chaos`. */
  jim: Record<string, number> | null;
}

/** Reads a JSON body key case-insensitively, as Go's encoding/json does. */
export function field(body: unknown, name: string): unknown {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const record = body as Record<string, unknown>;
  if (name in record) return record[name];
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(record)) if (key.toLowerCase() === lower) return value;
  return undefined;
}

export function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
