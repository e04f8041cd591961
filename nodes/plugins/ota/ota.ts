import express, { type Request, type Response } from 'express';
import type { NodeAPI } from 'node-red';
import type { Platform } from '../../../runtime';
import { Errors, isFieldflowError } from '../../../runtime/errors';
import { multipartUpload } from '../../../runtime/api/artifact-upload';
import type { RolloutStatus } from '../../../runtime/ota/rollout-model';
import { artifactView, fleetView } from '../../../runtime/ota/views';
import { platformOf } from '../../lib/common';

/** Rollouts the sidebar lists at most. */
const MAX_LIMIT = 200;
const STATUSES: readonly RolloutStatus[] = ['scheduled', 'running', 'paused', 'halted', 'cancelled', 'completed'];

type Handler = (req: Request) => Promise<[number, unknown]> | [number, unknown];
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
      const { status, limit } = rolloutQuery(req.query);
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

  /** Answers with the handler's result, or a catalog error as `{code, detail, errors}` with its status. */
  function route(handler: Handler) {
    return (req: Request, res: Response) => {
      Promise.resolve()
        .then(() => handler(req))
        .then(
          ([status, body]) => (status === 204 ? res.status(204).end() : res.status(status).json(body)),
          (err: Error) => {
            if (res.headersSent) return;
            if (isFieldflowError(err) && err.status < 500) {
              res.status(err.status).json({ code: err.code, detail: err.message, errors: err.errors ?? [] });
            } else {
              RED.log.error(`OTA admin route ${req.method} ${req.path} failed: ${err.message}`);
              res.status(500).json({ code: Errors.INTERNAL.code, detail: 'The request failed; the server log has the reason', errors: [] });
            }
          },
        );
    };
  }
};

/** `?status=running,paused&limit=50`: rollout statuses, limit 1-200 (default 50). */
function rolloutQuery(query: Request['query']): { status: RolloutStatus[] | undefined; limit: number } {
  const errors: Array<{ path: string; message: string }> = [];
  let status: RolloutStatus[] | undefined;
  if (query.status !== undefined) {
    status = String(query.status).split(',') as RolloutStatus[];
    if (status.some((s) => !STATUSES.includes(s))) errors.push({ path: '/status', message: `must be a comma-separated list of ${STATUSES.join(', ')}` });
  }
  const limit = query.limit === undefined ? 50 : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) errors.push({ path: '/limit', message: `must be an integer from 1 to ${MAX_LIMIT}` });
  if (errors.length) throw Errors.INVALID_QUERY(errors.map((e) => `${e.path} ${e.message}`).join('; '), { errors });
  return { status, limit };
}
