import { randomBytes, randomUUID } from 'node:crypto';
import { Errors } from '../errors';
import type { Collection, Store } from '../store';
import { checkEndpoint, checkPushSubscription, targetsOf, type CheckedEndpoint, type EndpointConfig, type EndpointInput, type EndpointSecrets, type EndpointType } from './endpoint-model';
import type { SecretBox } from './secrets';
import type { TargetGuard } from './targets';

/** An endpoint in memory: its secrets sealed, as on disk. */
export interface StoredEndpoint {
  id: string;
  type: EndpointType;
  name: string;
  enabled: boolean;
  /** Why the platform disabled it (an expired push subscription), or null. */
  disabledReason: string | null;
  /** The user a push endpoint belongs to; null for shared endpoints. */
  owner: string | null;
  config: EndpointConfig;
  /** The names of the credentials that are set (`{authToken: true}`), for views. */
  secretNames: Record<string, true>;
  sealed: string;
  createdAt: number;
  updatedAt: number;
}

type EndpointDoc = Omit<StoredEndpoint, 'id'> & { _id: string };

export interface CreatedEndpoint {
  endpoint: StoredEndpoint;
  /** A webhook's signing secret when the platform generated it: shown once, here. */
  generatedSecret?: string;
}

/**
 * Notification endpoints: checked, stored with their credentials sealed, and cached with the
 * credentials opened (senders need them on every delivery).
 */
export class EndpointStore {
  private readonly endpoints = new Map<string, StoredEndpoint>();
  /** Opened credentials by endpoint id, with the sealed text they came from (a change re-opens). */
  private readonly opened = new Map<string, { sealed: string; secrets: EndpointSecrets }>();
  private collection!: Collection<EndpointDoc>;

  constructor(private readonly deps: { box: SecretBox; now: () => number; smtpConfigured: boolean; guard: TargetGuard }) {}

  async start(store: Store): Promise<void> {
    this.collection = await store.collection<EndpointDoc>('notify_endpoints');
    for (const { _id, ...doc } of await this.collection.all()) this.endpoints.set(_id, { id: _id, ...doc });
  }

  list(filter: { type?: string; owner?: string } = {}): StoredEndpoint[] {
    return [...this.endpoints.values()].filter((e) => (!filter.type || e.type === filter.type) && (filter.owner === undefined || e.owner === filter.owner));
  }

  /** Check a create body and write nothing (a flow pack checks all its resources before it applies any). */
  check(input: EndpointInput): void {
    checkEndpoint(input, { smtpConfigured: this.deps.smtpConfigured, guard: this.deps.guard });
  }

  has(id: string): boolean {
    return this.endpoints.has(id);
  }

  get(id: string): StoredEndpoint {
    const endpoint = typeof id === 'string' ? this.endpoints.get(id) : undefined;
    if (!endpoint) throw Errors.ENDPOINT_NOT_FOUND(`No notification endpoint has id ${JSON.stringify(String(id).slice(0, 64))}`);
    return endpoint;
  }

  find(id: string): StoredEndpoint | undefined {
    return this.endpoints.get(id);
  }

  secrets(endpoint: StoredEndpoint): EndpointSecrets {
    const cached = this.opened.get(endpoint.id);
    if (cached?.sealed === endpoint.sealed) return cached.secrets;
    const secrets = this.deps.box.open<EndpointSecrets>(endpoint.sealed);
    this.opened.set(endpoint.id, { sealed: endpoint.sealed, secrets });
    return secrets;
  }

  /** `id` is given by flow packs, whose resources keep the same id in every version; otherwise a new UUID. */
  async create(input: EndpointInput, owner: string | null = null, id: string = randomUUID()): Promise<CreatedEndpoint> {
    if (this.endpoints.has(id)) throw Errors.CONFLICT(`An endpoint with id ${id} exists`);
    const checked = checkEndpoint(input, { smtpConfigured: this.deps.smtpConfigured, guard: this.deps.guard });
    await this.deps.guard.checkSaved(targetsOf(checked));
    // Checked again after the lookup: the same id may have been taken meanwhile.
    if (this.endpoints.has(id)) throw Errors.CONFLICT(`An endpoint with id ${id} exists`);
    let generatedSecret: string | undefined;
    if (checked.type === 'webhook' && !checked.secrets.secret) checked.secrets.secret = generatedSecret = `whsec_${randomBytes(24).toString('base64url')}`;
    const now = this.deps.now();
    const endpoint = this.build(id, checked, owner, now, now);
    await this.collection.insert(toDoc(endpoint));
    this.endpoints.set(endpoint.id, endpoint);
    return { endpoint, generatedSecret };
  }

  /** A browser's push subscription, as a push endpoint owned by `owner`. The same browser again replaces its old endpoint. */
  async subscribePush(owner: string, subscription: unknown, name: unknown, userAgent: string | null): Promise<StoredEndpoint> {
    const sub = checkPushSubscription(subscription, '/subscription');
    if (name !== undefined && (typeof name !== 'string' || name.length > 128)) throw Errors.INVALID_ENDPOINT('/name must be a string of at most 128 characters', { errors: [{ path: '/name', message: 'must be a string of at most 128 characters' }] });
    const input = { type: 'push', name: (name as string) || `${owner}'s browser`, enabled: true, config: { userAgent }, credentials: { subscription: sub } };
    // The same browser subscribing again (say after its old subscription expired) updates its endpoint
    // in place, so subscriptions that send to it keep working.
    for (const e of this.endpoints.values()) {
      if (e.type === 'push' && e.owner === owner && this.readable(e)?.subscription?.endpoint === sub.endpoint) return this.update(e.id, input);
    }
    return (await this.create(input, owner)).endpoint;
  }

  async update(id: string, input: EndpointInput): Promise<StoredEndpoint> {
    const existing = this.get(id);
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw Errors.INVALID_ENDPOINT('An endpoint is a JSON object');
    if (input.type !== undefined && input.type !== existing.type) throw Errors.INVALID_ENDPOINT('/type cannot change; create a new endpoint', { errors: [{ path: '/type', message: 'cannot change' }] });
    const merged = { type: existing.type, name: existing.name, enabled: existing.enabled, config: structuredClone(existing.config), ...input };
    if (existing.type === 'push') merged.config = { userAgent: (existing.config as { userAgent: string | null }).userAgent, ...(input.config as object) };
    const current: CheckedEndpoint = { type: existing.type, name: existing.name, enabled: existing.enabled, config: existing.config, secrets: this.readable(existing) ?? {} };
    const checked = checkEndpoint(merged, { smtpConfigured: this.deps.smtpConfigured, existing: current, guard: this.deps.guard });
    await this.deps.guard.checkSaved(targetsOf(checked));
    if (!this.endpoints.has(id)) throw Errors.ENDPOINT_NOT_FOUND(`Endpoint ${id} was deleted while it was being changed`);
    const endpoint = this.build(id, checked, existing.owner, existing.createdAt, this.deps.now());
    // Enabling again clears the platform's reason for disabling it.
    endpoint.disabledReason = endpoint.enabled ? null : existing.disabledReason;
    await this.collection.replace(toDoc(endpoint));
    if (!this.endpoints.has(id)) throw Errors.ENDPOINT_NOT_FOUND(`Endpoint ${id} was deleted while it was being changed`);
    this.endpoints.set(id, endpoint);
    this.opened.delete(id);
    return endpoint;
  }

  /** Turned off by the platform (an expired push subscription), with the reason shown to users. */
  async disable(id: string, reason: string): Promise<StoredEndpoint | null> {
    const existing = this.endpoints.get(id);
    if (!existing || !existing.enabled) return null;
    const endpoint = { ...existing, enabled: false, disabledReason: reason, updatedAt: this.deps.now() };
    this.endpoints.set(id, endpoint);
    await this.collection.replace(toDoc(endpoint));
    return endpoint;
  }

  /** Out of the map first (synchronously), so nothing can start using it while the write runs. */
  async remove(id: string): Promise<void> {
    const existing = this.get(id);
    this.endpoints.delete(id);
    try {
      await this.collection.remove(id);
    } catch (err) {
      this.endpoints.set(id, existing);
      throw err;
    }
    this.opened.delete(id);
  }

  /** {@link readable} for an endpoint by id: a copy, so the caller cannot change the cached one. */
  credentials(id: string): Record<string, unknown> | null {
    const secrets = this.readable(this.get(id));
    return secrets ? structuredClone(secrets) as Record<string, unknown> : null;
  }

  /** The credentials, or null if they cannot be opened (sealed with another key): new ones can replace them. */
  private readable(endpoint: StoredEndpoint): EndpointSecrets | null {
    try {
      return this.secrets(endpoint);
    } catch {
      return null;
    }
  }

  private build(id: string, checked: CheckedEndpoint, owner: string | null, createdAt: number, updatedAt: number): StoredEndpoint {
    const secretNames: Record<string, true> = {};
    for (const [k, v] of Object.entries(checked.secrets)) if (v !== undefined) secretNames[k] = true;
    const secrets = Object.fromEntries(Object.entries(checked.secrets).filter(([, v]) => v !== undefined));
    return { id, type: checked.type, name: checked.name, enabled: checked.enabled, disabledReason: null, owner, config: checked.config, secretNames, sealed: this.deps.box.seal(secrets), createdAt, updatedAt };
  }
}

function toDoc(e: StoredEndpoint): EndpointDoc {
  const { id, ...rest } = e;
  return { _id: id, ...rest };
}
