// The `mailyard` binary as a user runs it: a real process through bin/mailyard.js.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../bin/mailyard.js', import.meta.url));
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

async function mailyard(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [bin, ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('mailyard', () => {
  it('prints its version from package.json', async () => {
    expect(await mailyard('--version')).toMatchObject({ code: 0, stdout: `mailyard ${version}\n` });
  });

  it('lists every command in --help and exits 0', async () => {
    const { code, stdout } = await mailyard('--help');
    expect(code).toBe(0);
    for (const command of ['sink', 'relay', 'queue', 'check', 'rules', 'dkim', 'auth'])
      expect(stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
  });

  it('exits 2 with the usage on an unknown command', async () => {
    const { code, stderr } = await mailyard('frobnicate');
    expect(code).toBe(2);
    expect(stderr).toContain("unknown command 'frobnicate'");
  });

  it('exits 2 without a command', async () => {
    const { code, stdout } = await mailyard();
    expect(code).toBe(2);
    expect(stdout).toContain('Usage: mailyard <command>');
  });
});
