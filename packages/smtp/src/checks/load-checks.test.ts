import { mkdir, writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { openTempDir, type TempDir } from '@mailyard/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDnsResolver } from '../client/dns-resolver.ts';
import type { ConnectionInfo } from '../server/backend.ts';
import { CheckConfigError } from './check-config-error.ts';
import { loadChecks } from './load-checks.ts';
import { runChecks } from './run-checks.ts';

const SILENT = { info() {}, warn() {}, error() {} };
const resolver = createDnsResolver({ servers: ['127.0.0.1:9'] });

// Real module files in a temp dir, imported for real (plain .mjs: no build step, no types).
const MODULES: Record<string, string> = {
  'default-export.mjs': `export default function (options, host) {
    return { name: 'greeter', connect: () => ({ action: 'tag', tag: options.word + ' ' + host.path }) };
  }`,
  'named-export.mjs': `export function createCheck() {
    return { name: 'named', mail: (from) => ({ action: 'tag', tag: from === null ? 'null sender' : 'sender' }) };
  }`,
  'no-factory.mjs': 'export const answer = 42;',
  'bad-options.mjs': `import { CheckConfigError } from ${JSON.stringify(pathToFileURL(new URL('./check-config-error.ts', import.meta.url).pathname).href)};
  export default (options, host) => {
    throw new CheckConfigError([{ path: host.path + '.zones', message: 'must be a list' }]);
  };`,
  'crashes.mjs': "export default () => { throw new Error('no key file'); };",
  'hookless.mjs': "export default () => ({ name: 'hookless' });",
  'async-factory.mjs': `export default async () => ({ name: 'later', timeoutMs: 5, rcpt: () => ({ action: 'accept' }) });`,
};

let dir: TempDir;
beforeEach(async () => {
  dir = await openTempDir();
  await mkdir(dir.join('checks'));
  for (const [name, text] of Object.entries(MODULES)) await writeFile(dir.join('checks', name), text);
});
afterEach(async () => {
  await dir[Symbol.asyncDispose]();
});

function host() {
  return { resolver, logger: SILENT, configDir: dir.path };
}

async function configError(promise: Promise<unknown>): Promise<CheckConfigError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CheckConfigError);
  return error as CheckConfigError;
}

const connection = { sessionId: 's', remoteAddress: '192.0.2.1' } as ConnectionInfo;

describe('loadChecks', () => {
  it("loads a relative module against the config file's folder and hands the factory its options and path", async () => {
    const checks = await loadChecks(
      [{ module: './checks/default-export.mjs', options: { word: 'hello' } }],
      host(),
    );
    expect(checks.map((check) => check.name)).toEqual(['greeter']);
    const outcome = await runChecks(
      checks,
      { stage: 'connect' },
      { connection, envelope: null, resolver, logger: SILENT },
    );
    expect(outcome.tags).toEqual([{ check: 'greeter', tag: 'hello checks[0].options' }]);
  });

  it('takes a createCheck export, and an absolute path', async () => {
    const checks = await loadChecks([{ module: dir.join('checks', 'named-export.mjs') }], host());
    const outcome = await runChecks(
      checks,
      { stage: 'mail', from: null },
      { connection, envelope: null, resolver, logger: SILENT },
    );
    expect(outcome.tags).toEqual([{ check: 'named', tag: 'null sender' }]);
  });

  it('loads a package name through the importer it is given', async () => {
    const requested: string[] = [];
    const checks = await loadChecks(
      [{ module: '@example/check-greeter', options: { word: 'hi' } }],
      host(),
      (name) => {
        requested.push(name);
        return import(pathToFileURL(dir.join('checks', 'default-export.mjs')).href);
      },
    );
    expect(requested).toEqual(['@example/check-greeter']);
    expect(checks[0]?.name).toBe('greeter');
  });

  it('keeps an async factory, the check’s own time limit, and lets the spec override it and the name', async () => {
    const [own, overridden] = await loadChecks(
      [
        { module: './checks/async-factory.mjs' },
        { module: './checks/async-factory.mjs', timeoutMs: 300, name: 'later-2' },
      ],
      host(),
    );
    expect(own).toMatchObject({ name: 'later', timeoutMs: 5 });
    expect(overridden).toMatchObject({ name: 'later-2', timeoutMs: 300 });
  });

  it('names the config path and the module of one that does not load', async () => {
    const error = await configError(loadChecks([{ module: '@example/not-installed' }], host()));
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]?.path).toBe('checks[0].module');
    expect(error.issues[0]?.message).toContain('"@example/not-installed"');
  });

  it('reports every problem at once, each with its path', async () => {
    const error = await configError(
      loadChecks(
        [
          { module: './checks/default-export.mjs', options: { word: 'ok' } },
          { module: './checks/no-factory.mjs' },
          { module: './checks/bad-options.mjs', path: 'inbound.checks[2]' },
          { module: './checks/crashes.mjs' },
          { module: './checks/hookless.mjs' },
          { module: '' },
          { module: './checks/default-export.mjs', options: { word: 'again' } },
          { module: './checks/named-export.mjs', timeoutMs: 0 },
        ],
        host(),
      ),
    );
    expect(error.issues.map((issue) => issue.path)).toEqual([
      'checks[1].module',
      'inbound.checks[2].options.zones',
      'checks[3]',
      'checks[4]',
      'checks[5].module',
      'checks[6]',
      'checks[7].timeoutMs',
    ]);
    expect(error.issues[0]?.message).toContain('exports no check factory');
    expect(error.issues[2]?.message).toContain('no key file');
    expect(error.issues[3]?.message).toContain('no stage hook');
    expect(error.issues[5]?.message).toContain('already loaded at checks[0]');
    expect(error.message).toContain('inbound.checks[2].options.zones: must be a list');
  });

  it('refuses a relative module when it does not know the config folder', async () => {
    const error = await configError(
      loadChecks([{ module: './checks/default-export.mjs' }], { resolver, logger: SILENT }),
    );
    expect(error.issues[0]?.path).toBe('checks[0].module');
  });
});
