// Serves the web UI. `pnpm build` bundles ui/ with Vite into dist/ui; without a build (a fresh
// clone, tests) the same files are served from ui/ as they are: the UI is plain ES modules, so
// it needs no build step to run. The built copy is preferred when present.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

export function uiDirectory(): string {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const built = join(root, 'dist', 'ui');
  return existsSync(join(built, 'index.html')) ? built : join(root, 'ui');
}

// The UI itself runs no inline script and loads nothing from elsewhere.
const UI_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-src 'self'; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

export function registerUi(app: FastifyInstance): void {
  const dir = uiDirectory();
  const serve = async (file: string, reply: import('fastify').FastifyReply) => {
    const path = normalize(join(dir, file));
    if (!path.startsWith(dir) || file.includes('vite.config'))
      return reply.code(404).type('text/plain').send('404 page not found');
    try {
      const body = await readFile(path);
      reply.header('content-security-policy', UI_POLICY);
      reply.header('x-content-type-options', 'nosniff');
      return reply.type(TYPES[extname(path)] ?? 'application/octet-stream').send(body);
    } catch {
      return reply.code(404).type('text/plain').send('404 page not found');
    }
  };
  app.get('/', async (_req, reply) => serve('index.html', reply));
  app.get('/app.js', async (_req, reply) => serve('app.js', reply));
  app.get('/style.css', async (_req, reply) => serve('style.css', reply));
  app.get('/assets/*', async (req, reply) =>
    serve(join('assets', (req.params as { '*': string })['*']), reply),
  );
}
