import { Router } from 'express';
import type { Platform } from '../../index';
import { Errors } from '../../errors';
import { jsonBody, route } from '../http';
import { requireUser } from '../auth';
import { artifactView, fleetView } from '../../ota/views';
import { deviceView } from '../../devices/views';
import { multipartUpload, rawUpload } from '../artifact-upload';
import { sendArtifact } from './ota-download';

/** OTA over REST. Artifact uploads are streamed to disk, never parsed into memory. */
export function otaRoutes(platform: Platform): Router {
  const router = Router();
  const { artifacts, fleets } = platform.ota;
  router.use('/ota', requireUser(platform));

  router.get(
    '/ota/signing-key',
    route((_req, res) => {
      const key = platform.ota.signingPublicKey();
      if (!key) throw Errors.NOT_FOUND('Artifacts are not signed: no FIELDFLOW_OTA_SIGNING_KEY is configured');
      res.json({ algorithm: 'Ed25519', publicKey: key, signs: 'JSON.stringify({version, sha256, size}) of the artifact' });
    }),
  );

  router.get(
    '/ota/fleets',
    route((_req, res) => {
      res.json({ items: fleets.list().map(fleetView) });
    }),
  );
  router.post(
    '/ota/fleets',
    ...jsonBody(),
    route(async (req, res) => {
      const fleet = await fleets.create(req.body);
      res.status(201).location(`${req.baseUrl}/ota/fleets/${fleet.id}`).json(fleetView(fleet));
    }),
  );
  router.get(
    '/ota/fleets/:id',
    route((req, res) => {
      res.json(fleetView(fleets.get(req.params.id)));
    }),
  );
  router.patch(
    '/ota/fleets/:id',
    ...jsonBody(),
    route(async (req, res) => {
      res.json(fleetView(await fleets.update(req.params.id, req.body)));
    }),
  );
  router.delete(
    '/ota/fleets/:id',
    route(async (req, res) => {
      await fleets.remove(req.params.id);
      res.status(204).end();
    }),
  );
  router.get(
    '/ota/fleets/:id/devices',
    route((req, res) => {
      res.json({ items: fleets.members(fleets.get(req.params.id)).map(deviceView) });
    }),
  );

  router.get(
    '/ota/artifacts',
    route((_req, res) => {
      res.json({ items: artifacts.list().map(artifactView) });
    }),
  );

  router.post(
    '/ota/artifacts',
    route(async (req, res) => {
      const artifact = /^multipart\/form-data/i.test(req.headers['content-type'] ?? '') ? await multipartUpload(platform, req) : await rawUpload(platform, req);
      res.status(201).location(`${req.baseUrl}/ota/artifacts/${artifact.id}`).json(artifactView(artifact));
    }),
  );

  router.get(
    '/ota/artifacts/:id',
    route((req, res) => {
      res.json(artifactView(artifacts.get(req.params.id)));
    }),
  );

  router.delete(
    '/ota/artifacts/:id',
    route(async (req, res) => {
      await artifacts.remove(req.params.id);
      res.status(204).end();
    }),
  );

  router.get(
    '/ota/artifacts/:id/download',
    route((req, res) => sendArtifact(platform, platform.ota.artifacts.get(req.params.id), req, res)),
  );

  return router;
}
