// Message ids: one URL-safe 22-character base62 id per stored message, shared by the Mailpit
// and MailHog APIs (Mailpit uses 22-character shortuuids, so clients that check the length pass).

import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export function newMessageId(): string {
  // 22 base62 digits carry ~131 bits; rejection sampling keeps every digit uniform.
  let out = '';
  while (out.length < 22) {
    for (const byte of randomBytes(32)) {
      if (byte < 248 && out.length < 22) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

export function isMessageId(text: string): boolean {
  return /^[0-9A-Za-z]{22}$/.test(text);
}
