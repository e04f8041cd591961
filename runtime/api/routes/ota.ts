import { Router, type Request } from 'express';
import busboy from 'busboy';
import type { Platform } from '../../index';
import { Errors } from '../../errors';
import { jsonBody, route } from '../http';
import { requireUser } from '../auth';
import { artifactView, fleetView } from '../../ota/views';
import { deviceView } from '../../devices/views';
import type { Artifact, ArtifactMeta } from '../../ota/artifacts';
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

/** The body is the file; the metadata is in the query string (`?name=&version=&models=a,b&notes=`). */
async function rawUpload(platform: Platform, req: Request): Promise<Artifact> {
  const { artifacts } = platform.ota;
  const meta: ArtifactMeta = { name: req.query.name, version: req.query.version, models: req.query.models, notes: req.query.notes };
  artifacts.checkMeta(meta);
  refuseDeclaredOversize(platform, req);
  return artifacts.upload(meta, req);
}

/** multipart/form-data: the fields name, version, models (comma-separated or repeated), notes, then one file part. */
function multipartUpload(platform: Platform, req: Request): Promise<Artifact> {
  const { artifacts } = platform.ota;
  refuseDeclaredOversize(platform, req);
  return new Promise<Artifact>((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { files: 1, fields: 16, fieldSize: 16 * 1024 } });
    } catch (err) {
      return reject(Errors.BAD_REQUEST(`Cannot read the multipart body: ${(err as Error).message}`));
    }
    const meta: ArtifactMeta & { models?: string[] } = {};
    let started = false;
    parser.on('field', (name, value) => {
      if (name === 'models') meta.models = [...((meta.models as string[] | undefined) ?? []), ...value.split(',').map((m) => m.trim()).filter(Boolean)];
      else if (name === 'name' || name === 'version' || name === 'notes') meta[name] = value;
    });
    parser.on('file', (_field, stream) => {
      started = true;
      artifacts.upload(meta, stream).then(resolve, (err) => {
        stream.resume();
        reject(err);
      });
    });
    parser.on('error', (err) => reject(Errors.BAD_REQUEST(`Cannot read the multipart body: ${(err as Error).message}`)));
    parser.on('close', () => {
      if (!started) reject(Errors.ARTIFACT_EMPTY('The form has no file part; send the fields first, then the file'));
    });
    req.pipe(parser);
  });
}

/** A Content-Length over the limit is refused before a byte is read. */
function refuseDeclaredOversize(platform: Platform, req: Request): void {
  const declared = Number(req.headers['content-length']);
  const limit = platform.options.ota.maxArtifactBytes;
  if (Number.isFinite(declared) && declared > limit + 64 * 1024) throw Errors.ARTIFACT_TOO_LARGE(`Artifacts may be at most ${limit} bytes (FIELDFLOW_OTA_MAX_ARTIFACT_BYTES)`);
}
