import { randomUUID } from 'node:crypto';
import { Errors } from '../errors';
import type { Collection, Store } from '../store';
import type { DeviceRef } from '../events';
import type { Logger } from '../log';
import { DEVICE_TOKEN_PREFIX, hashToken, newToken, tokenMatches } from './tokens';
import { matchesSelector, type Selector } from './selector';

export interface IngestErrorInfo {
  code: string;
  at: number;
  channel?: string;
}

/** A device as the platform holds it. Never returned as is: see views.ts. */
export interface Device {
  id: string;
  name: string;
  model: string | null;
  labels: Record<string, string>;
  tokenHash: string;
  createdAt: number;
  updatedAt: number;
  online: boolean;
  lastSeen: number | null;
  /** Rejected ingest attempts by error code; MQTT has no negative ack, so this is where they show. */
  ingestErrors: Record<string, number>;
  lastIngestError: IngestErrorInfo | null;
}

type DeviceDoc = Omit<Device, 'id' | 'online'> & { _id: string };

export interface DeviceCreate {
  name: string;
  model?: string | null;
  labels?: Record<string, string>;
}

/** A JSON Merge Patch of the editable fields: a null label deletes that label. */
export interface DevicePatch {
  name?: string;
  model?: string | null;
  labels?: Record<string, string | null>;
}

export interface DeviceList {
  items: Device[];
  next: string | null;
}

type RevokeListener = (deviceId: string, reason: 'deleted' | 'rotated') => void | Promise<void>;

/**
 * The device registry. All devices are held in memory (connect and ingest look them up on every
 * packet); every change is written through to the `devices` collection before it is visible.
 * Presence (online, lastSeen) and ingest-error counters change too often to write each time:
 * they are written in the background by flushStatus().
 */
export class DeviceRegistry {
  private readonly devices = new Map<string, Device>();
  private readonly statusDirty = new Set<string>();
  private readonly revokeListeners: RevokeListener[] = [];
  private collection!: Collection<DeviceDoc>;

  constructor(
    private readonly now: () => number,
    private readonly log: Logger,
  ) {}

  async start(store: Store): Promise<void> {
    this.collection = await store.collection<DeviceDoc>('devices');
    for (const doc of await this.collection.all()) {
      const { _id, ...rest } = doc;
      this.devices.set(_id, { ...rest, id: _id, online: false });
    }
  }

  async stop(): Promise<void> {
    for (const device of this.devices.values()) {
      if (device.online) {
        device.online = false;
        this.statusDirty.add(device.id);
      }
    }
    await this.flushStatus();
  }

  /** Called with the device id when its credentials stop being valid (so live sessions end). */
  onRevoke(listener: RevokeListener): void {
    this.revokeListeners.push(listener);
  }

  async create(input: DeviceCreate): Promise<{ device: Device; token: string }> {
    const token = newToken(DEVICE_TOKEN_PREFIX);
    const t = this.now();
    const device: Device = {
      id: randomUUID(),
      name: input.name,
      model: input.model ?? null,
      labels: { ...(input.labels ?? {}) },
      tokenHash: hashToken(token),
      createdAt: t,
      updatedAt: t,
      online: false,
      lastSeen: null,
      ingestErrors: {},
      lastIngestError: null,
    };
    await this.collection.insert(toDoc(device));
    this.devices.set(device.id, device);
    return { device, token };
  }

  /** Every device, for internal sweeps (no paging, no copies: callers must not change them). */
  all(): IterableIterator<Device> {
    return this.devices.values();
  }

  get(id: string): Device | undefined {
    return this.devices.get(id);
  }

  require(id: string): Device {
    const device = this.devices.get(id);
    if (!device) throw Errors.DEVICE_NOT_FOUND(`No device with id "${id}"`);
    return device;
  }

  /** Devices matching a selector, sorted by name then id, a page at a time. */
  list(options: { selector?: Selector; limit: number; after?: string }): DeviceList {
    const cursor = options.after === undefined ? undefined : decodeCursor(options.after);
    const all = [...this.devices.values()]
      .filter((d) => !options.selector || matchesSelector(d.labels, options.selector))
      .sort(byNameThenId);
    const start = cursor ? all.findIndex((d) => byNameThenId(d, { name: cursor[0], id: cursor[1] }) > 0) : 0;
    const items = start < 0 ? [] : all.slice(start, start + options.limit);
    const last = items[items.length - 1];
    const more = start >= 0 && start + options.limit < all.length;
    return { items, next: more && last ? encodeCursor(last) : null };
  }

  async update(id: string, patch: DevicePatch): Promise<Device> {
    const current = this.require(id);
    const labels = { ...current.labels };
    for (const [key, value] of Object.entries(patch.labels ?? {})) {
      if (value === null) delete labels[key];
      else labels[key] = value;
    }
    await this.change(current, {
      name: patch.name ?? current.name,
      model: patch.model === undefined ? current.model : patch.model,
      labels,
      updatedAt: this.now(),
    });
    return current;
  }

  async remove(id: string): Promise<void> {
    this.require(id);
    await this.collection.remove(id);
    this.devices.delete(id);
    this.statusDirty.delete(id);
    await this.revoke(id, 'deleted');
  }

  /** Issue a new token; the old one stops working at once, live connections included. */
  async rotateToken(id: string): Promise<string> {
    const device = this.require(id);
    const token = newToken(DEVICE_TOKEN_PREFIX);
    await this.change(device, { tokenHash: hashToken(token), updatedAt: this.now() });
    await this.revoke(id, 'rotated');
    return token;
  }

  /**
   * Change a device in memory first, then write it. Every write then carries the newest state,
   * whatever order concurrent changes and status flushes reach the file in; a failed write puts
   * the old values back.
   */
  private async change(device: Device, fields: Partial<Device>): Promise<void> {
    const before: Partial<Device> = {};
    for (const key of Object.keys(fields) as Array<keyof Device>) (before as Record<string, unknown>)[key] = device[key];
    Object.assign(device, fields);
    try {
      await this.collection.replace(toDoc(device));
    } catch (err) {
      Object.assign(device, before);
      throw err;
    }
  }

  /** The device, if `token` is its current token. */
  authenticate(id: string, token: string): Device | null {
    const device = this.devices.get(id);
    if (!device || !token.startsWith(DEVICE_TOKEN_PREFIX)) return null;
    return tokenMatches(token, device.tokenHash) ? device : null;
  }

  markSeen(device: Device, at = this.now()): void {
    device.lastSeen = at;
    this.statusDirty.add(device.id);
  }

  setOnline(device: Device, online: boolean, at = this.now()): void {
    device.online = online;
    device.lastSeen = at;
    this.statusDirty.add(device.id);
  }

  recordIngestError(deviceId: string, code: string, channel?: string): void {
    const device = this.devices.get(deviceId);
    if (!device) return;
    device.ingestErrors[code] = (device.ingestErrors[code] ?? 0) + 1;
    device.lastIngestError = { code, at: this.now(), ...(channel ? { channel } : {}) };
    this.statusDirty.add(deviceId);
  }

  /** Write presence and counters of devices that changed since the last flush. */
  async flushStatus(): Promise<void> {
    const ids = [...this.statusDirty];
    this.statusDirty.clear();
    for (const id of ids) {
      const device = this.devices.get(id);
      if (device) await this.collection.replace(toDoc(device));
    }
  }

  get size(): number {
    return this.devices.size;
  }

  private async revoke(id: string, reason: 'deleted' | 'rotated'): Promise<void> {
    for (const listener of this.revokeListeners) {
      try {
        await listener(id, reason);
      } catch (err) {
        this.log.error('device revoke listener failed', { device: id, error: (err as Error).message });
      }
    }
  }
}

/** The device fields events carry. Shared with the registry: handlers copy before they hand it on. */
export function deviceRef(device: Device): DeviceRef {
  return { id: device.id, name: device.name, labels: device.labels };
}

function toDoc(device: Device): DeviceDoc {
  const { id, online: _online, ...rest } = device;
  return { ...rest, _id: id };
}

function byNameThenId(a: { name: string; id: string }, b: { name: string; id: string }): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function encodeCursor(d: Device): string {
  return Buffer.from(JSON.stringify([d.name, d.id])).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'string')) {
      return value as [string, string];
    }
  } catch {
    // fall through to the error below
  }
  throw Errors.INVALID_QUERY('"after" is not a cursor returned by this endpoint', {
    errors: [{ path: '/after', message: 'invalid cursor' }],
  });
}
