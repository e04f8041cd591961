/**
 * What the pack service needs from the services that own the resources a pack carries. Each
 * port goes through that service's own create, update and remove, so a pack's endpoint is
 * checked, stored and used exactly like one created over REST.
 */

import { Errors } from '../errors';
import type { NotifyService } from '../notify/service';
import type { ScheduleService } from '../schedule/service';
import { checkSubscription } from '../notify/subscription-model';
import type { ResourcePart } from './model';

type Body = Record<string, unknown>;

export interface ResourcePort {
  /** Check a create body and write nothing; throws the service's catalog error. `pending`: ids the pack creates first. */
  check(body: Body, pending: ReadonlySet<string>): void;
  exists(id: string): boolean;
  /** For kinds whose names are unique (and referenced): the id of the one with this name, or null. */
  idOfName?(name: string): string | null;
  create(id: string, body: Body): Promise<void>;
  update(id: string, body: Body): Promise<void>;
  remove(id: string): Promise<void>;
  /** The resource as a create body (without credentials, as exports need it); null if there is none. */
  snapshot(id: string): Body | null;
  /** The snapshot with its credentials, to put it back if a deploy fails: in memory only. Default: the snapshot. */
  restorable?(id: string): Body | null;
}

export type ResourcePorts = Record<ResourcePart, ResourcePort>;

/** The slice of the model service packs use (models are identified by name). */
export interface ModelsLike {
  list(): Array<{ name: string; description?: unknown; configSchema?: unknown }>;
  check(input: unknown): unknown;
  create(input: unknown): Promise<unknown>;
  update(name: string, input: unknown): Promise<unknown>;
  remove(name: string): Promise<void>;
}

/** Ports over the platform's services. */
export function platformResourcePorts(deps: { notify: NotifyService; schedules: ScheduleService; models: ModelsLike }): ResourcePorts {
  const { notify, schedules, models } = deps;
  const findEndpoint = (id: string) => notify.listEndpoints().find((e) => e.id === id);
  const findSubscription = (id: string) => notify.listSubscriptions().find((s) => s.id === id);
  const findSchedule = (id: string) => schedules.list().find((s) => s.id === id);
  const findModel = (name: string) => models.list().find((m) => m.name === name);
  return {
    models: {
      check: (body) => void models.check(body),
      exists: (name) => !!findModel(name),
      idOfName: (name) => findModel(name)?.name ?? null,
      create: async (_name, body) => void (await models.create(body)),
      update: async (name, body) => void (await models.update(name, body)),
      remove: (name) => models.remove(name),
      snapshot: (name) => {
        const m = findModel(name);
        return m ? { name: m.name, description: m.description, configSchema: m.configSchema } : null;
      },
    },
    endpoints: {
      check: (body) => {
        // A push endpoint's subscription comes from a browser; a pack reaches existing ones through a parameter.
        if (body.type === 'push') throw Errors.INVALID_ENDPOINT('A pack cannot create push endpoints; list existing ones in a parameter', { errors: [{ path: '/type', message: 'cannot be push in a pack' }] });
        notify.checkEndpoint(body);
      },
      exists: (id) => !!findEndpoint(id),
      create: async (id, body) => void (await notify.createEndpoint(body, { id })),
      update: async (id, body) => void (await notify.updateEndpoint(id, { enabled: true, ...body })),
      remove: (id) => notify.removeEndpoint(id),
      snapshot: (id) => {
        const e = findEndpoint(id);
        return e ? { type: e.type, name: e.name, enabled: e.enabled, config: structuredClone(e.config) } : null;
      },
      restorable: (id) => {
        const e = findEndpoint(id);
        if (!e) return null;
        // Unreadable credentials (another key) cannot be put back; an update without them keeps what is stored.
        const credentials = notify.endpointCredentials(id);
        return { type: e.type, name: e.name, enabled: e.enabled, config: structuredClone(e.config), ...(credentials ? { credentials } : {}) };
      },
    },
    subscriptions: {
      check: (body, pending) => notify.checkSubscription(body, pending),
      exists: (id) => !!findSubscription(id),
      create: async (id, body) => void (await notify.createSubscription(body, { id })),
      // A version's body replaces the subscription: a field it leaves out goes back to its default rather than keeping the old value.
      update: async (id, body) => void (await notify.updateSubscription(id, checkSubscription(body, () => true))),
      remove: (id) => notify.removeSubscription(id),
      snapshot: (id) => {
        const s = findSubscription(id);
        if (!s) return null;
        const { id: _id, createdAt: _c, updatedAt: _u, ...body } = structuredClone(s);
        return body;
      },
    },
    schedules: {
      check: (body) => schedules.check(body),
      exists: (id) => !!findSchedule(id),
      idOfName: (name) => schedules.list().find((s) => s.name === name)?.id ?? null,
      create: async (id, body) => void (await schedules.create(body, { id })),
      update: async (id, body) => void (await schedules.update(id, { timezone: 'UTC', payload: null, enabled: true, ...body })),
      remove: (id) => schedules.remove(id),
      snapshot: (id) => {
        const s = findSchedule(id);
        return s ? { name: s.name, cron: s.cron, timezone: s.timezone, payload: structuredClone(s.payload), enabled: s.enabled } : null;
      },
    },
  };
}
