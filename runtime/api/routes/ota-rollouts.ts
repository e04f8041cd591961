import { Router } from 'express';
import type { Platform } from '../../index';
import { Errors } from '../../errors';
import { jsonBody, route } from '../http';
import { requireUser, requireUserOrDevice, type Principal } from '../auth';
import { updateView } from '../../ota/views';
import { ROLLOUT_STATUSES, UPDATE_STATES, type UpdateState } from '../../ota/rollout-model';
import { sendArtifact } from './ota-download';

/** Rollouts over REST, and the device-side artifact download. */
export function rolloutRoutes(platform: Platform): Router {
  const router = Router();
  const { rollouts } = platform.ota;
  const who = (locals: Record<string, unknown>) => `user:${(locals.principal as Extract<Principal, { kind: 'user' }>).username}`;
  router.use('/ota/rollouts', requireUser(platform));
  router.use('/ota/updates', requireUser(platform));

  router.get(
    '/ota/rollouts',
    route((req, res) => {
      const status = req.query.status;
      if (status !== undefined && !(ROLLOUT_STATUSES as readonly unknown[]).includes(status)) throw Errors.INVALID_QUERY(`status is one of ${ROLLOUT_STATUSES.join(', ')}`);
      res.json({ items: rollouts.list().filter((r) => !status || r.status === status).map((r) => rollouts.view(r)) });
    }),
  );
  router.post(
    '/ota/rollouts',
    ...jsonBody(),
    route(async (req, res) => {
      const r = await rollouts.create(req.body, who(res.locals));
      res.status(201).location(`${req.baseUrl}/ota/rollouts/${r.id}`).json(rollouts.view(r));
    }),
  );
  router.get(
    '/ota/rollouts/:id',
    route((req, res) => {
      res.json(rollouts.view(rollouts.get(req.params.id)));
    }),
  );
  for (const action of ['pause', 'resume', 'cancel'] as const) {
    router.post(
      `/ota/rollouts/:id/${action}`,
      route(async (req, res) => {
        res.json(rollouts.view(await rollouts[action](req.params.id)));
      }),
    );
  }
  router.get(
    '/ota/rollouts/:id/updates',
    route((req, res) => {
      const { state, limit, after } = req.query;
      if (state !== undefined && !(UPDATE_STATES as readonly unknown[]).includes(state)) throw Errors.INVALID_QUERY(`state is one of ${UPDATE_STATES.join(', ')}`);
      const n = limit === undefined ? 100 : Number(limit);
      if (!Number.isInteger(n) || n < 1 || n > 1000) throw Errors.INVALID_QUERY('limit is an integer from 1 to 1000');
      if (after !== undefined && typeof after !== 'string') throw Errors.INVALID_QUERY('after is an update id');
      const page = rollouts.updatesOf(req.params.id, { state: state as UpdateState | undefined, limit: n, after });
      res.json({ items: page.items.map(updateView), next: page.next });
    }),
  );
  router.get(
    '/ota/updates/:id',
    route((req, res) => {
      res.json(updateView(rollouts.getUpdate(req.params.id)));
    }),
  );

  // A device downloads the artifact of the update it was offered, with its own token.
  router.get(
    '/devices/:id/ota/artifacts/:artifactId',
    requireUserOrDevice(platform),
    route((req, res) => {
      const principal = res.locals.principal as Principal;
      if (principal.kind === 'device' && !rollouts.mayDownload(principal.deviceId, req.params.artifactId)) {
        throw Errors.FORBIDDEN('A device may download only the artifact of an update it has been offered and not finished');
      }
      sendArtifact(platform, platform.ota.artifacts.get(req.params.artifactId), req, res);
    }),
  );
  return router;
}
