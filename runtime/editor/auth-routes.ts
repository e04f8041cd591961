/**
 * The editor's login and logout, answered in front of Node-RED's admin API (mounted before it, at
 * the same root). Node-RED's own token endpoint limits failed logins per username across every
 * address, so anyone who can reach the editor could keep `admin` out, and it keeps its sessions in
 * clear in `.sessions.json`. Here a login goes through the platform: the same limiter as the REST
 * API, per (username, client address) with backoff, and the same tokens, stored only as hashes,
 * with the API token lifetime, revoked by a password change. Node-RED accepts these tokens through
 * `adminAuth.tokens` (settings.ts). The wire format stays Node-RED's (an OAuth 2 password grant),
 * so the editor and node-red-admin log in unchanged.
 */
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import type { AuthService, TokenClient } from '../auth/service';
import { isFieldflowError } from '../errors';
import type { Logger } from '../log';

/** Node-RED's admin clients (its auth/clients.js): the editor and the node-red-admin tool. */
const CLIENTS: ReadonlySet<string> = new Set<TokenClient>(['node-red-editor', 'node-red-admin']);

/** An OAuth 2 error answer (RFC 6749 section 5.2), as Node-RED's token endpoint sends them. */
function oauthError(res: Response, status: number, error: string, description: string): void {
  res.status(status).set('Cache-Control', 'no-store').json({ error, error_description: description });
}

const text = (value: unknown, max: number): string | null => (typeof value === 'string' && value !== '' && value.length <= max ? value : null);

/** POST /auth/token and POST /auth/revoke for Node-RED's admin clients. */
export function editorAuthRoutes(auth: AuthService, log: Logger): Router {
  const router = Router();
  // The editor posts forms; node-red-admin and scripts may post JSON. Small bodies only: these are logins.
  const body = [express.urlencoded({ extended: false, limit: '16kb' }), express.json({ limit: '16kb' })];

  router.post('/auth/token', ...body, async (req: Request, res: Response) => {
    const form = (typeof req.body === 'object' && req.body !== null ? req.body : {}) as Record<string, unknown>;
    if (form.grant_type !== 'password') return oauthError(res, 400, 'unsupported_grant_type', 'Only the password grant is supported');
    if (typeof form.client_id !== 'string' || !CLIENTS.has(form.client_id)) return oauthError(res, 401, 'invalid_client', 'Unknown client');
    const username = text(form.username, 128);
    const password = text(form.password, 1024);
    if (!username || !password) return oauthError(res, 400, 'invalid_request', 'username and password are required');
    try {
      const issued = await auth.login(username, password, req.ip ?? 'unknown', form.client_id as TokenClient);
      res.set('Cache-Control', 'no-store').set('Pragma', 'no-cache');
      res.json({ access_token: issued.token, expires_in: auth.tokenTtlSeconds, token_type: 'Bearer' });
    } catch (err) {
      if (isFieldflowError(err) && err.code === 'FF_TOO_MANY_ATTEMPTS') {
        res.set(err.headers ?? {});
        return oauthError(res, 429, 'invalid_grant', err.message);
      }
      // 403 as Node-RED's endpoint answers wrong credentials, so its clients read it as they always have.
      if (isFieldflowError(err) && err.code === 'FF_AUTH_INVALID') return oauthError(res, 403, 'invalid_grant', 'Invalid resource owner credentials');
      log.error('editor login failed', { error: (err as Error).message });
      oauthError(res, 500, 'server_error', 'The login could not be completed');
    }
  });

  // Logging out ends the session whose token is posted; holding the token is the right to end it.
  router.post('/auth/revoke', ...body, async (req: Request, res: Response) => {
    const token = text((req.body as Record<string, unknown> | undefined)?.token, 1024);
    try {
      if (token) await auth.revokeToken(token);
      res.status(200).end();
    } catch (err) {
      log.error('editor logout failed', { error: (err as Error).message });
      oauthError(res, 500, 'server_error', 'The session could not be revoked');
    }
  });

  // A body that does not parse (or is too large) gets an OAuth answer, not Express's HTML error page.
  router.use((err: Error & { status?: number }, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    oauthError(res, err.status && err.status < 500 ? err.status : 400, 'invalid_request', 'The request body is not a form or JSON object');
  });

  return router;
}
