import { Router, type ErrorRequestHandler, type RequestHandler } from 'express';
import type { Platform } from '../../index';
import { rawJsonBody, route } from '../http';
import { requireUser } from '../auth';
import { Errors, isFieldflowError } from '../../errors';
import { parsePayload } from '../../channels/payload';
import { commandView, configView } from '../../devices/config';

type InvalidError = typeof Errors.INVALID_CONFIG;

/**
 * A body over the limit is a config or command that is too large: say so with the resource's own
 * code, the same one a too-large value gets from the platform facade.
 */
function tooLargeAs(invalid: InvalidError, what: string): ErrorRequestHandler {
  return (err, _req, _res, next) => {
    next(err?.type === 'entity.too.large' ? invalid(`${what} is over the ${err.limit}-byte limit`) : err);
  };
}

/**
 * The body as any JSON value (not only objects and arrays), so a string gets the resource's own
 * error rather than a parse error. Text that is not JSON stays FF_MALFORMED_JSON.
 */
function parsed(raw: unknown, maxDepth: number, invalid: InvalidError): unknown {
  // Without a body, body-parser leaves no Buffer.
  if (!Buffer.isBuffer(raw)) throw Errors.MALFORMED_JSON('The body is empty; send a JSON object');
  try {
    return parsePayload(raw, { maxPayloadBytes: Infinity, maxDepth }).data;
  } catch (err) {
    if (isFieldflowError(err) && err.code === Errors.PAYLOAD_TOO_DEEP.code) throw invalid(err.message);
    throw err;
  }
}

/** Device configuration and commands (docs/api.md#device-config-and-commands). */
export function deviceConfigRoutes(platform: Platform): Router {
  const router = Router();
  const { deviceConfig } = platform;
  const { maxPayloadBytes, maxDepth } = platform.options.ingest;
  const user = requireUser(platform);
  // A command may come without a body: it then has no arguments.
  const commandBody: RequestHandler[] = rawJsonBody(maxPayloadBytes).map(
    (handler): RequestHandler =>
      (req, res, next) => {
        if ((req.headers['content-length'] ?? '0') === '0' && !req.headers['transfer-encoding']) return next();
        handler(req, res, next);
      },
  );

  router.get(
    '/devices/:id/config',
    user,
    route((req, res) => {
      res.json(configView(deviceConfig.get(req.params.id)));
    }),
  );

  router.put(
    '/devices/:id/config',
    user,
    ...rawJsonBody(maxPayloadBytes),
    tooLargeAs(Errors.INVALID_CONFIG, 'The configuration'),
    route(async (req, res) => {
      platform.devices.require(req.params.id);
      res.json(configView(await deviceConfig.set(req.params.id, parsed(req.body, maxDepth, Errors.INVALID_CONFIG))));
    }),
  );

  router.post(
    '/devices/:id/commands/:name',
    user,
    ...commandBody,
    tooLargeAs(Errors.INVALID_COMMAND, 'The command'),
    route(async (req, res) => {
      platform.devices.require(req.params.id);
      const body = Buffer.isBuffer(req.body) ? parsed(req.body, maxDepth, Errors.INVALID_COMMAND) : {};
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw Errors.INVALID_COMMAND('The body is a JSON object: {"args": {...}}');
      const unknown = Object.keys(body).filter((k) => k !== 'args');
      if (unknown.length) throw Errors.INVALID_COMMAND(`Unknown field "${unknown[0].slice(0, 64)}"; the body is {"args": {...}}`);
      const { args } = body as { args?: unknown };
      res.status(202).json(commandView(await deviceConfig.send(req.params.id, req.params.name, args === undefined ? {} : args)));
    }),
  );

  return router;
}
