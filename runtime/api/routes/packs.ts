import { Router, type Request } from 'express';
import type { Platform } from '../../index';
import { Errors } from '../../errors';
import { assertFiniteNumbers } from '../../finite-numbers';
import { jsonBody, optionalJsonBody, rawJsonBody, route } from '../http';
import { requireUser, type Principal } from '../auth';
import { packSchema } from '../../packs/schema';
import { checkExportRequest, DEFAULT_MAX_PACK_BYTES } from '../../packs/model';
import { packView, planView } from '../../packs/views';
import type { ImportRequest } from '../../packs/service';

/** Room for the request's own fields around the pack. */
const ENVELOPE_BYTES = 64 * 1024;

/** Flow packs over REST: the same PackService the CLI and the editor use. */
export function packRoutes(platform: Platform): Router {
  const router = Router();
  const who = (locals: Record<string, unknown>) => `user:${(locals.principal as Extract<Principal, { kind: 'user' }>).username}`;
  // The schema is public, like the OpenAPI document: pack authors validate against it.
  router.get('/packs/schema.json', (_req, res) => res.json(packSchema));
  router.use('/packs', requireUser(platform));
  // Read up to twice the limit, so a pack just over it gets FF_PACK_TOO_LARGE rather than a generic 413.
  const body = rawJsonBody(2 * DEFAULT_MAX_PACK_BYTES);

  router.get(
    '/packs',
    route((_req, res) => {
      res.json({ items: platform.packs.list().map(packView) });
    }),
  );
  router.post(
    '/packs/dry-run',
    ...body,
    route(async (req, res) => {
      res.json(planView(await platform.packs.plan(importRequest(req))));
    }),
  );
  router.post(
    '/packs',
    ...body,
    route(async (req, res) => {
      const request = importRequest(req);
      const existed = platform.packs.list().some((p) => p.id === (request.file as { manifest?: { id?: unknown } }).manifest?.id);
      const installed = await platform.packs.install(request, who(res.locals));
      res.status(existed ? 200 : 201).location(`${req.baseUrl}/packs/${encodeURIComponent(installed.id)}`).json(packView(installed));
    }),
  );
  router.post(
    '/packs/export',
    ...jsonBody(),
    route(async (req, res) => {
      res.json(await platform.packs.export(checkExportRequest(req.body)));
    }),
  );
  router.get(
    '/packs/builtin',
    route(async (_req, res) => {
      res.json({ items: await platform.packs.builtins() });
    }),
  );
  router.get(
    '/packs/builtin/:file',
    route(async (req, res) => {
      res.json(await platform.packs.readBuiltin(req.params.file));
    }),
  );
  router.get(
    '/packs/:id',
    route((req, res) => {
      res.json(packView(platform.packs.get(req.params.id)));
    }),
  );
  router.post(
    '/packs/:id/rollback',
    ...optionalJsonBody(),
    route(async (req, res) => {
      res.json(packView(await platform.packs.rollback(req.params.id, who(res.locals), { force: req.body?.force === true })));
    }),
  );
  router.delete(
    '/packs/:id',
    route(async (req, res) => {
      const { kept } = await platform.packs.remove(req.params.id);
      res.json({ id: req.params.id, kept });
    }),
  );
  return router;
}

/**
 * `{pack, params?, force?, allowDowngrade?}`, read from the raw body so an oversized pack gets its own
 * code. `pack` is the pack file as JSON, or its text.
 */
function importRequest(req: Request): ImportRequest {
  const raw = req.body as Buffer;
  if (!Buffer.isBuffer(raw) || raw.length === 0) throw Errors.INVALID_PACK('Send {"pack": <the pack file>, "params": {...}}');
  if (raw.length > DEFAULT_MAX_PACK_BYTES + ENVELOPE_BYTES) throw Errors.PACK_TOO_LARGE(`A pack file may be at most ${DEFAULT_MAX_PACK_BYTES} bytes`);
  let envelope: Record<string, unknown>;
  try {
    envelope = JSON.parse(raw.toString('utf8'));
  } catch {
    throw Errors.MALFORMED_JSON('The body is not valid JSON');
  }
  assertFiniteNumbers(envelope);
  if (typeof envelope !== 'object' || envelope === null || Array.isArray(envelope)) throw Errors.INVALID_PACK('Send {"pack": <the pack file>, "params": {...}}');
  const errors = Object.keys(envelope).filter((k) => !['pack', 'params', 'force', 'allowDowngrade'].includes(k)).map((k) => ({ path: `/${k}`, message: 'is not allowed' }));
  const { pack, params, force, allowDowngrade } = envelope;
  if (pack === undefined) errors.push({ path: '/pack', message: 'is required' });
  if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params))) errors.push({ path: '/params', message: 'must be an object of parameter values' });
  for (const [k, v] of [['force', force], ['allowDowngrade', allowDowngrade]] as const) if (v !== undefined && typeof v !== 'boolean') errors.push({ path: `/${k}`, message: 'must be true or false' });
  if (errors.length) throw Errors.INVALID_PACK(errors.map((e) => `${e.path} ${e.message}`).join('; '), { errors });
  return { file: pack as ImportRequest['file'], params: params as Record<string, unknown> | undefined, force: force === true, allowDowngrade: allowDowngrade === true };
}
