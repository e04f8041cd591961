/**
 * The platform resources a pack carries (models, notification endpoints and subscriptions,
 * schedules) as they are deployed: parameters substituted, references between them resolved,
 * and deployed ids derived from the pack id. Pure: the service applies them (resource-ports.ts).
 */

import { createHash } from 'node:crypto';
import { RESOURCE_PARTS, type Pack, type ResourcePart } from './model';

/** One resource of a pack, ready to be created or updated by its service. */
export interface PackResource {
  kind: ResourcePart;
  /** Its id in the pack file. */
  localId: string;
  /** Its index in the pack file's array of its kind (for error paths). */
  index: number;
  /** Its id on the platform (a model's is its name). */
  id: string;
  name: string;
  /** The REST create body: no `id`, parameters substituted, pack-local references replaced by deployed ids. */
  body: Record<string, unknown>;
}

/**
 * Creation order: endpoints before the subscriptions that send to them, models before anything
 * that could name them. Removal runs it backwards.
 */
export const APPLY_ORDER: readonly ResourcePart[] = ['models', 'endpoints', 'schedules', 'subscriptions'];

/** Free text and user data: a value there equal to a resource's local id is not a reference to it. */
const UNMAPPED_KEYS = new Set(['name', 'description', 'template', 'payload', 'configSchema']);
const WHOLE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;
const INNER = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * The id a resource with `localId` in pack `packId` is deployed with: UUID-shaped (the ids the
 * services generate themselves are UUIDs), and the same for every version of the pack, so an
 * upgrade updates the resource in place.
 */
export function packResourceId(packId: string, localId: string): string {
  const h = createHash('sha256').update(`${packId}\nresource\n${localId}`).digest('hex');
  // Version 8 (custom) and the RFC 9562 variant, so it is a well-formed UUID.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16], 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Each resource's local id → its deployed id. Flows and resources use it to resolve references. */
export function resourceIdMap(pack: Pack, packId: string, params: Record<string, unknown>): Map<string, string> {
  const ids = new Map<string, string>();
  for (const kind of RESOURCE_PARTS) {
    for (const def of pack[kind] ?? []) {
      ids.set(def.id, kind === 'models' ? String(substitute(def.name, params)) : packResourceId(packId, def.id));
    }
  }
  return ids;
}

/** The pack's resources as they are deployed, in APPLY_ORDER. Expects a checked pack and checked parameters. */
export function derivePackResources(pack: Pack, packId: string, params: Record<string, unknown>): PackResource[] {
  const ids = resourceIdMap(pack, packId, params);
  const out: PackResource[] = [];
  for (const kind of APPLY_ORDER) {
    (pack[kind] ?? []).forEach((def, index) => {
      const { id: localId, ...rest } = def;
      const body = mapReferences(substitute(rest, params), ids) as Record<string, unknown>;
      out.push({ kind, localId, index, id: ids.get(localId)!, name: String(body.name), body });
    });
  }
  return out;
}

/**
 * Parameters in a resource: a value that is exactly `${NAME}` takes the parameter's value with
 * its type (an array element `${NAME}` of an array parameter is spliced in); `${NAME}` inside
 * longer text is replaced by the value as text. A name with no value is left as it is, so the
 * resource's own check reports it.
 */
export function substitute(value: unknown, params: Record<string, unknown>): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE.exec(value);
    if (whole && has(params, whole[1])) return structuredClone(params[whole[1]]);
    return value.replace(INNER, (match, name: string) => (has(params, name) ? asText(params[name]) : match));
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const item of value) {
      const whole = typeof item === 'string' ? WHOLE.exec(item) : null;
      if (whole && has(params, whole[1]) && Array.isArray(params[whole[1]])) out.push(...structuredClone(params[whole[1]] as unknown[]));
      else {
        const v = substitute(item, params);
        if (v !== undefined) out.push(v);
      }
    }
    return out;
  }
  if (isObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const v = substitute(item, params);
      if (v !== undefined) out[key] = v;
    }
    return out;
  }
  return value;
}

function mapReferences(value: unknown, ids: Map<string, string>): unknown {
  if (typeof value === 'string') return ids.get(value) ?? value;
  if (Array.isArray(value)) return value.map((v) => mapReferences(v, ids));
  if (isObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, UNMAPPED_KEYS.has(k) ? v : mapReferences(v, ids)]));
  }
  return value;
}

function asText(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function has(o: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, key) && (o as Record<string, unknown>)[key] !== undefined;
}
