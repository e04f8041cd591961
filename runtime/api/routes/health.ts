import { Router } from 'express';
import type { Platform } from '../../index';
import { Errors } from '../../errors';
import { sendProblem } from '../problem';

/** Paths that answer while the server is starting or stopping (everything else gets 503). */
export const HEALTH_PATHS: readonly string[] = ['/health', '/health/live', '/health/ready'];

/**
 * Liveness and readiness, unauthenticated: probes and load balancers call them without tokens.
 * They reveal the lifecycle phase and which checks fail, never data, paths or secrets.
 */
export function healthRoutes(platform: Platform): Router {
  const router = Router();

  // Liveness: the process answers HTTP. Restarting it would not fix a failing readiness check (a
  // full disk, a slow start), so this never depends on them. GET /health is its older name.
  router.get(['/health', '/health/live'], (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json({ status: 'ok', phase: platform.phase });
  });

  router.get('/health/ready', (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    const { ready, checks } = platform.health.readiness();
    if (ready) {
      res.json({ status: 'ready', checks });
      return;
    }
    const failing = checks.filter((c) => !c.ok).map((c) => c.name);
    sendProblem(res, Errors.NOT_READY(`Failing checks: ${failing.join(', ')}`), req.originalUrl.split('?')[0], { failing, checks });
  });
  return router;
}
