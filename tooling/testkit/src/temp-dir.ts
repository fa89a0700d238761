// Temporary data directories for tests: a fresh directory under the OS temp dir, removed with
// everything in it when the test disposes it (`await using dir = await openTempDir()`).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempDir {
  readonly path: string;
  /** A path inside the directory. */
  join(...parts: string[]): string;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function openTempDir(prefix = 'mailyard-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return {
    path,
    join: (...parts) => join(path, ...parts),
    async [Symbol.asyncDispose]() {
      await rm(path, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}
