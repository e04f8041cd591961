import { Router } from 'express';
import type { Platform } from '../../index';
import { jsonBody, route } from '../http';
import { requireUser } from '../auth';
import { modelView } from '../../devices/model-views';
import { MAX_CONFIG_SCHEMA_BYTES } from '../../devices/models';

/**
 * Twice the schema limit: a pretty-printed body with a schema just under the limit still reaches
 * the service, which names the limit that matters (64 KiB of compact JSON) at /configSchema.
 */
const BODY_LIMIT = `${(2 * MAX_CONFIG_SCHEMA_BYTES) / 1024}kb`;

/** Device models (docs/models.md). The service validates the bodies: check() is shared with flow packs. */
export function modelRoutes(platform: Platform): Router {
  const router = Router();
  const { models } = platform;
  router.use('/models', requireUser(platform));

  router.get(
    '/models',
    route((_req, res) => {
      res.json({ items: models.list().map(modelView) });
    }),
  );

  router.post(
    '/models',
    ...jsonBody(BODY_LIMIT),
    route(async (req, res) => {
      const model = await models.create(req.body);
      res.status(201).location(`${req.baseUrl}/models/${encodeURIComponent(model.name)}`).json(modelView(model));
    }),
  );

  router.get(
    '/models/:name',
    route((req, res) => {
      res.json(modelView(models.get(req.params.name)));
    }),
  );

  router.put(
    '/models/:name',
    ...jsonBody(BODY_LIMIT),
    route(async (req, res) => {
      res.json(modelView(await models.update(req.params.name, req.body)));
    }),
  );

  router.delete(
    '/models/:name',
    route(async (req, res) => {
      await models.remove(req.params.name);
      res.status(204).end();
    }),
  );

  return router;
}
