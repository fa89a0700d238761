import { stat, writeFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { openTempDir } from './temp-dir.ts';

it('creates a fresh directory and removes it with its contents on dispose', async () => {
  let path = '';
  {
    await using dir = await openTempDir('testkit-');
    path = dir.path;
    await writeFile(dir.join('a.txt'), 'x');
    expect((await stat(dir.join('a.txt'))).isFile()).toBe(true);
  }
  await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
});
