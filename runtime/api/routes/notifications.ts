import { Router, type Request } from 'express';
import type { Platform } from '../../index';
import { Errors } from '../../errors';
import { jsonBody, optionalJsonBody, route } from '../http';
import { validBody, validQuery } from '../validate';
import { deliveryListQuerySchema, pushSubscribeSchema } from '../schemas';
import { requireUser, type Principal } from '../auth';
import { deliveryView, endpointView, subscriptionView } from '../../notify/views';
import type { DeliveryStatus } from '../../notify/delivery';

/** Notifications: endpoints, subscriptions, deliveries (and the dead-letter list), push opt-in. */
export function notificationRoutes(platform: Platform): Router {
  const router = Router();
  const { notify } = platform;
  router.use('/notifications', requireUser(platform));
  const username = (locals: Record<string, unknown>) => (locals.principal as Extract<Principal, { kind: 'user' }>).username;

  // ---- endpoints
  router.get(
    '/notifications/endpoints',
    route((req, res) => {
      const type = typeof req.query.type === 'string' ? req.query.type : undefined;
      res.json({ items: notify.listEndpoints({ type }).map(endpointView) });
    }),
  );
  router.post(
    '/notifications/endpoints',
    ...jsonBody(),
    route(async (req, res) => {
      const { endpoint, generatedSecret } = await notify.createEndpoint(req.body);
      const body = { ...endpointView(endpoint), ...(generatedSecret ? { secret: generatedSecret } : {}) };
      res.status(201).location(`${req.baseUrl}/notifications/endpoints/${endpoint.id}`).json(body);
    }),
  );
  router.get(
    '/notifications/endpoints/:id',
    route((req, res) => {
      res.json(endpointView(notify.getEndpoint(req.params.id)));
    }),
  );
  router.patch(
    '/notifications/endpoints/:id',
    ...jsonBody(),
    route(async (req, res) => {
      res.json(endpointView(await notify.updateEndpoint(req.params.id, req.body)));
    }),
  );
  router.delete(
    '/notifications/endpoints/:id',
    route(async (req, res) => {
      await notify.removeEndpoint(req.params.id);
      res.status(204).end();
    }),
  );
  router.post(
    '/notifications/endpoints/:id/test',
    ...optionalJsonBody(),
    route(async (req, res) => {
      res.status(202).json(deliveryView(await notify.test(req.params.id, username(res.locals))));
    }),
  );

  // ---- web push opt-in (the page at /notify/subscribe uses these)
  router.get(
    '/notifications/push/key',
    route((_req, res) => {
      res.json({ publicKey: notify.vapidPublicKey() });
    }),
  );
  router.post(
    '/notifications/push/subscriptions',
    ...jsonBody(),
    route(async (req, res) => {
      if (typeof req.body?.subscription !== 'object' || req.body.subscription === null) {
        throw Errors.INVALID_PUSH_SUBSCRIPTION('/subscription must be the PushSubscription from the browser (subscription.toJSON())', { errors: [{ path: '/subscription', message: 'is required' }] });
      }
      const { subscription, name } = validBody<{ subscription: unknown; name?: string }>(req, pushSubscribeSchema);
      const userAgent = typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'] : null;
      const endpoint = await notify.subscribePush(username(res.locals), subscription, name, userAgent);
      res.status(201).location(`${req.baseUrl}/notifications/endpoints/${endpoint.id}`).json(endpointView(endpoint));
    }),
  );

  // ---- subscriptions
  router.get(
    '/notifications/subscriptions',
    route((_req, res) => {
      res.json({ items: notify.listSubscriptions().map(subscriptionView) });
    }),
  );
  router.post(
    '/notifications/subscriptions',
    ...jsonBody(),
    route(async (req, res) => {
      const sub = await notify.createSubscription(req.body);
      res.status(201).location(`${req.baseUrl}/notifications/subscriptions/${sub.id}`).json(subscriptionView(sub));
    }),
  );
  router.get(
    '/notifications/subscriptions/:id',
    route((req, res) => {
      res.json(subscriptionView(notify.getSubscription(req.params.id)));
    }),
  );
  router.patch(
    '/notifications/subscriptions/:id',
    ...jsonBody(),
    route(async (req, res) => {
      res.json(subscriptionView(await notify.updateSubscription(req.params.id, req.body)));
    }),
  );
  router.delete(
    '/notifications/subscriptions/:id',
    route(async (req, res) => {
      await notify.removeSubscription(req.params.id);
      res.status(204).end();
    }),
  );

  // ---- sending and custom events
  router.post(
    '/notifications/send',
    ...jsonBody(),
    route(async (req, res) => {
      const deliveries = await notify.send(req.body, 'api');
      res.status(202).json({ items: deliveries.map((d) => deliveryView(d)) });
    }),
  );
  router.post(
    '/notifications/events',
    ...jsonBody(),
    route((req, res) => {
      res.status(202).json({ id: notify.emitCustom(req.body) });
    }),
  );

  // ---- deliveries and the dead-letter list
  router.get(
    '/notifications/deliveries',
    route((req, res) => {
      const q = validQuery<{ status?: string; endpoint?: string; subscription?: string; event?: string; device?: string; since?: string; until?: string; before?: string; limit?: number }>(req, deliveryListQuerySchema);
      const page = notify.listDeliveries(
        {
          status: q.status?.split(',') as DeliveryStatus[] | undefined,
          endpoint: q.endpoint,
          subscription: q.subscription,
          event: q.event,
          device: q.device,
          since: time(q.since, 'since'),
          until: time(q.until, 'until'),
        },
        q.before ?? null,
        q.limit ?? 100,
      );
      res.json({ items: page.items.map((d) => deliveryView(d)), next: page.next });
    }),
  );
  router.get(
    '/notifications/deliveries/:id',
    route((req, res) => {
      res.json(deliveryView(notify.getDelivery(req.params.id), true));
    }),
  );
  router.post(
    '/notifications/deliveries/:id/resend',
    ...optionalJsonBody(),
    route(async (req: Request, res) => {
      res.status(202).json(deliveryView(await notify.resend(req.params.id)));
    }),
  );

  return router;
}

/** An ISO 8601 time or ms since the epoch. */
function time(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) throw Errors.INVALID_QUERY(`${name} must be an ISO 8601 time or ms since the epoch`, { errors: [{ path: `/${name}`, message: 'is not a time' }] });
  return ms;
}
