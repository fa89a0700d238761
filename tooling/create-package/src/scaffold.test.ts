import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ScaffoldError, scaffoldPackage, validateName } from './scaffold.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);
let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mailyard-create-package-'));
  await mkdir(join(root, 'packages', 'smtp'), { recursive: true });
  await writeFile(join(root, 'packages', 'smtp', 'package.json'), '{"name":"@mailyard/smtp"}');
  await writeFile(join(root, 'LICENSE'), 'MIT License\n\nCopyright (c) 2026 The Mailyard contributors\n');
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
}

describe('scaffoldPackage', () => {
  it('writes the files every workspace package has', async () => {
    const result = await scaffoldPackage({ rootDir: root, name: 'mta-sts' });
    expect(result.dir).toBe(join(root, 'packages', 'mta-sts'));
    const expected = [
      'LICENSE',
      'README.md',
      'package.json',
      'src/index.ts',
      'src/mta-sts.test.ts',
      'src/mta-sts.ts',
      'tsconfig.build.json',
      'tsconfig.json',
      'vitest.config.ts',
    ];
    expect(result.files).toEqual(expected);
    const onDisk = await readdir(result.dir, { recursive: true, withFileTypes: true });
    const written = onDisk
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name));
    expect(written.map((path) => path.slice(result.dir.length + 1)).sort()).toEqual(expected);
  });

  it('writes a publishable package.json like the existing packages', async () => {
    const { dir } = await scaffoldPackage({
      rootDir: root,
      name: 'mta-sts',
      description: 'MTA-STS policies.',
    });
    const manifest = await readJson(join(dir, 'package.json'));
    expect(manifest).toMatchObject({
      name: '@mailyard/mta-sts',
      version: '0.0.0',
      description: 'MTA-STS policies.',
      license: 'MIT',
      type: 'module',
      engines: { node: '>=22.19' },
      exports: {
        '.': { source: './src/index.ts', types: './dist/index.d.ts', default: './dist/index.js' },
      },
      files: ['dist', '!dist/**/*.test.*', 'README.md', 'LICENSE'],
      scripts: { build: 'tsc -p tsconfig.build.json', typecheck: 'tsc --noEmit', test: 'vitest run' },
      dependencies: { '@mailyard/smtp': 'workspace:*' },
      devDependencies: { '@mailyard/testkit': 'workspace:*', '@mailyard/tsconfig': 'workspace:*' },
    });
    expect(manifest.private).toBeUndefined();
  });

  it('copies the root LICENSE and the shared tsconfig and vitest project', async () => {
    const { dir } = await scaffoldPackage({ rootDir: root, name: 'mta-sts' });
    expect(await readFile(join(dir, 'LICENSE'), 'utf8')).toBe(await readFile(join(root, 'LICENSE'), 'utf8'));
    expect(await readJson(join(dir, 'tsconfig.json'))).toEqual({
      extends: '@mailyard/tsconfig/base.json',
      compilerOptions: { outDir: 'dist' },
      include: ['src', 'test', 'examples'],
    });
    expect(await readJson(join(dir, 'tsconfig.build.json'))).toEqual({
      extends: './tsconfig.json',
      compilerOptions: { rootDir: 'src' },
      include: ['src'],
      exclude: ['src/**/*.test.ts'],
    });
    expect(await readFile(join(dir, 'vitest.config.ts'), 'utf8')).toContain(
      "export default mailyardProject('@mailyard/mta-sts');",
    );
  });

  it('writes a first test that imports the public index, and an index that exports the function', async () => {
    const { dir } = await scaffoldPackage({ rootDir: root, name: 'mta-sts' });
    const test = await readFile(join(dir, 'src', 'mta-sts.test.ts'), 'utf8');
    expect(test).toContain("import { normalizeMailbox } from './index.ts';");
    expect(await readFile(join(dir, 'src', 'index.ts'), 'utf8')).toContain(
      "export { normalizeMailbox } from './mta-sts.ts';",
    );
    expect(await readFile(join(dir, 'src', 'mta-sts.ts'), 'utf8')).toContain(
      'export function normalizeMailbox(text: string): string',
    );
  });

  it('writes a README whose example is the one the first test checks', async () => {
    const { dir } = await scaffoldPackage({
      rootDir: root,
      name: 'mta-sts',
      description: 'MTA-STS policies.',
    });
    const readme = await readFile(join(dir, 'README.md'), 'utf8');
    expect(readme).toMatch(/^# @mailyard\/mta-sts\n\nMTA-STS policies\.\n/);
    expect(readme).toContain("import { normalizeMailbox } from '@mailyard/mta-sts';");
    expect(readme).toContain("normalizeMailbox('Bob@Example.COM'); // 'Bob@example.com'");
    const test = await readFile(join(dir, 'src', 'mta-sts.test.ts'), 'utf8');
    expect(test).toContain("expect(normalizeMailbox('Bob@Example.COM')).toBe('Bob@example.com');");
  });

  it('scaffolds a private app under apps/ with --app', async () => {
    const result = await scaffoldPackage({ rootDir: root, name: 'dmarc-reports', kind: 'app' });
    expect(result.dir).toBe(join(root, 'apps', 'dmarc-reports'));
    const manifest = await readJson(join(result.dir, 'package.json'));
    expect(manifest).toMatchObject({ name: '@mailyard/dmarc-reports', private: true });
    expect(manifest.files).toBeUndefined();
  });

  it('names the next steps: install and a changeset', async () => {
    const { nextSteps } = await scaffoldPackage({ rootDir: root, name: 'mta-sts' });
    expect(nextSteps[0]).toMatch(/^pnpm install\b/);
    expect(nextSteps.some((step) => step.startsWith('pnpm changeset'))).toBe(true);
  });

  it('refuses a folder that already exists and leaves it untouched', async () => {
    await mkdir(join(root, 'packages', 'mta-sts', 'src'), { recursive: true });
    await writeFile(join(root, 'packages', 'mta-sts', 'keep.txt'), 'mine');
    await expect(scaffoldPackage({ rootDir: root, name: 'mta-sts' })).rejects.toThrow(
      /packages\/mta-sts already exists/,
    );
    expect(await readdir(join(root, 'packages', 'mta-sts'))).toEqual(['keep.txt', 'src']);
  });

  it('refuses a name another workspace package already uses', async () => {
    await mkdir(join(root, 'tooling', 'mta-sts'), { recursive: true });
    await writeFile(join(root, 'tooling', 'mta-sts', 'package.json'), '{"name":"@mailyard/mta-sts"}');
    await expect(scaffoldPackage({ rootDir: root, name: 'mta-sts' })).rejects.toBeInstanceOf(ScaffoldError);
  });

  it('refuses names that are not kebab-case, with a clear error', async () => {
    for (const name of [
      'MtaSts',
      'mta_sts',
      'mta--sts',
      '-mta',
      'mta-',
      '1mta',
      '',
      '@mailyard/x',
      'a/b',
      '../x',
    ]) {
      await expect(scaffoldPackage({ rootDir: root, name }), name).rejects.toThrow(/kebab-case/);
    }
    expect(await readdir(join(root, 'packages'))).toEqual(['smtp']);
  });

  it('accepts kebab-case names with digits', () => {
    for (const name of ['mta-sts', 'arc', 'smtp2', 'x-509-tools']) expect(validateName(name)).toBeNull();
  });
});

describe('a scaffolded package', () => {
  it('typechecks against the real @mailyard/smtp', async () => {
    // Link the temp root to this repository's installed packages, the way pnpm would.
    await rm(join(root, 'packages', 'smtp'), { recursive: true });
    const modules = join(root, 'node_modules');
    await mkdir(join(modules, '@mailyard'), { recursive: true });
    await symlink(join(repoRoot, 'packages', 'smtp'), join(modules, '@mailyard', 'smtp'));
    await symlink(join(repoRoot, 'tooling', 'tsconfig'), join(modules, '@mailyard', 'tsconfig'));
    await symlink(join(repoRoot, 'node_modules', '@types'), join(modules, '@types'));
    await symlink(join(repoRoot, 'node_modules', 'vitest'), join(modules, 'vitest'));
    const { dir } = await scaffoldPackage({ rootDir: root, name: 'mta-sts' });
    const tsc = join(repoRoot, 'node_modules', '.bin', 'tsc');
    const result = await run(tsc, ['--noEmit', '-p', 'tsconfig.json'], { cwd: dir, timeout: 60_000 }).then(
      () => 'ok',
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );
    expect(result).toBe('ok');
  }, 90_000);
});
