import { readFile, stat } from 'node:fs/promises';
import { openTempDir } from '@mailyard/testkit';
import { describe, expect, it } from 'vitest';
import { addUser, openUsersFile, parseUsers } from './users-file.ts';

describe('users file', () => {
  it('verifies the password written by addUser and refuses others', async () => {
    await using dir = await openTempDir();
    await addUser(dir.join('users.txt'), 'alice', 'correct horse');
    const users = openUsersFile(dir.join('users.txt'));
    expect(await users.verify('alice', 'correct horse')).toBe(true);
    expect(await users.verify('alice', 'correct horsE')).toBe(false);
    expect(await users.verify('bob', 'correct horse')).toBe(false);
  });

  it('stores scrypt hashes only, in a file readable by its owner only', async () => {
    await using dir = await openTempDir();
    await addUser(dir.join('users.txt'), 'alice', 'correct horse');
    const text = await readFile(dir.join('users.txt'), 'utf8');
    expect(text).toMatch(/^alice:\$scrypt\$ln=14,r=8,p=1\$/);
    expect(text).not.toContain('correct horse');
    expect((await stat(dir.join('users.txt'))).mode & 0o077).toBe(0);
  });

  it('replaces a user instead of adding a second line', async () => {
    await using dir = await openTempDir();
    await addUser(dir.join('users.txt'), 'alice', 'first password');
    await addUser(dir.join('users.txt'), 'alice', 'second password');
    const users = openUsersFile(dir.join('users.txt'));
    expect(await users.users()).toEqual(['alice']);
    expect(await users.verify('alice', 'second password')).toBe(true);
  });

  it('reports malformed lines with their numbers', () => {
    expect(parseUsers('# comment\nalice:plaintext\n').problems).toEqual([expect.stringMatching(/^line 2: /)]);
  });
});
