import { Router } from 'express';
import type { Platform } from '../../index';
import { jsonBody, rawJsonBody, route } from '../http';
import { validBody } from '../validate';
import { tagTypesPatchSchema } from '../schemas';
import { requireUser, requireUserOrDevice } from '../auth';
import { countIngest } from '../count-ingest';
import { tagSetView } from '../../tags/views';
import type { TagType } from '../../tags/service';

export function tagRoutes(platform: Platform): Router {
  const router = Router();
  const { tags } = platform;
  const user = requireUser(platform);

  router.get(
    '/devices/:id/tags',
    user,
    route((req, res) => {
      res.json(tags.all(req.params.id));
    }),
  );

  router.get(
    '/devices/:id/tags/:appKey',
    requireUserOrDevice(platform),
    route((req, res) => {
      res.json(tagSetView(tags.get(req.params.id, req.params.appKey)));
    }),
  );

  // The same commit as MQTT devices/{id}/tags/{appKey}: one message on tag_values.
  router.patch(
    '/devices/:id/tags/:appKey',
    requireUserOrDevice(platform),
    countIngest(platform.metrics.ingest),
    ...rawJsonBody(platform.options.ingest.maxPayloadBytes),
    route(async (req, res) => {
      const result = await tags.commitRaw(req.params.id, req.params.appKey, req.body as Buffer);
      res.json({ ...tagSetView(result), messageId: result.messageId });
    }),
  );

  router.get(
    '/tags/:appKey/types',
    user,
    route((req, res) => {
      res.json({ appKey: req.params.appKey, types: tags.types(req.params.appKey) });
    }),
  );

  router.patch(
    '/tags/:appKey/types',
    user,
    ...jsonBody(),
    route(async (req, res) => {
      const patch = validBody<Record<string, TagType | null>>(req, tagTypesPatchSchema);
      res.json({ appKey: req.params.appKey, types: await tags.declare(req.params.appKey, patch) });
    }),
  );

  return router;
}
