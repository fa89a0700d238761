// A service process's plumbing: its configuration (YAML + MAILYARD_* overrides, every problem at
// once), a logger, and the admin listener with an endpoint of its own.
// Run: pnpm exec node --conditions=source examples/service.ts (from packages/service)
import {
  ConfigError,
  createConfigReader,
  createLogger,
  loadConfigFile,
  MTA_SECTIONS,
  openAdminHttp,
  readMtaSections,
  sendJson,
} from '@mailyard/service';
import { Registry } from 'prom-client';

const KNOWN = [...MTA_SECTIONS, 'greeting'];

export function readConfig(text: string, env: NodeJS.ProcessEnv = process.env) {
  const source = loadConfigFile(text, { file: 'example.yaml', env, known: KNOWN });
  if (source.problems.length > 0) throw new ConfigError(source.problems);
  const r = createConfigReader(source);
  r.keys([], KNOWN);
  const mta = readMtaSections(r, { file: 'example.yaml' }); // hostname, queue, dns, tls, delivery, admin, …
  const greeting = r.string(['greeting'], 'hello'); // and this service's own keys
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return { ...mta, greeting };
}

export async function example() {
  const config = readConfig('hostname: mx.example.org\nadmin:\n  listen: 127.0.0.1:0\n', {
    MAILYARD_ADMIN__TOKEN: 'a-token-of-16-or-more',
    MAILYARD_GREETING: 'bonjour',
  });
  if (!config.admin) throw new Error('the example configures an admin listener');
  const logger = createLogger({ app: 'example', level: config.log.level });
  await using admin = await openAdminHttp({
    ...config.admin,
    registry: new Registry(),
    logger,
    routes: [
      async (req, res, url) =>
        req.method === 'GET' &&
        url.pathname === '/api/greeting' &&
        sendJson(res, 200, { text: config.greeting }),
    ],
  });
  const auth = { authorization: `Bearer ${config.admin.token}` };
  const greeting = await (await fetch(`${admin.url}/api/greeting`, { headers: auth })).json();
  const anonymous = (await fetch(`${admin.url}/api/greeting`)).status;

  let problems: readonly string[] = [];
  try {
    readConfig('queue:\n  retry: [5m, soon]\ndelivery:\n  port: 0\n', {});
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems = error.problems;
  }
  return { hostname: config.hostname, greeting, anonymous, problems };
}

if (import.meta.main) console.log(await example());
