// Scaffolds a new workspace package (packages/<name>) or app (apps/<name>) laid out exactly like
// the existing ones: package.json with source/types/default exports, the shared tsconfig and
// vitest project, a README whose example the first test runs, and an MIT LICENSE.

import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export type PackageKind = 'package' | 'app';

export interface ScaffoldOptions {
  /** The monorepo root (holds packages/, apps/, tooling/). */
  readonly rootDir: string;
  /** kebab-case; the package becomes `@mailyard/<name>`. */
  readonly name: string;
  /** `'app'` scaffolds under apps/ as a private package. Default `'package'`. */
  readonly kind?: PackageKind;
  readonly description?: string;
}

export interface ScaffoldResult {
  /** Absolute path of the new folder. */
  readonly dir: string;
  readonly packageName: string;
  /** Paths written, relative to `dir`. */
  readonly files: readonly string[];
  /** What to do next, one command or step per line. */
  readonly nextSteps: readonly string[];
}

/** A refusal the user can fix (bad name, folder exists); the message says how. */
export class ScaffoldError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScaffoldError';
  }
}

const NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
const WORKSPACE_DIRS = ['packages', 'apps', 'tooling'];

/** Checks a package name; returns the reason it is refused, or null when it is fine. */
export function validateName(name: string): string | null {
  if (!NAME.test(name)) {
    return `"${name}" is not a valid package name: use kebab-case (lower-case letters and digits, words joined by single hyphens, starting with a letter), e.g. "mta-sts"`;
  }
  if (name.length > 40) return `"${name}" is too long: keep package names under 40 characters`;
  return null;
}

async function workspaceNames(rootDir: string): Promise<Set<string>> {
  const names = new Set<string>();
  const manifests = [join(rootDir, 'bench', 'package.json')];
  for (const dir of WORKSPACE_DIRS) {
    const entries = await readdir(join(rootDir, dir), { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (entry.isDirectory()) manifests.push(join(rootDir, dir, entry.name, 'package.json'));
    }
  }
  for (const manifest of manifests) {
    try {
      const parsed = JSON.parse(await readFile(manifest, 'utf8')) as { name?: unknown };
      if (typeof parsed.name === 'string') names.add(parsed.name);
    } catch {
      // A folder without a readable package.json is not a workspace package.
    }
  }
  return names;
}

function pascalCase(name: string): string {
  return name
    .split('-')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');
}

const MIT = (year: number) => `MIT License

Copyright (c) ${year} The Mailyard contributors

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`;

function packageJson(name: string, kind: PackageKind, description: string): string {
  const manifest = {
    name: `@mailyard/${name}`,
    version: '0.0.0',
    ...(kind === 'app' ? { private: true } : {}),
    description,
    license: 'MIT',
    type: 'module',
    ...(kind === 'package' ? { keywords: [] } : {}),
    engines: { node: '>=22.19' },
    exports: {
      '.': { source: './src/index.ts', types: './dist/index.d.ts', default: './dist/index.js' },
      ...(kind === 'package' ? { './package.json': './package.json' } : {}),
    },
    ...(kind === 'package' ? { files: ['dist', '!dist/**/*.test.*', 'README.md', 'LICENSE'] } : {}),
    scripts: { build: 'tsc -p tsconfig.build.json', typecheck: 'tsc --noEmit', test: 'vitest run' },
    dependencies: { '@mailyard/smtp': 'workspace:*' },
    devDependencies: { '@mailyard/testkit': 'workspace:*', '@mailyard/tsconfig': 'workspace:*' },
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

const TSCONFIG = `{
  "extends": "@mailyard/tsconfig/base.json",
  "compilerOptions": {
    "outDir": "dist"
  },
  "include": ["src", "test", "examples"]
}
`;

const TSCONFIG_BUILD = `{
  "extends": "./tsconfig.json",
  "compilerOptions": {
    "rootDir": "src"
  },
  "include": ["src"],
  "exclude": ["src/**/*.test.ts"]
}
`;

/** The README example; the generated test asserts exactly what it shows. */
const EXAMPLE = (name: string) => `import { normalizeMailbox } from '@mailyard/${name}';

normalizeMailbox('Bob@Example.COM'); // 'Bob@example.com'`;

function files(name: string, kind: PackageKind, description: string, year: number): Record<string, string> {
  const packageName = `@mailyard/${name}`;
  const pascal = pascalCase(name);
  return {
    'package.json': packageJson(name, kind, description),
    LICENSE: MIT(year),
    'tsconfig.json': TSCONFIG,
    'tsconfig.build.json': TSCONFIG_BUILD,
    'vitest.config.ts': `import { mailyardProject } from '../../vitest.shared.ts';

export default mailyardProject('${packageName}');
`,
    'README.md': `# ${packageName}

${description}

## Usage

\`\`\`ts
${EXAMPLE(name)}
\`\`\`

\`src/${name}.test.ts\` runs this example; keep the two in step.

## Development

\`\`\`sh
pnpm exec vitest run --project ${packageName}
cd ${kind === 'app' ? 'apps' : 'packages'}/${name} && pnpm exec tsc --noEmit
\`\`\`
`,
    'src/index.ts': `// ${packageName} — the public surface: every export of the ${kind} is named here.

export { normalizeMailbox } from './${name}.ts';
`,
    [`src/${name}.ts`]: `// ${pascal}: say what this module owns and which RFC sections it implements.
// (Scaffolded by \`pnpm new-package\`; replace the starter function with the first real one.)

import { formatAddress, parseAddress } from '@mailyard/smtp';

/**
 * Starter export: a mailbox in its canonical form (domain lower-cased, local part kept as
 * given). Throws SmtpError 501 5.1.3 for bad syntax, as \`parseAddress\` does.
 */
export function normalizeMailbox(text: string): string {
  return formatAddress(parseAddress(text));
}
`,
    [`src/${name}.test.ts`]: `import { SmtpError } from '@mailyard/smtp';
import { describe, expect, it } from 'vitest';
import { normalizeMailbox } from './index.ts';

describe('normalizeMailbox', () => {
  it('lower-cases the domain and keeps the local part (the README example)', () => {
    expect(normalizeMailbox('Bob@Example.COM')).toBe('Bob@example.com');
  });

  it('rejects bad syntax with 501 5.1.3', () => {
    expect(() => normalizeMailbox('not an address')).toThrow(SmtpError);
    expect(() => normalizeMailbox('not an address')).toThrow(
      expect.objectContaining({ code: 501, enhanced: '5.1.3' }),
    );
  });
});
`,
  };
}

/**
 * Creates the package folder and its files. Refuses (ScaffoldError) an invalid name, a folder
 * that already exists, and a name another workspace package already uses.
 */
export async function scaffoldPackage(options: ScaffoldOptions): Promise<ScaffoldResult> {
  const kind = options.kind ?? 'package';
  const invalid = validateName(options.name);
  if (invalid) throw new ScaffoldError(invalid);
  const packageName = `@mailyard/${options.name}`;
  const folder = `${kind === 'app' ? 'apps' : 'packages'}/${options.name}`;
  const dir = join(options.rootDir, folder);
  if (existsSync(dir))
    throw new ScaffoldError(`${folder} already exists; pick another name or remove it first`);
  if ((await workspaceNames(options.rootDir)).has(packageName)) {
    throw new ScaffoldError(`${packageName} is already the name of another workspace package`);
  }
  const description = (options.description ?? `TODO: one sentence on what ${packageName} does.`).trim();
  const rootLicense = await readFile(join(options.rootDir, 'LICENSE'), 'utf8').catch(() => undefined);
  const contents = files(options.name, kind, description, new Date().getFullYear());
  if (rootLicense) contents.LICENSE = rootLicense;

  await mkdir(join(options.rootDir, kind === 'app' ? 'apps' : 'packages'), { recursive: true });
  // Not recursive: if someone created the folder meanwhile, fail rather than write into it.
  await mkdir(dir).catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'EEXIST' ? new ScaffoldError(`${folder} already exists`) : error;
  });
  try {
    await mkdir(join(dir, 'src'));
    for (const [path, text] of Object.entries(contents)) {
      await writeFile(join(dir, path), text, { flag: 'wx' });
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    dir,
    packageName,
    files: Object.keys(contents).sort(),
    nextSteps: [
      'pnpm install   # links the new workspace package',
      `pnpm exec vitest run --project ${packageName}`,
      `cd ${folder} && pnpm exec tsc --noEmit`,
      kind === 'package'
        ? `pnpm changeset   # describe the new package for its first release; add it to the README table`
        : 'add the app to the README table and, if it is a command, to apps/cli/src/commands.ts',
    ],
  };
}
