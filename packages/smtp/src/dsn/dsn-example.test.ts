import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL('../../', import.meta.url));

describe('examples/dsn.ts', () => {
  it('runs and prints the bounced recipient read back from the DSN it built', async () => {
    const { stdout } = await run(process.execPath, ['--conditions=source', 'examples/dsn.ts'], {
      cwd: packageDir,
      timeout: 15_000,
    });
    expect(stdout).toMatch(/^MAIL FROM:<> \(\d+ octets, returns headers\)\n/);
    expect(stdout).toContain('bob@example.net: failed 5.1.1 (550 5.1.1 <bob@example.net>: user unknown)\n');
  });
});
