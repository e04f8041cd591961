/**
 * The web push opt-in page (editor/notify/): static files served as they are, no build step. Mounted at
 * /notify, so the service worker at /notify/sw.js gets the scope /notify/ without any extra header.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Router } from 'express';

/** From dist/runtime/notify/ (and /app/dist/runtime/notify/ in the image) up to the project root. */
export const NOTIFY_PAGES_DIR = path.resolve(__dirname, '../../..', 'editor', 'notify');

/** Nothing but this origin's own files: the page has no inline script or style and loads nothing from elsewhere. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

const PAGES: Record<string, { file: string; type: string }> = {
  '/subscribe': { file: 'subscribe.html', type: 'text/html; charset=utf-8' },
  '/subscribe.js': { file: 'subscribe.js', type: 'text/javascript; charset=utf-8' },
  '/subscribe.css': { file: 'subscribe.css', type: 'text/css; charset=utf-8' },
  '/sw.js': { file: 'sw.js', type: 'text/javascript; charset=utf-8' },
};

/**
 * A router for the opt-in page. The files are read once, here: a missing folder (say, an image built
 * without editor/) stops the start with a clear error instead of serving 404s to users.
 */
export function notifyPages(dir: string = NOTIFY_PAGES_DIR): Router {
  const files = new Map(Object.entries(PAGES).map(([route, page]) => [route, { ...page, body: fs.readFileSync(path.join(dir, page.file)) }]));
  // Strict: /notify/subscribe/ would resolve the page's relative URLs one level too deep.
  const router = Router({ strict: true, caseSensitive: true });
  router.use((req, res, next) => {
    res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    next();
  });
  for (const [route, page] of files) {
    router.get(route, (_req, res) => {
      // no-cache, not no-store: browsers revalidate with the ETag express adds, so an upgrade shows at once.
      res.setHeader('Cache-Control', 'no-cache');
      res.type(page.type).send(page.body);
    });
  }
  router.use((_req, res) => {
    res.status(404).type('text/plain; charset=utf-8').send('Not found');
  });
  return router;
}
