import { randomUUID } from 'node:crypto';
import { Errors, type FieldError } from '../errors';
import type { Collection, Store } from '../store';
import { matchesSelector, parseSelector } from '../devices/selector';
import type { Device, DeviceRegistry } from '../devices/registry';

/** A named set of devices: a label selector, an explicit list, or both (their union). */
export interface Fleet {
  id: string;
  name: string;
  selector: string;
  devices: string[];
  createdAt: number;
  updatedAt: number;
}

export interface FleetInput {
  name?: unknown;
  selector?: unknown;
  devices?: unknown;
}

type FleetDoc = Omit<Fleet, 'id'> & { _id: string };

const MAX_LISTED = 10_000;

/**
 * Fleets. Membership is not stored: it is evaluated when asked (a rollout records the members it
 * started with), so devices that gain a label later join the next rollout, not a running one.
 */
export class FleetStore {
  private readonly fleets = new Map<string, Fleet>();
  private collection!: Collection<FleetDoc>;

  constructor(private readonly deps: { devices: DeviceRegistry; now: () => number }) {}

  async start(store: Store): Promise<void> {
    this.collection = await store.collection<FleetDoc>('ota_fleets');
    for (const { _id, ...doc } of await this.collection.all()) this.fleets.set(_id, { id: _id, ...doc });
  }

  list(): Fleet[] {
    return [...this.fleets.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(id: string): Fleet {
    const fleet = typeof id === 'string' ? this.fleets.get(id) : undefined;
    if (!fleet) throw Errors.FLEET_NOT_FOUND(`No fleet has id ${JSON.stringify(String(id).slice(0, 64))}`);
    return fleet;
  }

  /** The devices in a fleet now: the listed ones that still exist, and those the selector matches. */
  members(fleet: Fleet): Device[] {
    const selector = parseSelector(fleet.selector);
    const out = new Map<string, Device>();
    for (const id of fleet.devices) {
      const device = this.deps.devices.get(id);
      if (device) out.set(id, device);
    }
    if (selector.length) for (const device of this.deps.devices.all()) if (matchesSelector(device.labels, selector)) out.set(device.id, device);
    return [...out.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  async create(input: FleetInput): Promise<Fleet> {
    const checked = this.check(input);
    const now = this.deps.now();
    const fleet: Fleet = { id: randomUUID(), ...checked, createdAt: now, updatedAt: now };
    await this.collection.insert(toDoc(fleet));
    this.fleets.set(fleet.id, fleet);
    return fleet;
  }

  async update(id: string, input: FleetInput): Promise<Fleet> {
    const existing = this.get(id);
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw Errors.INVALID_FLEET('A fleet is a JSON object');
    const checked = this.check({ name: existing.name, selector: existing.selector, devices: existing.devices, ...input }, existing);
    const fleet: Fleet = { ...existing, ...checked, updatedAt: this.deps.now() };
    await this.collection.replace(toDoc(fleet));
    if (!this.fleets.has(id)) throw Errors.FLEET_NOT_FOUND(`Fleet ${id} was deleted while it was being changed`);
    this.fleets.set(id, fleet);
    return fleet;
  }

  async remove(id: string): Promise<void> {
    this.get(id);
    this.fleets.delete(id);
    await this.collection.remove(id);
  }

  /** On update, `existing` devices that were deleted since stay listed (members() skips them); only new ids must exist. */
  private check(input: FleetInput, existing?: Fleet): Pick<Fleet, 'name' | 'selector' | 'devices'> {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw Errors.INVALID_FLEET('A fleet is a JSON object');
    const errors: FieldError[] = [];
    for (const key of Object.keys(input)) if (!['name', 'selector', 'devices'].includes(key)) errors.push({ path: `/${key}`, message: 'is not allowed' });
    if (typeof input.name !== 'string' || input.name.trim() === '' || input.name.length > 128) errors.push({ path: '/name', message: 'must be a string of 1-128 characters' });
    const selector = input.selector ?? '';
    if (typeof selector !== 'string' || selector.length > 1024) errors.push({ path: '/selector', message: 'must be a label selector such as site=north,tier=canary' });
    else {
      try {
        parseSelector(selector);
      } catch (err) {
        errors.push({ path: '/selector', message: (err as Error).message });
      }
    }
    const devices = input.devices ?? [];
    if (!Array.isArray(devices) || devices.length > MAX_LISTED || devices.some((d) => typeof d !== 'string')) errors.push({ path: '/devices', message: `must be a list of at most ${MAX_LISTED} device ids` });
    else devices.forEach((d: string, i) => {
      if (!existing?.devices.includes(d) && !this.deps.devices.get(d)) errors.push({ path: `/devices/${i}`, message: `no device has id ${JSON.stringify(d.slice(0, 64))}` });
    });
    if (errors.length === 0 && (selector as string).trim() === '' && (devices as string[]).length === 0) errors.push({ path: '/selector', message: 'a fleet needs a selector, a device list, or both' });
    if (errors.length) throw Errors.INVALID_FLEET(errors.map((e) => `${e.path} ${e.message}`).join('; '), { errors });
    for (const f of this.fleets.values()) if (f.name === input.name && f.id !== existing?.id) throw Errors.CONFLICT(`A fleet named ${JSON.stringify(input.name)} exists (${f.id})`);
    return { name: input.name as string, selector: (selector as string).trim(), devices: [...new Set(devices as string[])] };
  }
}

function toDoc(f: Fleet): FleetDoc {
  const { id, ...rest } = f;
  return { _id: id, ...rest };
}
