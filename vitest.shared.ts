// Shared vitest settings for every workspace project: run workspace packages from source
// (the "source" export condition) so tests never need a build first.
import { defaultServerConditions } from 'vite';
import { defineProject, type UserWorkspaceConfig } from 'vitest/config';

export function mailyardProject(name: string, extra: UserWorkspaceConfig['test'] = {}) {
  return defineProject({
    ssr: { resolve: { conditions: ['source', ...defaultServerConditions] } },
    resolve: { conditions: ['source', ...defaultServerConditions] },
    test: {
      name,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: 20_000,
      hookTimeout: 20_000,
      ...extra,
    },
  });
}
