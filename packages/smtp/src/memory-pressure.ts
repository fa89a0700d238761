// Keeping a large message from swelling the process. Where every part of the path streams (an
// SMTP server into a store, a store through DKIM and an SMTP client, a parser over a stored
// message), what a 50 MB message costs is not what is held but what is left behind: each chunk
// that passes is a fresh buffer, dead at once, yet freed only when V8 collects — and V8 starts
// collecting for buffers only after some 64 MB of them have piled up (its external-memory soft
// limit), which alone breaks bounds like "relay a 50 MB message within 64 MB above idle".
// So a stream that carries a message asks for a young-generation collection (cheap: about 1 ms,
// and where short-lived buffers die) after every COLLECT_EVERY octets it has carried: messages
// smaller than that never trigger one, large ones keep their garbage to a few megabytes.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Octets one message stream carries between collections. */
export const COLLECT_EVERY = 4 * 1024 * 1024;

type Collect = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async' }) => void;

let collector: Collect | null | undefined;

/**
 * V8's `gc`: the global one when Node was started with --expose-gc (also allowed in NODE_OPTIONS,
 * the safe way, used first); else the flag is set now and a new context picks it up. Node's docs
 * warn that flags changed after start may do nothing or worse. It works on the pinned Node 24
 * (bench/relay's 50 MB figure runs this path; the relay's memory test starts with --expose-gc),
 * but a future V8 that freezes its flags after start could abort here, where no catch helps:
 * starting with --expose-gc avoids the question.
 */
function collectorOf(): Collect | null {
  if (collector !== undefined) return collector;
  const existing = (globalThis as { gc?: Collect }).gc;
  if (typeof existing === 'function') collector = existing;
  else {
    try {
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as unknown;
      collector = typeof gc === 'function' ? (gc as Collect) : null;
    } catch {
      collector = null;
    }
  }
  return collector;
}

/** Counts octets of one message stream; collects young garbage each COLLECT_EVERY of them. */
export interface ByteMeter {
  /** Octets counted so far. */
  readonly bytes: number;
  add(octets: number): void;
}

export function createByteMeter(): ByteMeter {
  let bytes = 0;
  let next = COLLECT_EVERY;
  return {
    get bytes() {
      return bytes;
    },
    add(octets) {
      bytes += octets;
      if (bytes < next) return;
      next = bytes + COLLECT_EVERY;
      collectorOf()?.({ type: 'minor' });
    },
  };
}

/** `source` unchanged, with a collection after every COLLECT_EVERY octets that pass. */
export async function* metered(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<Uint8Array> {
  const meter = createByteMeter();
  for await (const chunk of source) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    meter.add(bytes.length);
    yield bytes;
  }
}
