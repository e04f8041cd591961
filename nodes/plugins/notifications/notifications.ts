import express, { type Request } from 'express';
import type { NodeAPI } from 'node-red';
import { DELIVERY_STATUSES } from '../../../runtime/notify/delivery';
import { deliveryView, endpointView, subscriptionView } from '../../../runtime/notify/views';
import { platformOf } from '../../lib/common';
import { adminRoute, statusQuery, type AdminHandler } from '../admin-routes';


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
  const route = (handler: AdminHandler) => adminRoute(RED, 'notifications', handler);
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
      const { status, limit } = statusQuery(req.query, DELIVERY_STATUSES);
      const page = notify().listDeliveries({ status }, null, limit);
      return [200, { items: page.items.map((d) => deliveryView(d)), next: page.next }];
    }),
  );
  RED.httpAdmin.post(`${base}/deliveries/:id/resend`, write, route(async (req) => [202, deliveryView(await notify().resend(req.params.id))]));

};
