/**
 * Response headers of the editor and Node-RED's admin API. Node-RED's admin app answers every
 * request with `Access-Control-Allow-Origin: *` (a cors() it installs before anything else) and
 * sends no framing policy, so any site could read its answers or frame the editor.
 */
import type { NextFunction, Request, Response } from 'express';

const FRAME_HEADERS: Record<string, string> = {
  'X-Frame-Options': 'SAMEORIGIN',
  'Content-Security-Policy': "frame-ancestors 'self'",
};

/**
 * Node-RED's `httpAdminMiddleware`: it runs inside the admin app right after Node-RED's cors(), so it
 * can take the wildcard back, and it frames nothing but our own pages.
 */
export function editorHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.removeHeader('Access-Control-Allow-Origin');
  for (const [name, value] of Object.entries(FRAME_HEADERS)) res.setHeader(name, value);
  next();
}

/**
 * Mounted after the admin app and before flows' HTTP endpoints: a request that the admin app did
 * not answer is a flow's, and a flow decides for itself whether its pages may be framed.
 */
export function unframeFlowResponses(_req: Request, res: Response, next: NextFunction): void {
  for (const [name, value] of Object.entries(FRAME_HEADERS)) if (res.getHeader(name) === value) res.removeHeader(name);
  next();
}

/**
 * Mounted before Node-RED: a CORS preflight gets no Access-Control-Allow-* headers, so browsers
 * refuse cross-origin calls that need one. Node-RED's cors() would otherwise allow every origin,
 * and it answers preflights itself, before `httpAdminMiddleware` could step in.
 */
export function refusePreflight(req: Request, res: Response, next: NextFunction): void {
  if (req.method === 'OPTIONS' && req.headers.origin !== undefined && req.headers['access-control-request-method'] !== undefined) {
    res.status(204).end();
    return;
  }
  next();
}
