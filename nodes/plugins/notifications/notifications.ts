import express, { type Request, type Response } from 'express';
import type { NodeAPI } from 'node-red';
import { Errors, isFieldflowError } from '../../../runtime/errors';
import { DELIVERY_STATUSES, type DeliveryStatus } from '../../../runtime/notify/delivery';
import { deliveryView, endpointView, subscriptionView } from '../../../runtime/notify/views';
import { platformOf } from '../../lib/common';

/** Dead letters the sidebar lists at most. */
const MAX_LIMIT = 200;

type Handler = (req: Request) => Promise<[number, unknown]> | [number, unknown];

/**
 * The runtime half of the editor's Notifications sidebar (the .html beside this file is the
 * editor half): admin routes under /fieldflow/notifications on Node-RED's admin API, so they
 * need the editor's login. They call the same NotifyService as the REST API; the `notify` and
 * `notify in` dialogs use the list routes for their pickers.
 */
export = function register(RED: NodeAPI) {
  RED.plugins.registerPlugin('fieldflow-notifications', { type: 'fieldflow-sidebar' });

  const read = RED.auth.needsPermission('flows.read');
  const write = RED.auth.needsPermission('flows.write');
  const base = '/fieldflow/notifications';
  const notify = () => platformOf(RED).notify;

  RED.httpAdmin.get(`${base}/endpoints`, read, route(() => [200, { items: notify().listEndpoints().map(endpointView) }]));
  RED.httpAdmin.post(
    `${base}/endpoints`,
    write,
    express.json(),
    route(async (req) => {
      const { endpoint, generatedSecret } = await notify().createEndpoint(req.body);
      // A generated webhook secret exists in clear only in this answer: the sidebar shows it once.
      return [201, { ...endpointView(endpoint), ...(generatedSecret ? { secret: generatedSecret } : {}) }];
    }),
  );
  RED.httpAdmin.delete(
    `${base}/endpoints/:id`,
    write,
    route(async (req) => {
      await notify().removeEndpoint(req.params.id);
      return [204, null];
    }),
  );
  RED.httpAdmin.post(
    `${base}/endpoints/:id/test`,
    write,
    route(async (req) => {
      const user = (req as Request & { user?: { username?: string } }).user;
      return [202, deliveryView(await notify().test(req.params.id, user?.username ?? 'the editor'))];
    }),
  );
  RED.httpAdmin.get(`${base}/subscriptions`, read, route(() => [200, { items: notify().listSubscriptions().map(subscriptionView) }]));
  RED.httpAdmin.get(
    `${base}/deliveries`,
    read,
    route((req) => {
      const { status, limit } = deliveryQuery(req.query);
      const page = notify().listDeliveries({ status }, null, limit);
      return [200, { items: page.items.map((d) => deliveryView(d)), next: page.next }];
    }),
  );
  RED.httpAdmin.post(`${base}/deliveries/:id/resend`, write, route(async (req) => [202, deliveryView(await notify().resend(req.params.id))]));

  /** Answers with the handler's result, or a catalog error as `{code, detail, errors}` with its status. */
  function route(handler: Handler) {
    return (req: Request, res: Response) => {
      Promise.resolve()
        .then(() => handler(req))
        .then(
          ([status, body]) => (status === 204 ? res.status(204).end() : res.status(status).json(body)),
          (err: Error) => {
            if (isFieldflowError(err) && err.status < 500) {
              res.status(err.status).json({ code: err.code, detail: err.message, errors: err.errors ?? [] });
            } else {
              RED.log.error(`notifications admin route ${req.method} ${req.path} failed: ${err.message}`);
              res.status(500).json({ code: Errors.INTERNAL.code, detail: 'The request failed; the server log has the reason', errors: [] });
            }
          },
        );
    };
  }
};

/** `?status=dead,queued&limit=50`: statuses from the delivery lifecycle, limit 1-200 (default 50). */
function deliveryQuery(query: Request['query']): { status: DeliveryStatus[] | undefined; limit: number } {
  const errors: Array<{ path: string; message: string }> = [];
  let status: DeliveryStatus[] | undefined;
  if (query.status !== undefined) {
    status = String(query.status).split(',') as DeliveryStatus[];
    if (status.some((s) => !(DELIVERY_STATUSES as readonly string[]).includes(s))) errors.push({ path: '/status', message: `must be a comma-separated list of ${DELIVERY_STATUSES.join(', ')}` });
  }
  const limit = query.limit === undefined ? 50 : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) errors.push({ path: '/limit', message: `must be an integer from 1 to ${MAX_LIMIT}` });
  if (errors.length) throw Errors.INVALID_QUERY(errors.map((e) => `${e.path} ${e.message}`).join('; '), { errors });
  return { status, limit };
}
