import { Router } from 'express';
import type { Platform } from '../../index';
import { errorCatalog } from '../../errors';
import { openApiDocument } from '../openapi';

/** Public, unauthenticated endpoints: they reveal nothing about devices or data. */
export function metaRoutes(_platform: Platform): Router {
  const router = Router();
  const document = openApiDocument();

  router.get('/errors', (_req, res) => {
    res.json({ items: errorCatalog() });
  });
  router.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  return router;
}
