import { Router } from 'express';
import type { Platform } from '../../index';
import { jsonBody, rawJsonBody, route } from '../http';
import { validBody, validQuery } from '../validate';
import { channelPatchSchema, historyQuerySchema } from '../schemas';
import { requireUser, requireUserOrDevice } from '../auth';
import { countIngest } from '../count-ingest';
import { aggregateView, channelView, messageView, publishedView } from '../../channels/views';
import type { HistoryQuery, RetentionOverrides } from '../../channels/service';

export function channelRoutes(platform: Platform): Router {
  const router = Router();
  const { channels } = platform;
  const user = requireUser(platform);
  const counted = countIngest(platform.metrics.ingest);
  const base = '/devices/:id/channels/:channel';

  router.get(
    '/devices/:id/channels',
    user,
    route((req, res) => {
      res.json({ items: channels.list(req.params.id).map(channelView) });
    }),
  );

  router.get(
    base,
    user,
    route((req, res) => {
      res.json(channelView(channels.get(req.params.id, req.params.channel)));
    }),
  );

  router.patch(
    base,
    user,
    ...jsonBody(),
    route(async (req, res) => {
      const body = validBody<{ retention: RetentionOverrides }>(req, channelPatchSchema);
      res.json(channelView(await channels.setRetention(req.params.id, req.params.channel, body.retention)));
    }),
  );

  router.post(
    `${base}/messages`,
    requireUserOrDevice(platform),
    counted,
    ...rawJsonBody(platform.options.ingest.maxPayloadBytes),
    route(async (req, res) => {
      const result = await channels.publishRaw(req.params.id, req.params.channel, req.body as Buffer);
      res.status(201).json(publishedView(result));
    }),
  );

  router.get(
    `${base}/messages`,
    user,
    route(async (req, res) => {
      const q = validQuery<HistoryQuery>(req, historyQuerySchema);
      const page = await channels.history(req.params.id, req.params.channel, q);
      res.json({ items: page.items.map(messageView), next: page.next });
    }),
  );

  router.get(
    `${base}/aggregate`,
    user,
    route((req, res) => {
      res.json(aggregateView(channels.aggregate(req.params.id, req.params.channel)));
    }),
  );

  // A merge patch of the aggregate is a message like any other, so history records it.
  router.patch(
    `${base}/aggregate`,
    user,
    counted,
    ...rawJsonBody(platform.options.ingest.maxPayloadBytes),
    route(async (req, res) => {
      const result = await channels.publishRaw(req.params.id, req.params.channel, req.body as Buffer);
      res.json(aggregateView(result.aggregate));
    }),
  );

  return router;
}
