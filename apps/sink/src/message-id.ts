// Message ids: one URL-safe 22-character base62 id per stored message, shared by the Mailpit
// and MailHog APIs (Mailpit uses 22-character shortuuids, so clients that check the length pass).
// The first 8 digits are the time in milliseconds, so ids sort by arrival and each new one
// lands at the end of the store's id index (an append, not a random page write); the other 14
// digits are random (~83 bits), so ids stay unguessable and unique.

import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const TIME_DIGITS = 8;
const RANDOM_DIGITS = 14;

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

export function newMessageId(now: number = Date.now()): string {
  let time = '';
  for (let rest = Math.max(0, Math.floor(now)), i = 0; i < TIME_DIGITS; i++, rest = Math.floor(rest / 62)) {
    time = ALPHABET[rest % 62] + time;
  }
  let random = '';
  // Rejection sampling keeps every digit uniform.
  while (random.length < RANDOM_DIGITS) {
    const byte = randomByte();
    if (byte < 248) random += ALPHABET[byte % 62];
  }
  return time + random;
}

export function isMessageId(text: string): boolean {
  return /^[0-9A-Za-z]{22}$/.test(text);
}
