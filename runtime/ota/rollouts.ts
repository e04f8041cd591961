import { randomUUID } from 'node:crypto';
import semver from 'semver';
import { Errors, isFieldflowError } from '../errors';
import type { Store } from '../store';
import type { Logger } from '../log';
import type { DeviceRef, EventBus } from '../events';
import { deviceRef, type DeviceRegistry } from '../devices/registry';
import type { TagService } from '../tags/service';
import type { AlarmService } from '../alarms/service';
import { VersionedStore } from '../store/versioned';
import type { ArtifactStore } from './artifacts';
import type { FleetStore } from './fleets';
import { parseReport, guessUpdateId } from './report';
import { rolloutView, updateView, type Progress } from './views';
import {
  ACTIVE_STATUSES,
  DEVICE_STEPS,
  ROLLOUT_STATUSES,
  TERMINAL,
  TIMED_STATES,
  UPDATE_STATES,
  checkRolloutInput,
  planWaves,
  type Rollout,
  type RolloutInput,
  type RolloutStatus,
  type TimedState,
  type Update,
  type UpdateState,
} from './rollout-model';

/** How the engine reaches devices: the broker, once it is up. */
export interface DeviceLink {
  publishToDevice(deviceId: string, subtopic: string, payload: string, options: { retain: boolean; qos: 0 | 1 }): Promise<void>;
}

export interface RolloutDeps {
  devices: DeviceRegistry;
  artifacts: ArtifactStore;
  fleets: FleetStore;
  tags: TagService;
  alarms: AlarmService;
  events: EventBus;
  log: Logger;
  now: () => number;
  /** Prefix for offer URLs (`https://iot.example.com`), or null for a path on the HTTP port. */
  publicUrl: string | null;
  /** How often timeouts, scheduled starts and wave pauses are checked, in ms. */
  sweepMs: number;
}

/** The tag a device's running version is kept in (`device.firmware`); status reports of a version are recorded there too. */
export const FIRMWARE_APP_KEY = 'device';
/** The alarm raised on the device whose failure halted a rollout. */
export const HALT_ALARM_TYPE = 'ota_rollout_halted';
const OPEN_BEFORE_INSTALL: ReadonlySet<UpdateState> = new Set(['pending', 'offered', 'downloading', 'downloaded']);
const MAX_PAGE = 1000;

/**
 * Rollouts and the per-device update state machine. Everything is held in memory and written
 * through (group-committed) before it is announced; a device report is acknowledged only once its
 * effect is on disk. Timeouts, scheduled starts and wave pauses are checked by one sweep, so they
 * hold across restarts without a timer per update.
 */
export class RolloutEngine {
  private readonly rollouts = new Map<string, Rollout>();
  private readonly updates = new Map<string, Update>();
  private readonly byRollout = new Map<string, Update[]>();
  /** The one update per device that has not ended (pending included). */
  private readonly openByDevice = new Map<string, Update>();
  /** When the broker was attached: no update times out for lack of reports sent while the server was down. */
  private attachedAt = 0;
  private readonly rolloutStore = new VersionedStore<Rollout>('ota_rollouts');
  private readonly updateStore = new VersionedStore<Update>('ota_updates', (u) => ({ ...u }));
  private link: DeviceLink | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: RolloutDeps) {}

  async start(store: Store): Promise<void> {
    for (const r of await this.rolloutStore.load(store)) this.rollouts.set(r.id, r);
    const loaded = await this.updateStore.load(store);
    for (const r of this.rollouts.values()) this.byRollout.set(r.id, []);
    for (const u of loaded.sort((a, b) => a.createdAt - b.createdAt || a.wave - b.wave || (a.deviceId < b.deviceId ? -1 : 1))) {
      const list = this.byRollout.get(u.rolloutId);
      if (!list) continue;
      this.updates.set(u.id, u);
      list.push(u);
      if (!TERMINAL.has(u.state)) this.openByDevice.set(u.deviceId, u);
    }
    this.deps.artifacts.guard((id) => this.inUse(id));
    this.deps.tags.onCommit(async (deviceId, appKey, values) => {
      const v = values.firmware;
      if (appKey !== FIRMWARE_APP_KEY || typeof v !== 'string' || !semver.valid(v)) return;
      await this.onVersion(deviceId, semver.valid(v)!).catch((err) => this.deps.log.error('OTA version report failed', { device: deviceId, error: (err as Error).message }));
    });
    this.deps.devices.onRevoke((deviceId, reason) => (reason === 'deleted' ? this.dropDevice(deviceId) : undefined));
  }

  /**
   * Connect to the broker: offers are retained only in the broker's memory, so the open ones are
   * published again; then timeouts and schedules start being checked.
   */
  attach(link: DeviceLink): void {
    this.link = link;
    this.attachedAt = this.deps.now();
    for (const u of this.openByDevice.values()) if (u.state === 'offered' || u.state === 'downloading' || u.state === 'downloaded') this.publishOffer(u);
    // Picks up a wave whose start was cut short by a crash (see evaluate()).
    for (const r of this.rollouts.values()) if (r.status === 'running') this.settle(this.evaluate(r), 'resume after start');
    this.timer = setInterval(() => this.sweep(), this.deps.sweepMs);
    this.timer.unref();
    this.sweep();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.link = null;
    await this.rolloutStore.drain();
    await this.updateStore.drain();
  }

  /** Rollouts by status, every status present: for metrics. */
  countByStatus(): Record<RolloutStatus, number> {
    const counts = Object.fromEntries(ROLLOUT_STATUSES.map((s) => [s, 0])) as Record<RolloutStatus, number>;
    for (const r of this.rollouts.values()) counts[r.status]++;
    return counts;
  }

  list(): Rollout[] {
    return [...this.rollouts.values()].sort((a, b) => b.createdAt - a.createdAt);
  }

  get(id: string): Rollout {
    const r = typeof id === 'string' ? this.rollouts.get(id) : undefined;
    if (!r) throw Errors.ROLLOUT_NOT_FOUND(`No rollout has id ${JSON.stringify(String(id).slice(0, 64))}`);
    return r;
  }

  view(r: Rollout) {
    return rolloutView(r, this.progress(r.id));
  }

  /** How many of the rollout's updates are in each state. */
  progress(id: string): Progress {
    const counts = Object.fromEntries(UPDATE_STATES.map((s) => [s, 0])) as Progress;
    counts.total = 0;
    for (const u of this.byRollout.get(this.get(id).id)!) {
      counts[u.state]++;
      counts.total++;
    }
    return counts;
  }

  /** A page of a rollout's updates, in the order they are offered. */
  updatesOf(id: string, query: { state?: UpdateState; limit?: number; after?: string } = {}): { items: Update[]; next: string | null } {
    const all = this.byRollout.get(this.get(id).id)!;
    const limit = Math.min(query.limit ?? 100, MAX_PAGE);
    let start = 0;
    if (query.after) {
      const i = all.findIndex((u) => u.id === query.after);
      if (i < 0) throw Errors.INVALID_QUERY('after is not an update of this rollout');
      start = i + 1;
    }
    const items: Update[] = [];
    let i = start;
    for (; i < all.length && items.length < limit; i++) if (!query.state || all[i].state === query.state) items.push(all[i]);
    const more = all.slice(i).some((u) => !query.state || u.state === query.state);
    return { items, next: more && items.length ? items[items.length - 1].id : null };
  }

  getUpdate(id: string): Update {
    const u = typeof id === 'string' ? this.updates.get(id) : undefined;
    if (!u) throw Errors.OTA_UPDATE_NOT_FOUND(`No OTA update has id ${JSON.stringify(String(id).slice(0, 64))}`);
    return u;
  }

  /** Who uses an artifact (an active rollout, or one with devices still installing), for the delete guard. */
  inUse(artifactId: string): string | null {
    for (const r of this.rollouts.values()) {
      if (r.artifactId !== artifactId) continue;
      if (ACTIVE_STATUSES.has(r.status) || this.byRollout.get(r.id)!.some((u) => !TERMINAL.has(u.state))) return `rollout ${JSON.stringify(r.name)} (${r.id})`;
    }
    return null;
  }

  /** Whether a device may download an artifact: it has an open update of it. */
  mayDownload(deviceId: string, artifactId: string): boolean {
    const u = this.openByDevice.get(deviceId);
    return !!u && u.state !== 'pending' && this.rollouts.get(u.rolloutId)?.artifactId === artifactId;
  }

  async create(input: RolloutInput, by: string): Promise<Rollout> {
    const now = this.deps.now();
    const checked = checkRolloutInput(input, now);
    const artifact = this.deps.artifacts.get(checked.artifactId);
    const fleet = this.deps.fleets.get(checked.fleetId);
    const all = this.deps.fleets.members(fleet);
    if (all.length === 0) throw Errors.FLEET_EMPTY(`Fleet ${JSON.stringify(fleet.name)} has no devices now`);
    // A fleet is often a place or a customer rather than a model: the devices of other models are left
    // out and listed on the rollout, and only a rollout with nothing left to update is refused.
    const members = all.filter((d) => artifact.models.includes(d.model ?? ''));
    const skipped = all.filter((d) => !artifact.models.includes(d.model ?? ''));
    if (members.length === 0) {
      const errors = skipped.slice(0, 20).map((d) => ({ path: `/devices/${d.id}`, message: `model ${JSON.stringify(d.model)} is not one of ${artifact.models.join(', ')}` }));
      throw Errors.MODEL_MISMATCH(`${skipped.length} device(s) of the fleet are not a model ${artifact.name} ${artifact.version} targets (${artifact.models.join(', ')}), and it has no other`, { errors });
    }
    const busy = members.filter((d) => this.openByDevice.has(d.id));
    if (busy.length) {
      const first = this.openByDevice.get(busy[0].id)!;
      throw Errors.CONFLICT(`${busy.length} device(s) of the fleet are in a rollout that has not finished (device ${busy[0].id} in rollout ${first.rolloutId}); wait for it or cancel it`);
    }
    // Devices already on the version go last: the canary must be devices that really install it.
    const current = (d: { id: string }) => {
      const v = this.currentVersion(d.id);
      return v !== null && semver.eq(v, artifact.version);
    };
    members.sort((a, b) => Number(current(a)) - Number(current(b)) || (a.id < b.id ? -1 : 1));
    const plan = planWaves(members.length, checked.canary, checked.waveSize);
    const id = randomUUID();
    const r: Rollout = {
      key: id,
      id,
      name: checked.name ?? `${artifact.name} ${artifact.version} to ${fleet.name}`,
      artifactId: artifact.id,
      version: artifact.version,
      fleetId: fleet.id,
      fleetName: fleet.name,
      devices: members.map((d) => d.id),
      skipped: skipped.map((d) => ({ id: d.id, model: d.model })),
      strategy: { ...checked.strategy, canary: plan.canary, waveSize: plan.waveSize },
      status: 'scheduled',
      wave: -1,
      waves: plan.waves,
      nextWaveAt: null,
      haltReason: null,
      createdBy: by,
      createdAt: now,
      updatedAt: now,
      startedAt: null,
      endedAt: null,
    };
    const list = members.map((d, i): Update => {
      const uid = randomUUID();
      return { key: uid, id: uid, rolloutId: id, deviceId: d.id, wave: plan.waveOf[i], state: 'pending', reason: null, fromVersion: null, bytes: null, total: null, createdAt: now, updatedAt: now, stateSince: now, offeredAt: null, endedAt: null };
    });
    this.rollouts.set(id, r);
    this.byRollout.set(id, list);
    for (const u of list) {
      this.updates.set(u.id, u);
      this.openByDevice.set(u.deviceId, u);
    }
    // Updates first: a rollout on disk always has its updates.
    await Promise.all(list.map((u) => this.saveUpdate(u)));
    await this.saveRollout(r);
    this.announce(r, 'created');
    if (r.strategy.startAt === null) await this.begin(r);
    return r;
  }

  async pause(id: string): Promise<Rollout> {
    const r = this.get(id);
    if (r.status !== 'running' && r.status !== 'scheduled') throw Errors.ROLLOUT_STATE(`A ${r.status} rollout cannot be paused`);
    r.status = 'paused';
    r.updatedAt = this.deps.now();
    await this.saveRollout(r);
    this.announce(r, 'paused');
    return r;
  }

  async resume(id: string): Promise<Rollout> {
    const r = this.get(id);
    if (r.status !== 'paused') throw Errors.ROLLOUT_STATE(`Only a paused rollout can be resumed; this one is ${r.status}`);
    const now = this.deps.now();
    r.updatedAt = now;
    if (r.startedAt === null) {
      r.status = 'scheduled';
      await this.saveRollout(r);
      this.announce(r, 'resumed');
      if (r.strategy.startAt === null || r.strategy.startAt <= now) await this.begin(r);
      return r;
    }
    r.status = 'running';
    await this.saveRollout(r);
    this.announce(r, 'resumed');
    await this.evaluate(r);
    return r;
  }

  /** Cancel: updates that have not begun installing are cancelled; installs under way finish and are tracked. */
  async cancel(id: string): Promise<Rollout> {
    const r = this.get(id);
    if (!ACTIVE_STATUSES.has(r.status)) throw Errors.ROLLOUT_STATE(`A ${r.status} rollout cannot be cancelled`);
    await this.end(r, 'cancelled', null);
    return r;
  }

  /** A report on `devices/{id}/ota/status`. Refusals are answered on `devices/{id}/ota/rejected` and thrown. */
  async report(deviceId: string, payload: Buffer): Promise<void> {
    let updateId: string | null = null;
    try {
      const report = parseReport(payload);
      updateId = report.updateId ?? null;
      const u = report.updateId === undefined ? null : this.getUpdate(report.updateId);
      if (u && u.deviceId !== deviceId) throw Errors.OTA_NOT_YOUR_UPDATE('That update belongs to another device');
      // A resent report (QoS 1 is at least once) restates the state the update is in: accepted, nothing changes.
      const repeat = !!u && report.state === u.state;
      if (u && report.state && !repeat && !DEVICE_STEPS[u.state].includes(report.state)) throw Errors.OTA_INVALID_TRANSITION(`The update is ${u.state}; ${report.state} cannot follow`);
      const openBefore = !!u && !TERMINAL.has(u.state);
      // The version first: it is what the device runs as it sends this report, before the step it reports.
      if (report.version) await this.recordVersion(deviceId, report.version);
      if (!u || !report.state || (openBefore && TERMINAL.has(u.state))) return;
      if (repeat && report.state !== 'downloading') return;
      const progress = { bytes: report.bytes ?? u.bytes, total: report.total ?? u.total };
      await this.move(u, report.state, report.state === 'failed' ? (report.reason ?? 'device_failed') : null, progress);
    } catch (err) {
      if (isFieldflowError(err) && err.status < 500) {
        updateId ??= guessUpdateId(payload);
        this.send(deviceId, 'ota/rejected', JSON.stringify({ updateId, code: err.code, message: err.message }), false);
      }
      throw err;
    }
  }

  /**
   * A version from a status report: kept as the device's `firmware` tag (so it survives restarts and
   * shows over REST), which applies it through the tag listener.
   */
  private async recordVersion(deviceId: string, version: string): Promise<void> {
    const tagged = this.currentVersion(deviceId);
    if (tagged === null || tagged !== version) {
      try {
        await this.deps.tags.commit(deviceId, FIRMWARE_APP_KEY, { firmware: version });
        return;
      } catch (err) {
        // firmware declared with another type, say: the report still counts.
        this.deps.log.warn('could not record the reported version as the firmware tag', { device: deviceId, error: (err as Error).message });
      }
    }
    await this.onVersion(deviceId, version);
  }

  /** A device said which version it runs. */
  private onVersion(deviceId: string, version: string): Promise<void> {
    const u = this.openByDevice.get(deviceId);
    if (!u || u.state === 'pending') return Promise.resolve();
    const target = this.rollouts.get(u.rolloutId)!.version;
    if (semver.eq(version, target)) return this.move(u, 'succeeded', null);
    if (u.state !== 'installing') return Promise.resolve();
    // Still on (or back on) something else after installing: the new image did not stick.
    const reason = u.fromVersion === null || semver.eq(version, u.fromVersion) ? 'rolled_back' : `wrong_version:${version}`;
    return this.move(u, 'failed', reason);
  }

  private async dropDevice(deviceId: string): Promise<void> {
    const u = this.openByDevice.get(deviceId);
    if (u) await this.move(u, 'cancelled', 'device_deleted');
  }

  /**
   * Move an update to a state and write it; then see what that means for its rollout. Resolves
   * once both are on disk. Events go out after the write.
   */
  private move(u: Update, state: UpdateState, reason: string | null, progress?: { bytes: number | null; total: number | null }): Promise<void> {
    const now = this.deps.now();
    const changed = u.state !== state;
    u.state = state;
    u.reason = reason;
    u.updatedAt = now;
    if (progress) {
      u.bytes = progress.bytes;
      u.total = progress.total;
    }
    if (changed) u.stateSince = now;
    if (state === 'offered') u.offeredAt = now;
    if (TERMINAL.has(state)) {
      u.endedAt = now;
      if (this.openByDevice.get(u.deviceId) === u) {
        this.openByDevice.delete(u.deviceId);
        if (u.offeredAt !== null) this.send(u.deviceId, 'ota', '', true);
      }
    }
    const r = this.rollouts.get(u.rolloutId)!;
    const view = updateView(u);
    const saved = this.saveUpdate(u).then(() => {
      const device = this.deviceRef(u.deviceId);
      this.deps.events.emit({ type: 'OtaUpdate', device, rollout: { id: r.id, name: r.name }, update: view, ts: now });
      if (state === 'failed') this.deps.events.emit({ type: 'OtaFailed', device, rollout: { id: r.id, name: r.name, version: r.version }, update: view, reason: reason ?? 'failed', ts: now });
    });
    if (!changed) return saved;
    // Deferred a microtask: a wave of updates that end at once (all already current) must not recurse wave by wave.
    const next = Promise.resolve().then(() => this.evaluate(r, state === 'failed' ? u : undefined));
    return Promise.all([saved, next]).then(() => undefined);
  }

  /** What the rollout does next: halt past the failure threshold, start the next wave, or complete. */
  private evaluate(r: Rollout, failed?: Update): Promise<void> {
    if (failed && (r.status === 'running' || r.status === 'paused')) {
      const list = this.byRollout.get(r.id)!;
      if (failed.wave === 0 && r.strategy.canary > 0) return this.halt(r, 'canary_failed', failed);
      const nFailed = list.filter((u) => u.state === 'failed').length;
      const offered = list.filter((u) => u.offeredAt !== null).length;
      if (nFailed / Math.max(offered, 1) > r.strategy.maxFailureRatio) return this.halt(r, `failure_ratio: ${nFailed} of ${offered} offered failed (limit ${r.strategy.maxFailureRatio})`, failed);
    }
    if (r.status !== 'running') return Promise.resolve();
    const list = this.byRollout.get(r.id)!;
    // After a crash between the writes of a wave start, the updates may say a wave started that the
    // rollout does not, or the other way round: go by the updates, and offer what a started wave still has pending.
    let started = r.wave;
    for (const u of list) if (u.state !== 'pending') started = Math.max(started, u.wave);
    if (started > r.wave || list.some((u) => u.state === 'pending' && u.wave <= started && started >= 0)) return this.startWave(r, started);
    if (list.every((u) => TERMINAL.has(u.state))) return this.end(r, 'completed', null);
    if (!list.every((u) => u.wave !== r.wave || TERMINAL.has(u.state))) return Promise.resolve();
    const canary = list.filter((u) => u.wave === 0);
    if (r.wave === 0 && canary.length && !canary.some((u) => u.state === 'succeeded' && u.reason === null) && !canary.every((u) => u.reason === 'already_current')) {
      // The canary devices were deleted or cancelled before any installed it: nothing has shown the image works.
      return this.halt(r, 'canary_inconclusive', canary[0]);
    }
    let next = Infinity;
    for (const u of list) if (u.state === 'pending' && u.wave > r.wave) next = Math.min(next, u.wave);
    if (next === Infinity) return Promise.resolve();
    const now = this.deps.now();
    if (r.wave >= 0 && r.strategy.wavePauseMs > 0) {
      if (r.nextWaveAt === null) {
        r.nextWaveAt = now + r.strategy.wavePauseMs;
        r.updatedAt = now;
        return this.saveRollout(r);
      }
      if (now < r.nextWaveAt) return Promise.resolve();
    }
    return this.startWave(r, next);
  }

  private async begin(r: Rollout): Promise<void> {
    if (r.status !== 'scheduled') return;
    const now = this.deps.now();
    r.status = 'running';
    r.startedAt = now;
    r.updatedAt = now;
    await this.saveRollout(r);
    this.announce(r, 'started');
    await this.evaluate(r);
  }

  private async startWave(r: Rollout, wave: number): Promise<void> {
    const now = this.deps.now();
    r.wave = wave;
    r.nextWaveAt = null;
    r.updatedAt = now;
    const writes: Promise<void>[] = [this.saveRollout(r)];
    const members = this.byRollout.get(r.id)!.filter((u) => u.wave <= wave && u.state === 'pending');
    this.announce(r, 'wave');
    for (const u of members) writes.push(this.offer(r, u));
    await Promise.all(writes);
  }

  private offer(r: Rollout, u: Update): Promise<void> {
    if (!this.deps.devices.get(u.deviceId)) return this.move(u, 'cancelled', 'device_deleted');
    u.fromVersion = this.currentVersion(u.deviceId);
    if (u.fromVersion !== null && semver.eq(u.fromVersion, r.version)) return this.move(u, 'succeeded', 'already_current');
    // Published once the state is on disk, so a device never acts on an offer the server could forget.
    return this.move(u, 'offered', null).then(() => {
      if (!TERMINAL.has(u.state)) this.publishOffer(u);
    });
  }

  private publishOffer(u: Update): void {
    const r = this.rollouts.get(u.rolloutId)!;
    let artifact;
    try {
      artifact = this.deps.artifacts.get(r.artifactId);
    } catch {
      return; // deleted after the rollout ended; nothing to offer
    }
    const offer = {
      updateId: u.id,
      rolloutId: r.id,
      artifact: { id: artifact.id, name: artifact.name, version: artifact.version, size: artifact.size, sha256: artifact.sha256, signature: artifact.signature },
      url: `${this.deps.publicUrl ?? ''}/api/v1/devices/${encodeURIComponent(u.deviceId)}/ota/artifacts/${artifact.id}`,
      offeredAt: new Date(u.offeredAt ?? this.deps.now()).toISOString(),
    };
    this.send(u.deviceId, 'ota', JSON.stringify(offer), true);
  }

  /** End a rollout as halted, cancelled or completed. Updates not yet installing are cancelled. */
  private async end(r: Rollout, status: 'halted' | 'cancelled' | 'completed', reason: string | null): Promise<void> {
    const now = this.deps.now();
    r.status = status;
    r.haltReason = reason;
    r.nextWaveAt = null;
    r.endedAt = now;
    r.updatedAt = now;
    const writes: Promise<void>[] = [this.saveRollout(r)];
    const why = status === 'halted' ? 'rollout_halted' : 'rollout_cancelled';
    for (const u of this.byRollout.get(r.id)!) if (OPEN_BEFORE_INSTALL.has(u.state)) writes.push(this.move(u, 'cancelled', why));
    await Promise.all(writes);
    this.announce(r, status);
  }

  private async halt(r: Rollout, reason: string, failed: Update): Promise<void> {
    this.deps.log.warn('OTA rollout halted', { rollout: r.id, reason });
    await this.end(r, 'halted', reason);
    if (!this.deps.devices.get(failed.deviceId)) return;
    const p = this.progress(r.id);
    await this.deps.alarms
      .raise({
        device: failed.deviceId,
        type: HALT_ALARM_TYPE,
        severity: 'major',
        message: `Rollout ${r.name} halted: ${reason}`,
        details: { rolloutId: r.id, rollout: r.name, version: r.version, reason, failedUpdate: failed.id, failed: p.failed, succeeded: p.succeeded, cancelled: p.cancelled },
        source: { kind: 'ota', id: r.id },
      })
      .catch((err) => this.deps.log.error('could not raise the rollout-halted alarm', { rollout: r.id, error: (err as Error).message }));
  }

  /** Timeouts, scheduled starts and the ends of wave pauses. */
  private sweep(): void {
    const now = this.deps.now();
    for (const r of this.rollouts.values()) {
      // startAt null: created to start at once, and the start was not written before a crash.
      if (r.status === 'scheduled' && (r.strategy.startAt === null || r.strategy.startAt <= now)) this.settle(this.begin(r), 'rollout start');
      else if (r.status === 'running' && r.nextWaveAt !== null && r.nextWaveAt <= now) this.settle(this.evaluate(r), 'next wave');
    }
    for (const u of this.openByDevice.values()) {
      if (!(TIMED_STATES as readonly string[]).includes(u.state)) continue;
      const limit = this.rollouts.get(u.rolloutId)!.strategy.timeouts[u.state as TimedState];
      if (now - Math.max(u.stateSince, this.attachedAt) > limit) this.settle(this.move(u, 'failed', `timeout:${u.state}`), 'update timeout');
    }
  }

  /** The device's `device.firmware` tag, if it is a version. */
  private currentVersion(deviceId: string): string | null {
    const v = this.deps.tags.all(deviceId)[FIRMWARE_APP_KEY]?.firmware;
    return typeof v === 'string' ? semver.valid(v) : null;
  }

  private announce(r: Rollout, action: 'created' | 'started' | 'wave' | 'paused' | 'resumed' | 'halted' | 'cancelled' | 'completed'): void {
    this.deps.events.emit({ type: 'OtaRollout', action, rollout: this.view(r), ts: this.deps.now() });
  }

  private deviceRef(id: string): DeviceRef {
    const device = this.deps.devices.get(id);
    return device ? deviceRef(device) : { id, name: id, labels: {} };
  }

  private send(deviceId: string, subtopic: string, payload: string, retain: boolean): void {
    this.link?.publishToDevice(deviceId, subtopic, payload, { retain, qos: 1 }).catch((err) => this.deps.log.error('OTA publish failed', { device: deviceId, topic: subtopic, error: (err as Error).message }));
  }

  private saveRollout(r: Rollout): Promise<void> {
    return this.rolloutStore.save(r.key, () => this.rollouts.get(r.key) ?? null);
  }

  private saveUpdate(u: Update): Promise<void> {
    return this.updateStore.save(u.key, () => this.updates.get(u.key) ?? null);
  }

  private settle(p: Promise<unknown>, what: string): void {
    p.catch((err) => this.deps.log.error(`OTA ${what} failed`, { error: (err as Error).message }));
  }
}
