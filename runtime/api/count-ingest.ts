import type { RequestHandler } from 'express';
import type { IngestMeter } from '../metrics';
import { Errors } from '../errors';

/**
 * Count a message request's outcome once its response is sent: stored on a 2xx, otherwise refused
 * with the problem's catalog code. Goes after authentication, so requests without a valid token
 * are not counted as messages.
 */
export function countIngest(meter: IngestMeter): RequestHandler {
  return (_req, res, next) => {
    res.once('finish', () => {
      if (res.statusCode < 300) meter.stored('http');
      else meter.refused('http', typeof res.locals.problemCode === 'string' ? res.locals.problemCode : Errors.INTERNAL.code);
    });
    next();
  };
}
