import express, { type Request } from 'express';
import type { NodeAPI } from 'node-red';
import { multipartUpload } from '../../../runtime/api/artifact-upload';
import { ROLLOUT_STATUSES } from '../../../runtime/ota/rollout-model';
import { artifactView, fleetView } from '../../../runtime/ota/views';
import { platformOf } from '../../lib/common';
import { adminRoute, statusQuery, type AdminHandler } from '../admin-routes';

type EditorRequest = Request & { user?: { username?: string } };

/**
 * The runtime half of the editor's OTA sidebar (the .html beside this file is the editor half):
 * admin routes under /fieldflow/ota on Node-RED's admin API, so they need the editor's login.
 * They call the same OtaService as /api/v1/ota and answer with the same views; the `ota rollout`
 * and `ota in` dialogs use the list routes for their pickers.
 */
export = function register(RED: NodeAPI) {
  RED.plugins.registerPlugin('fieldflow-ota', { type: 'fieldflow-sidebar' });

  const read = RED.auth.needsPermission('flows.read');
  const write = RED.auth.needsPermission('flows.write');
  const base = '/fieldflow/ota';
  const route = (handler: AdminHandler) => adminRoute(RED, 'OTA', handler);
  const ota = () => platformOf(RED).ota;
  const who = (req: Request) => `user:${(req as EditorRequest).user?.username ?? 'editor'}`;

  RED.httpAdmin.get(`${base}/artifacts`, read, route(() => [200, { items: ota().artifacts.list().map(artifactView) }]));
  RED.httpAdmin.post(`${base}/artifacts`, write, route(async (req) => [201, artifactView(await multipartUpload(platformOf(RED), req))]));
  RED.httpAdmin.delete(
    `${base}/artifacts/:id`,
    write,
    route(async (req) => {
      await ota().artifacts.remove(req.params.id);
      return [204, null];
    }),
  );
  RED.httpAdmin.get(
    `${base}/fleets`,
    read,
    route(() => {
      const { fleets } = ota();
      // How many devices a rollout would reach now: the sidebar and the node dialog show it beside the name.
      return [200, { items: fleets.list().map((f) => ({ ...fleetView(f), members: fleets.members(f).length })) }];
    }),
  );
  RED.httpAdmin.get(
    `${base}/rollouts`,
    read,
    route((req) => {
      const { status, limit } = statusQuery(req.query, ROLLOUT_STATUSES);
      const { rollouts } = ota();
      const items = rollouts.list().filter((r) => !status || status.includes(r.status));
      return [200, { items: items.slice(0, limit).map((r) => rollouts.view(r)), more: items.length > limit }];
    }),
  );
  RED.httpAdmin.post(
    `${base}/rollouts`,
    write,
    express.json(),
    route(async (req) => {
      const { rollouts } = ota();
      return [201, rollouts.view(await rollouts.create(req.body, who(req)))];
    }),
  );
  for (const action of ['pause', 'resume', 'cancel'] as const) {
    RED.httpAdmin.post(
      `${base}/rollouts/:id/${action}`,
      write,
      route(async (req) => {
        const { rollouts } = ota();
        return [200, rollouts.view(await rollouts[action](req.params.id))];
      }),
    );
  }

};
