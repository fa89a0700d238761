// Message ids: one URL-safe 22-character base62 id per stored message, shared by the Mailpit
// and MailHog APIs (Mailpit uses 22-character shortuuids, so clients that check the length pass).
// The first 8 digits are the time in milliseconds (ids sort by arrival), the next 6 are the
// store's sequence number, and the last 8 are random (~47 bits), so ids stay unguessable and
// unique. Carrying the sequence number lets the store find a message by its primary key: no
// index on the id, which every insert would otherwise have to update.

import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const TIME_DIGITS = 8;
const SEQ_DIGITS = 6;
const RANDOM_DIGITS = 8;
/** Sequence numbers that fit the id: 62^6, about 56 billion. */
export const MAX_SEQ = 62 ** SEQ_DIGITS - 1;

// Random bytes are drawn in blocks: one call per id would cost more than the rest of the id.
let pool = randomBytes(0);
let used = 0;

function randomByte(): number {
  if (used >= pool.length) {
    pool = randomBytes(4096);
    used = 0;
  }
  return pool[used++]!;
}

function base62(value: number, digits: number): string {
  let text = '';
  for (let rest = Math.max(0, Math.floor(value)), i = 0; i < digits; i++, rest = Math.floor(rest / 62)) {
    text = ALPHABET[rest % 62] + text;
  }
  return text;
}

export function newMessageId(seq: number, now: number = Date.now()): string {
  if (!Number.isSafeInteger(seq) || seq < 0 || seq > MAX_SEQ)
    throw new RangeError(`sequence ${seq} out of range`);
  let random = '';
  // Rejection sampling keeps every digit uniform.
  while (random.length < RANDOM_DIGITS) {
    const byte = randomByte();
    if (byte < 248) random += ALPHABET[byte % 62];
  }
  return base62(now, TIME_DIGITS) + base62(seq, SEQ_DIGITS) + random;
}

export function isMessageId(text: string): boolean {
  return /^[0-9A-Za-z]{22}$/.test(text);
}

/** The sequence number an id carries, or null when the text is no message id. */
export function messageSeq(id: string): number | null {
  if (!isMessageId(id)) return null;
  let seq = 0;
  for (let i = TIME_DIGITS; i < TIME_DIGITS + SEQ_DIGITS; i++) seq = seq * 62 + ALPHABET.indexOf(id[i]!);
  return seq;
}
