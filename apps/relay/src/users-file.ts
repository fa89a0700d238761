// The submission users: a text file of `user:$scrypt$ln=14,r=8,p=1$salt$hash` lines (`#` comments),
// written by `mailyard relay adduser`. Verification never reveals which part was wrong: an unknown
// user costs the same scrypt work as a known one (against a dummy hash), and hashes are compared in
// constant time (timingSafeEqual). Passwords are never logged or kept beyond the check.

import { randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';

const KEY_LENGTH = 32;
const DEFAULT_LOG_N = 14;

interface ScryptHash {
  readonly logN: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

function scrypt(password: string, hash: Pick<ScryptHash, 'logN' | 'r' | 'p' | 'salt'>): Promise<Buffer> {
  const N = 2 ** hash.logN;
  return new Promise((resolve, reject) =>
    scryptCallback(
      password.normalize('NFC'),
      hash.salt,
      KEY_LENGTH,
      { N, r: hash.r, p: hash.p, maxmem: 256 * N * hash.r + 1024 * 1024 },
      (error, key) => (error ? reject(error) : resolve(key)),
    ),
  );
}

function parseHash(text: string): ScryptHash | null {
  const match = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(
    text,
  );
  if (!match) return null;
  const logN = Number(match[1]);
  if (logN < 10 || logN > 20) return null;
  return {
    logN,
    r: Number(match[2]),
    p: Number(match[3]),
    salt: Buffer.from(match[4] as string, 'base64'),
    hash: Buffer.from(match[5] as string, 'base64'),
  };
}

/** An scrypt hash of `password` in the users-file format. */
export async function hashPassword(password: string, logN = DEFAULT_LOG_N): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, { logN, r: 8, p: 1, salt });
  return `$scrypt$ln=${logN},r=8,p=1$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export interface UsersFile {
  /** True only for a known user with the right password; takes the same work either way. */
  verify(username: string, password: string): Promise<boolean>;
  /** Known user names (the file is re-read when it changes). */
  users(): Promise<string[]>;
}

/** Parses the file's text; bad lines are returned as problems (line numbers from 1). */
export function parseUsers(text: string): { users: Map<string, ScryptHash>; problems: string[] } {
  const users = new Map<string, ScryptHash>();
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const colon = trimmed.indexOf(':');
    const hash = colon > 0 ? parseHash(trimmed.slice(colon + 1)) : null;
    if (!hash) problems.push(`line ${index + 1}: expected user:$scrypt$ln=N,r=R,p=P$salt$hash`);
    else users.set(trimmed.slice(0, colon), hash);
  });
  return { users, problems };
}

export function openUsersFile(path: string): UsersFile {
  let cache: { mtimeMs: number; size: number; users: Map<string, ScryptHash> } | null = null;
  const dummy: ScryptHash = {
    logN: DEFAULT_LOG_N,
    r: 8,
    p: 1,
    salt: randomBytes(16),
    hash: randomBytes(KEY_LENGTH),
  };
  const load = async (): Promise<Map<string, ScryptHash>> => {
    const info = await stat(path);
    if (cache && cache.mtimeMs === info.mtimeMs && cache.size === info.size) return cache.users;
    const { users } = parseUsers(await readFile(path, 'utf8'));
    cache = { mtimeMs: info.mtimeMs, size: info.size, users };
    return users;
  };
  return {
    async verify(username, password) {
      const users = await load();
      const known = users.get(username);
      // The same scrypt work for unknown users: response time does not tell which names exist.
      const hash = known ?? dummy;
      const computed = await scrypt(password, hash);
      const equal = computed.length === hash.hash.length && timingSafeEqual(computed, hash.hash);
      return known !== undefined && equal;
    },
    async users() {
      return [...(await load()).keys()];
    },
  };
}

/** Adds or replaces `username` in the file (created with mode 0600), atomically. */
export async function addUser(path: string, username: string, password: string): Promise<void> {
  if (!/^[^\s:#][^\s:]*$/.test(username)) throw new RangeError('user names cannot contain spaces or colons');
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const lines = text.split(/\r?\n/).filter((line) => line !== '' && !line.startsWith(`${username}:`));
  lines.push(`${username}:${await hashPassword(password)}`);
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${lines.join('\n')}\n`, { mode: 0o600 });
  await rename(temporary, path);
}
