import express, { type NextFunction, type Request, type Response } from 'express';
import type { NodeAPI } from 'node-red';
import { Errors, type FieldflowError } from '../../../runtime/errors';
import { validBody } from '../../../runtime/api/validate';
import { DEFAULT_MAX_PACK_BYTES } from '../../../runtime/packs/model';
import { exportRequestSchema } from '../../../runtime/packs/schema';
import type { ExportRequest } from '../../../runtime/packs/export';
import { packView, planView } from '../../../runtime/packs/views';
import type { ImportRequest } from '../../../runtime/packs/service';
import { platformOf } from '../../lib/common';
import { adminRoute, type AdminHandler } from '../admin-routes';

type EditorRequest = Request & { user?: { username?: string } };

/** What the sidebar sends to import or preview: the pack file (parsed, or its text when it is not JSON) and the choices made in the form. */
const importSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['pack'],
  properties: {
    pack: { type: ['object', 'string'] },
    params: { type: 'object' },
    force: { type: 'boolean' },
    allowDowngrade: { type: 'boolean' },
  },
} as const;

const rollbackSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { force: { type: 'boolean' } },
} as const;

/**
 * The runtime half of the editor's Packs sidebar (the .html beside this file is the editor half):
 * admin routes under /fieldflow/packs on Node-RED's admin API, so they need the editor's login.
 * They call the same PackService as /api/v1/packs and answer with the same views.
 */
export = function register(RED: NodeAPI) {
  RED.plugins.registerPlugin('fieldflow-packs', { type: 'fieldflow-sidebar' });

  const read = RED.auth.needsPermission('flows.read');
  const write = RED.auth.needsPermission('flows.write');
  const base = '/fieldflow/packs';
  const route = (handler: AdminHandler) => adminRoute(RED, 'packs', handler);
  const packs = () => platformOf(RED).packs;
  const who = (req: Request) => `user:${(req as EditorRequest).user?.username ?? 'editor'}`;

  // The limit lets the sidebar refuse a file too large before reading it into the page.
  RED.httpAdmin.get(base, read, route(() => [200, { items: packs().list().map(packView), maxBytes: DEFAULT_MAX_PACK_BYTES }]));
  RED.httpAdmin.get(`${base}/builtin`, read, route(async () => [200, { items: await packs().builtins() }]));
  RED.httpAdmin.get(`${base}/builtin/:file`, read, route(async (req) => [200, await packs().readBuiltin(req.params.file)]));
  RED.httpAdmin.post(`${base}/dry-run`, write, packBody, route(async (req) => [200, planView(await packs().plan(importRequest(req)))]));
  RED.httpAdmin.post(
    base,
    write,
    packBody,
    route(async (req) => {
      const installedBefore = new Set(packs().list().map((p) => p.id));
      const installed = await packs().install(importRequest(req), who(req));
      return [installedBefore.has(installed.id) ? 200 : 201, packView(installed)];
    }),
  );
  RED.httpAdmin.post(`${base}/export`, read, route(async (req) => [200, await packs().export(validBody<ExportRequest>(req, exportRequestSchema))]));
  RED.httpAdmin.get(`${base}/:id`, read, route((req) => [200, packView(packs().get(req.params.id))]));
  RED.httpAdmin.post(
    `${base}/:id/rollback`,
    write,
    route(async (req) => {
      const { force } = validBody<{ force?: boolean }>(req, rollbackSchema);
      return [200, packView(await packs().rollback(req.params.id, who(req), { force: force === true }))];
    }),
  );
  RED.httpAdmin.delete(
    `${base}/:id`,
    write,
    route(async (req) => {
      const { kept } = await packs().remove(req.params.id);
      return [200, { id: req.params.id, kept }];
    }),
  );
};

/** Room for the request's own fields around the pack. */
const ENVELOPE_BYTES = 64 * 1024;
const MAX_BODY_BYTES = DEFAULT_MAX_PACK_BYTES + ENVELOPE_BYTES;
const rawBody = express.raw({ type: () => true, limit: MAX_BODY_BYTES });

/**
 * The import body, read here so that a body over the pack limit gets FF_PACK_TOO_LARGE and one
 * that is not JSON FF_MALFORMED_JSON. Node-RED's admin API parses `application/json` bodies
 * before any route (with its own limit and its own error page), so the sidebar sends
 * `application/vnd.fieldflow.pack-import+json`, which it leaves alone; a body it did parse is taken as it is.
 */
function packBody(req: Request, res: Response, next: NextFunction): void {
  const length = Number(req.headers['content-length'] ?? 0);
  if (length > MAX_BODY_BYTES) return sendError(res, Errors.PACK_TOO_LARGE(`The request is ${length} bytes; a pack file may be at most ${DEFAULT_MAX_PACK_BYTES}`));
  rawBody(req, res, (err?: unknown) => {
    if ((err as { type?: string } | undefined)?.type === 'entity.too.large') return sendError(res, Errors.PACK_TOO_LARGE(`A pack file may be at most ${DEFAULT_MAX_PACK_BYTES} bytes`));
    if (err) return next(err);
    if (!Buffer.isBuffer(req.body)) return next();
    try {
      req.body = req.body.length ? JSON.parse(req.body.toString('utf8')) : {};
    } catch (parseError) {
      return sendError(res, Errors.MALFORMED_JSON(`The body is not valid JSON: ${(parseError as Error).message}`));
    }
    next();
  });
}

function sendError(res: Response, err: FieldflowError): void {
  res.status(err.status).json({ code: err.code, detail: err.message, errors: err.errors ?? [{ path: '/', message: err.message }] });
}

function importRequest(req: Request): ImportRequest {
  const body = validBody<{ pack: ImportRequest['file']; params?: Record<string, unknown>; force?: boolean; allowDowngrade?: boolean }>(req, importSchema);
  return { file: body.pack, params: body.params, force: body.force === true, allowDowngrade: body.allowDowngrade === true };
}
