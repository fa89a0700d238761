// `pnpm new-package <name> [--app] [--description "…"]`: scaffolds a workspace package or app
// (see scaffold.ts) in this repository and prints what to do next.

import { fileURLToPath } from 'node:url';
import { parseCommandLine, USAGE } from './command-line.ts';
import { ScaffoldError, scaffoldPackage } from './scaffold.ts';

const rootDir = fileURLToPath(new URL('../../../', import.meta.url));

try {
  const command = parseCommandLine(process.argv.slice(2));
  if (command === 'help') {
    process.stdout.write(USAGE);
  } else {
    const result = await scaffoldPackage({ rootDir, ...command });
    process.stdout.write(
      `Created ${result.dir} (${result.packageName}):\n${result.files.map((file) => `  ${file}\n`).join('')}` +
        `\nNext steps:\n${result.nextSteps.map((step) => `  ${step}\n`).join('')}`,
    );
  }
} catch (error) {
  if (!(error instanceof ScaffoldError)) throw error;
  process.stderr.write(`new-package: ${error.message}\n\n${USAGE}`);
  process.exitCode = 1;
}
