import { Router } from 'express';
import type { Platform } from '../index';
import { Errors } from '../errors';
import { errorHandler } from './problem';
import { authRoutes } from './routes/auth';
import { deviceRoutes } from './routes/devices';
import { deviceConfigRoutes } from './routes/device-config';
import { modelRoutes } from './routes/models';
import { channelRoutes } from './routes/channels';
import { metaRoutes } from './routes/meta';
import { healthRoutes } from './routes/health';
import { tagRoutes } from './routes/tags';
import { triggerRoutes } from './routes/triggers';
import { alarmRoutes } from './routes/alarms';
import { scheduleRoutes } from './routes/schedules';
import { notificationRoutes } from './routes/notifications';
import { otaRoutes } from './routes/ota';
import { rolloutRoutes } from './routes/ota-rollouts';
import { packRoutes } from './routes/packs';

/** The REST API, mounted at /api/v1. Every handler calls the platform facade and nothing else. */
export function createApiRouter(platform: Platform): Router {
  const router = Router();
  router.use((_req, res, next) => {
    // Responses can carry tokens; keep them out of caches.
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  router.use(healthRoutes(platform));
  router.use(metaRoutes(platform));
  router.use(authRoutes(platform));
  router.use(channelRoutes(platform));
  router.use(tagRoutes(platform));
  // Before deviceRoutes: a device token may download its offered artifact under /devices/{id}.
  router.use(rolloutRoutes(platform));
  router.use(deviceRoutes(platform));
  router.use(deviceConfigRoutes(platform));
  router.use(modelRoutes(platform));
  router.use(triggerRoutes(platform));
  router.use(alarmRoutes(platform));
  router.use(scheduleRoutes(platform));
  router.use(notificationRoutes(platform));
  router.use(otaRoutes(platform));
  router.use(packRoutes(platform));
  router.use((req, _res, next) => next(Errors.NOT_FOUND(`No route for ${req.method} ${req.originalUrl.split('?')[0]}`)));
  router.use(errorHandler(platform.log));
  return router;
}
