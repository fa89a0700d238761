// Arguments of `pnpm new-package`: a name, `--app`, `--description <text>` (or `--description=<text>`).

import { type PackageKind, ScaffoldError } from './scaffold.ts';

export const USAGE = `Usage: pnpm new-package <name> [--app] [--description "one sentence"]

  <name>          kebab-case; creates packages/<name> as @mailyard/<name>
  --app           create apps/<name> instead (a private package)
  --description   the package.json description and README introduction
`;

export interface NewPackageCommand {
  readonly name: string;
  readonly kind: PackageKind;
  readonly description?: string;
}

export function parseCommandLine(argv: readonly string[]): NewPackageCommand | 'help' {
  let name: string | undefined;
  let kind: PackageKind = 'package';
  let description: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') continue;
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--app') kind = 'app';
    else if (arg === '--description') {
      description = argv[++i];
      if (description === undefined) throw new ScaffoldError('--description needs a value');
    } else if (arg.startsWith('--description=')) description = arg.slice('--description='.length);
    else if (arg.startsWith('-')) throw new ScaffoldError(`unknown option ${arg}`);
    else if (name === undefined) name = arg;
    else throw new ScaffoldError(`unexpected argument ${arg}: give one name`);
  }
  if (name === undefined) throw new ScaffoldError('missing the package name');
  return { name, kind, ...(description === undefined ? {} : { description }) };
}
