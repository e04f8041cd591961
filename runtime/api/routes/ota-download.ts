import fs from 'node:fs';
import { pipeline } from 'node:stream';
import type { Request, Response } from 'express';
import type { Platform } from '../../index';
import { Errors } from '../../errors';
import type { Artifact } from '../../ota/artifacts';

/** The file, whole or one byte range (RFC 9110 §14), so an interrupted download resumes. */
export function sendArtifact(platform: Platform, artifact: Artifact, req: Request, res: Response): void {
  const size = artifact.size;
  let start = 0;
  let end = size - 1;
  const header = req.headers.range;
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('ETag', `"${artifact.sha256}"`);
  res.setHeader('Content-Type', 'application/octet-stream');
  res.setHeader('Digest', `sha-256=${Buffer.from(artifact.sha256, 'hex').toString('base64')}`);
  if (header && (!req.headers['if-range'] || req.headers['if-range'] === `"${artifact.sha256}"`)) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
    if (m && (m[1] !== '' || m[2] !== '')) {
      if (m[1] === '') {
        start = Math.max(0, size - Number(m[2]));
      } else {
        start = Number(m[1]);
        if (m[2] !== '') end = Math.min(end, Number(m[2]));
      }
    }
    if (!m || (m[1] === '' && m[2] === '') || start >= size || start > end) {
      res.setHeader('Content-Range', `bytes */${size}`);
      throw Errors.RANGE_NOT_SATISFIABLE(`The artifact has ${size} bytes; ask for a range within them (bytes=<first>-<last>)`);
    }
    res.status(206).setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
  }
  res.setHeader('Content-Length', String(end - start + 1));
  // pipeline, not pipe: a client that goes away mid-download must close the file too, or every cut
  // download would keep a descriptor (and a deleted artifact's disk space) for good.
  pipeline(fs.createReadStream(platform.ota.artifacts.file(artifact.id), { start, end }), res, () => undefined);
}
