/**
 * Planning and applying a pack's resources: check them all before anything is written, create
 * or update them, undo that if the flows deploy fails, and remove what a version no longer has.
 */

import { Errors, isFieldflowError, type FieldError } from '../errors';
import type { Logger } from '../log';
import type { ResourcePart } from './model';
import { APPLY_ORDER, type PackResource } from './resources';
import type { ResourcePorts } from './resource-ports';

/** A resource as the pack deployed it: what its record keeps. */
export type DeployedResource = Omit<PackResource, 'index'>;

export interface ResourceRef {
  kind: ResourcePart;
  name: string;
}

/** What an import does to the platform's resources, shown before it happens. */
export interface ResourceDiff {
  added: ResourceRef[];
  changed: ResourceRef[];
  removed: ResourceRef[];
}

/** A resource the pack no longer has but that could not be removed (a model devices still use). */
export interface KeptResource extends ResourceRef {
  reason: string;
}

const ref = (r: DeployedResource): ResourceRef => ({ kind: r.kind, name: r.name });

/** A resource body as the pack's record keeps it: without credentials, which only their service keeps (sealed). */
export function recordedBody(body: Record<string, unknown>): Record<string, unknown> {
  const { credentials: _credentials, ...rest } = body;
  return rest;
}
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Check every resource with its own service and against what exists, and say what would change.
 * Throws FF_INVALID_PACK (a body its service refuses) or FF_PACK_ID_CONFLICT (a name taken by
 * something the pack does not own), each problem at its path in the pack file. Writes nothing.
 */
export function planResources(ports: ResourcePorts, next: PackResource[], owned: DeployedResource[]): ResourceDiff {
  const invalid: FieldError[] = [];
  const conflicts: FieldError[] = [];
  const ownedIds = new Set(owned.map((r) => `${r.kind}:${r.id}`));
  const pending = new Set(next.map((r) => r.id));
  for (const r of next) {
    const at = `/${r.kind}/${r.index}`;
    try {
      ports[r.kind].check(r.body, pending);
    } catch (err) {
      if (!isFieldflowError(err) || err.status >= 500) throw err;
      const errors = err.errors?.length ? err.errors : [{ path: '/', message: err.message }];
      for (const e of errors) invalid.push({ path: `${at}${e.path === '/' ? '' : e.path}`, message: e.message });
    }
    // An endpoint's type cannot change in place (its credentials and deliveries belong to the old one).
    const type = r.kind === 'endpoints' ? ports.endpoints.snapshot(r.id)?.type : undefined;
    if (type !== undefined && type !== r.body.type) invalid.push({ path: `${at}/type`, message: `is ${JSON.stringify(type)} in the installed version and cannot change; give this endpoint another id` });
    const holder = ports[r.kind].idOfName?.(r.name) ?? null;
    if (holder === null || ownedIds.has(`${r.kind}:${holder}`)) continue;
    // Deployed ids derive from the pack id, so one that exists already is this pack's (say, left by a failed removal).
    if (holder !== r.id) conflicts.push({ path: `${at}/name`, message: `a ${singular(r.kind)} named "${r.name}" exists and is not this pack's` });
    // A model is its name. One with the same schema is taken over: the model an earlier removal kept for its devices.
    else if (r.kind === 'models' && !same(ports.models.snapshot(r.id)?.configSchema, r.body.configSchema)) conflicts.push({ path: `${at}/name`, message: `a model named "${r.name}" exists with another config schema and is not this pack's` });
  }
  if (invalid.length) throw Errors.INVALID_PACK(`${invalid.length} resource problem(s): ${invalid.slice(0, 3).map((e) => `${e.path} ${e.message}`).join('; ')}`, { errors: invalid });
  if (conflicts.length) throw Errors.PACK_ID_CONFLICT(conflicts.map((e) => `${e.path}: ${e.message}`).join('; '), { errors: conflicts });
  const before = new Map(owned.map((r) => [`${r.kind}:${r.id}`, r]));
  const after = new Set(next.map((r) => `${r.kind}:${r.id}`));
  return {
    added: next.filter((r) => !before.has(`${r.kind}:${r.id}`)).map(ref),
    changed: next.filter((r) => before.has(`${r.kind}:${r.id}`) && !same(before.get(`${r.kind}:${r.id}`)!.body, recordedBody(r.body))).map(ref),
    removed: owned.filter((r) => !after.has(`${r.kind}:${r.id}`)).map(ref),
  };
}

/**
 * Create or update the resources (in APPLY_ORDER). Returns an undo that puts back what was there
 * before; if one write fails, the ones before it are undone and the error is thrown.
 */
export async function applyResources(ports: ResourcePorts, next: PackResource[], log: Logger): Promise<() => Promise<void>> {
  const undo: Array<() => Promise<void>> = [];
  const rollback = async () => {
    for (const step of undo.reverse()) {
      await step().catch((err: Error) => log.error('could not undo a pack resource change', { error: err.message }));
    }
  };
  try {
    for (const r of next) {
      const port = ports[r.kind];
      const previous = port.restorable ? port.restorable(r.id) : port.snapshot(r.id);
      if (previous) {
        await port.update(r.id, r.body);
        undo.push(() => port.update(r.id, previous));
      } else {
        await port.create(r.id, r.body);
        undo.push(() => port.remove(r.id));
      }
    }
  } catch (err) {
    await rollback();
    throw err;
  }
  return rollback;
}

/**
 * Remove resources a pack no longer has, subscriptions first so their endpoints are free.
 * A model that devices still use is kept (and returned) rather than failing a removal whose
 * flows are already gone.
 */
export async function removeResources(ports: ResourcePorts, resources: DeployedResource[], log: Logger): Promise<KeptResource[]> {
  const kept: KeptResource[] = [];
  const order = [...APPLY_ORDER].reverse();
  const sorted = [...resources].sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
  for (const r of sorted) {
    const port = ports[r.kind];
    if (!port.exists(r.id)) continue;
    try {
      await port.remove(r.id);
    } catch (err) {
      // The flows are already gone: report what is left over rather than fail half-way.
      const reason = (err as Error).message;
      log.warn('kept a pack resource that could not be removed', { kind: r.kind, name: r.name, reason });
      kept.push({ kind: r.kind, name: r.name, reason });
    }
  }
  return kept;
}

function singular(kind: ResourcePart): string {
  return { models: 'model', endpoints: 'notification endpoint', subscriptions: 'notification subscription', schedules: 'schedule' }[kind];
}
