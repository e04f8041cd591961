import { Router } from 'express';
import type { Platform } from '../../index';
import { jsonBody, route } from '../http';
import { validBody } from '../validate';
import { loginSchema } from '../schemas';
import { bearerToken, requireUser, type Principal } from '../auth';

export function authRoutes(platform: Platform): Router {
  const router = Router();

  router.post(
    '/auth/token',
    ...jsonBody(),
    route(async (req, res) => {
      const { username, password } = validBody<{ username: string; password: string }>(req, loginSchema);
      const issued = await platform.auth.login(username, password, req.ip ?? 'unknown');
      res.json({ token: issued.token, tokenType: 'Bearer', expiresAt: new Date(issued.expiresAt).toISOString() });
    }),
  );

  router.delete(
    '/auth/token',
    requireUser(platform),
    route(async (req, res) => {
      await platform.auth.revokeToken(bearerToken(req)!);
      res.status(204).end();
    }),
  );

  // Every session of the caller, the editor's included: for a token that may have leaked.
  router.delete(
    '/auth/tokens',
    requireUser(platform),
    route(async (_req, res) => {
      const revoked = await platform.auth.revokeAll((res.locals.principal as Extract<Principal, { kind: 'user' }>).username);
      res.json({ revoked });
    }),
  );

  return router;
}
