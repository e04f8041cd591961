import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { Errors } from '../errors';
import { assertFiniteNumbers } from '../finite-numbers';

/** Express 4 does not forward rejected promises; this does. */
export function route(fn: (req: Request, res: Response) => Promise<void> | void): RequestHandler {
  return (req, res, next) => {
    Promise.resolve()
      .then(() => fn(req, res))
      .catch(next);
  };
}

/** True for application/json and any +json type (application/merge-patch+json and the like). */
export function isJson(req: Request): boolean {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

function requireJsonType(req: Request, _res: Response, next: NextFunction): void {
  if (!isJson(req)) {
    return next(Errors.UNSUPPORTED_MEDIA_TYPE(`Send the body as application/json; got ${req.headers['content-type'] ?? 'no Content-Type'}`));
  }
  next();
}

/**
 * A JSON value where a REST resource (an object) is expected is a body of the wrong shape, not
 * text that fails to parse, so it is FF_VALIDATION like any other schema failure. Arrays go on
 * to the endpoint's own validation, as before. A number JSON.parse turned into Infinity is
 * refused here too, before any endpoint stores it.
 */
function requireStructuredBody(req: Request, _res: Response, next: NextFunction): void {
  const body: unknown = req.body;
  if (typeof body !== 'object' || body === null) {
    const message = `must be a JSON object; got ${body === null ? 'null' : typeof body}`;
    return next(Errors.VALIDATION(`The body ${message}`, { errors: [{ path: '/', message }] }));
  }
  try {
    assertFiniteNumbers(body);
  } catch (err) {
    return next(err);
  }
  next();
}

/** A JSON request body parsed into req.body (objects only: these are REST resources). */
export function jsonBody(limit = '64kb'): RequestHandler[] {
  // Not strict: body-parser's strict mode reports a valid scalar as a parse failure.
  return [requireJsonType, express.json({ limit, type: () => true, strict: false }), requireStructuredBody];
}

/** The body as raw bytes in req.body, for message ingestion, which parses it itself. */
export function rawJsonBody(limitBytes: number): RequestHandler[] {
  return [requireJsonType, express.raw({ limit: limitBytes, type: () => true })];
}

/** For actions that need no body (ack, resend): when one is sent it must be JSON. */
export function optionalJsonBody(): RequestHandler[] {
  const [checkType, parse, check] = jsonBody();
  return [
    (req: Parameters<typeof checkType>[0], res: Parameters<typeof checkType>[1], next: Parameters<typeof checkType>[2]) => {
      if ((req.headers['content-length'] ?? '0') === '0' && !req.headers['transfer-encoding']) {
        req.body = {};
        return next();
      }
      checkType(req, res, (err?: unknown) => (err ? next(err) : parse(req, res, (e?: unknown) => (e ? next(e) : check(req, res, next)))));
    },
  ];
}
