import type { Request } from 'express';
import busboy from 'busboy';
import type { Platform } from '../index';
import { Errors } from '../errors';
import type { Artifact, ArtifactMeta } from '../ota/artifacts';

/**
 * An artifact from a multipart/form-data body: the fields name, version, models (comma-separated
 * or repeated) and notes, then one file part, which is streamed to the artifact store (never held
 * in memory). Used by `POST /api/v1/ota/artifacts` and the editor's OTA sidebar.
 */
export function multipartUpload(platform: Platform, req: Request): Promise<Artifact> {
  const { artifacts } = platform.ota;
  if (!/^multipart\/form-data/i.test(req.headers['content-type'] ?? '')) {
    return Promise.reject(Errors.BAD_REQUEST('Send the artifact as multipart/form-data: the fields name, version, models and notes, then the file'));
  }
  try {
    refuseDeclaredOversize(platform, req);
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise<Artifact>((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { files: 1, fields: 16, fieldSize: 16 * 1024 } });
    } catch (err) {
      return reject(Errors.BAD_REQUEST(`Cannot read the multipart body: ${(err as Error).message}`));
    }
    const meta: ArtifactMeta & { models?: string[] } = {};
    let file: NodeJS.ReadableStream | null = null;
    parser.on('field', (name, value) => {
      if (name === 'models') meta.models = [...(meta.models ?? []), ...value.split(',').map((m) => m.trim()).filter(Boolean)];
      else if (name === 'name' || name === 'version' || name === 'notes') meta[name] = value;
    });
    parser.on('file', (_field, stream) => {
      if (file) return stream.resume();
      file = stream;
      artifacts.upload(meta, stream).then(resolve, (err) => {
        stream.resume();
        reject(err);
      });
    });
    parser.on('error', (err) => {
      const error = Errors.BAD_REQUEST(`Cannot read the multipart body: ${(err as Error).message}`);
      // The store is still reading the file part: end it with the error, so no partial file is kept.
      (file as unknown as { destroy?: (e: Error) => void } | null)?.destroy?.(error);
      reject(error);
    });
    parser.on('close', () => {
      if (!file) reject(Errors.ARTIFACT_EMPTY('The form has no file part; send the fields first, then the file'));
    });
    // A browser that goes away mid-upload: the file part would otherwise never end.
    req.on('close', () => {
      if (!req.complete) (file as unknown as { destroy?: (e: Error) => void } | null)?.destroy?.(Errors.BAD_REQUEST('The upload was cut short'));
    });
    req.pipe(parser);
  });
}

/** The body is the file; the metadata is in the query string (`?name=&version=&models=a,b&notes=`). */
export async function rawUpload(platform: Platform, req: Request): Promise<Artifact> {
  const { artifacts } = platform.ota;
  const meta: ArtifactMeta = { name: req.query.name, version: req.query.version, models: req.query.models, notes: req.query.notes };
  artifacts.checkMeta(meta);
  refuseDeclaredOversize(platform, req);
  return artifacts.upload(meta, req);
}

/** A Content-Length over the limit is refused before a byte is read. */
function refuseDeclaredOversize(platform: Platform, req: Request): void {
  const declared = Number(req.headers['content-length']);
  const limit = platform.options.ota.maxArtifactBytes;
  if (Number.isFinite(declared) && declared > limit + 64 * 1024) throw Errors.ARTIFACT_TOO_LARGE(`Artifacts may be at most ${limit} bytes (FIELDFLOW_OTA_MAX_ARTIFACT_BYTES)`);
}
