import { Router, type RequestHandler } from 'express';
import type { Platform } from '../../index';
import { Errors } from '../../errors';
import { requireUser } from '../auth';
import { route } from '../http';
import { errorHandler } from '../problem';

export interface MetricsRouteOptions {
  /** Serve without a token (FIELDFLOW_METRICS_PUBLIC=true): for a scraper on a trusted network. */
  public: boolean;
}

/**
 * `GET /metrics` in the Prometheus text format, on the HTTP port beside the API. It needs a REST API
 * user token (Bearer), like the API, unless the metrics are public.
 */
export function metricsRoutes(platform: Platform, options: MetricsRouteOptions): Router {
  const router = Router();
  const user = requireUser(platform);
  const authorize: RequestHandler = (req, res, next) => {
    if (options.public) return next();
    // Tokens are loaded during start: until then every token would look unknown.
    if (platform.phase === 'created' || platform.phase === 'starting') {
      return next(Errors.UNAVAILABLE('Fieldflow is starting; metrics need a token, which can be checked once it runs', { headers: { 'Retry-After': '5' } }));
    }
    user(req, res, next);
  };
  router.get(
    '/metrics',
    authorize,
    route(async (_req, res) => {
      const text = await platform.metrics.render();
      res.setHeader('Cache-Control', 'no-store');
      res.type(platform.metrics.contentType).send(text);
    }),
  );
  router.use(errorHandler(platform.log));
  return router;
}
