import { randomUUID } from 'node:crypto';
import { Errors } from '../errors';
import type { Collection, Store } from '../store';
import type { EventBus, MessageCreateEvent } from '../events';
import type { Logger } from '../log';
import type { ChannelService } from '../channels/service';
import type { AlarmService } from '../alarms/service';
import { deviceRef, type DeviceRegistry } from '../devices/registry';
import { matchesSelector, parseSelector } from '../devices/selector';
import { Evaluator, type Outcome, type Step, type TriggerState } from './evaluator';
import { EVENTS_CHANNEL, validateTrigger, watched, type Trigger, type TriggerFire, type TriggerSpec } from './model';
import { compilePath, MISSING, readPath } from './path';
import { runBacktest, type BacktestRange, type BacktestResult } from './backtest';
import type { StateRecord } from './state-store';
import { VersionedStore } from '../store/versioned';
import { isStorageError } from '../store/data-file';

/** A trigger ready to run. */
interface Compiled {
  trigger: Trigger;
  evaluator: Evaluator;
  channel: string;
  path: string[] | null;
  matches: (device: { id: string; labels: Record<string, string> }) => boolean;
  /** When it started watching: the start of the silence for devices that never sent data. */
  activatedAt: number;
  /** Its slots by device id: the per-message lookup, with no key to build. */
  slots: Map<string, Slot>;
}

type Action = { fire: TriggerFire } | { reset: number };

/** One trigger's state on one device. */
interface Slot {
  key: string;
  compiled: Compiled;
  deviceId: string;
  state: TriggerState;
  /** No data: when watching began for this device (persisted, so restarts do not restart the clock). */
  since: number;
  /** Fires persisted with the state but not yet logged and announced. */
  unlogged: TriggerFire[];
  actions: Action[];
  dirty: boolean;
  saving: Promise<void> | null;
  timer: NodeJS.Timeout | null;
  timerAt: number;
}

interface TriggerDoc extends Omit<Trigger, 'id'> {
  _id: string;
}

export interface TriggerServiceDeps {
  store: Store;
  devices: DeviceRegistry;
  channels: ChannelService;
  alarms: AlarmService;
  events: EventBus;
  log: Logger;
  now: () => number;
}

/** setTimeout's limit; longer waits are re-armed when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How often no-data triggers look for devices they do not watch yet (new or relabelled). */
const RECONCILE_MS = 5000;

/**
 * Triggers: conditions on a channel field or a tag, evaluated per device on every stored message.
 * The state machine is in evaluator.ts; this service feeds it, keeps its state on disk, runs the
 * timers (held conditions, silences), logs each fire on the device's `events` channel, announces
 * it as TriggerFired, and raises and clears the trigger's alarm.
 *
 * A fire is written into the state document before it is logged, so a crash in between neither
 * loses it (recovery logs it) nor repeats it (the state already says it fired).
 */
export class TriggerService {
  private readonly triggers = new Map<string, Trigger>();
  private readonly running = new Map<string, Compiled>();
  /** Running triggers by channel, for every device (selector or all). */
  private readonly shared = new Map<string, Compiled[]>();
  /** Running triggers of one device, by device then channel. */
  private readonly own = new Map<string, Map<string, Compiled[]>>();
  /** Running no-data triggers on any channel. */
  private anyChannel: Compiled[] = [];
  private readonly slots = new Map<string, Slot>();
  /** Persisted states of triggers not running now, by trigger id then slot key. */
  private readonly loaded = new Map<string, Map<string, StateRecord>>();
  private triggerDocs!: Collection<TriggerDoc>;
  private readonly states = new VersionedStore<StateRecord>('trigger_states');
  private unsubscribe: (() => void) | null = null;
  private reconcileTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly deps: TriggerServiceDeps) {}

  async start(): Promise<void> {
    this.triggerDocs = await this.deps.store.collection<TriggerDoc>('triggers');

    for (const { _id, ...doc } of await this.triggerDocs.all()) this.triggers.set(_id, { id: _id, ...doc });
    for (const record of await this.states.load(this.deps.store)) this.keep(record);
    for (const trigger of this.triggers.values()) {
      if (trigger.owner !== 'api' || trigger.enabled === false) continue;
      try {
        this.activate(trigger);
      } catch (err) {
        // One stored trigger that no longer compiles must not keep the platform from starting.
        this.deps.log.error('a stored trigger cannot run', { trigger: trigger.id, error: (err as Error).message });
      }
    }
    this.reconcileTimer = setInterval(() => this.reconcile(), RECONCILE_MS);
    this.reconcileTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    for (const slot of this.slots.values()) this.clearTimer(slot);
    await Promise.all([...this.slots.values()].map((s) => s.saving));
    await this.states.drain();
  }

  list(): Trigger[] {
    return [...this.triggers.values()].map((t) => structuredClone(t));
  }

  get(id: string): Trigger {
    return structuredClone(this.require(id));
  }

  /** Whether a trigger is evaluating now (api triggers when enabled; flow triggers while deployed). */
  isRunning(id: string): boolean {
    return this.running.has(id);
  }

  async create(input: unknown): Promise<Trigger> {
    const spec = validateTrigger(input);
    const now = this.deps.now();
    const trigger: Trigger = { ...spec, id: randomUUID(), owner: 'api', createdAt: now, updatedAt: now };
    await this.triggerDocs.insert(toDoc(trigger));
    this.triggers.set(trigger.id, trigger);
    if (trigger.enabled !== false) this.activate(trigger);
    return structuredClone(trigger);
  }

  /** Replace an api trigger's definition. Its per-device state starts afresh: the old state meant another condition. */
  async update(id: string, input: unknown): Promise<Trigger> {
    const existing = this.require(id);
    if (existing.owner === 'flow') throw Errors.CONFLICT(`Trigger ${id} belongs to a trigger node; change it in the flow editor`);
    const spec = validateTrigger(input);
    const trigger: Trigger = { ...spec, id, owner: 'api', createdAt: existing.createdAt, updatedAt: this.deps.now() };
    await this.triggerDocs.replace(toDoc(trigger));
    await this.reset(id);
    if (!this.triggers.has(id)) throw Errors.TRIGGER_NOT_FOUND(`Trigger ${id} was deleted while it was being changed`);
    this.triggers.set(id, trigger);
    if (trigger.enabled !== false) this.activate(trigger);
    return structuredClone(trigger);
  }

  async remove(id: string): Promise<void> {
    const existing = this.require(id);
    if (existing.owner === 'flow') throw Errors.CONFLICT(`Trigger ${id} belongs to a trigger node; delete the node in the flow editor`);
    await this.forget(id);
  }

  /**
   * Run a flow's trigger (a `trigger` node being deployed). Its id is derived from the node id, so
   * a restart or a redeploy of the same node finds its state. A changed definition starts afresh.
   */
  async attach(nodeId: string, input: unknown): Promise<Trigger> {
    const spec = validateTrigger(input);
    const id = flowTriggerId(nodeId);
    const existing = this.triggers.get(id);
    const now = this.deps.now();
    const same = existing && canonical(definition(existing)) === canonical(spec);
    if (!same) {
      const trigger: Trigger = { ...spec, id, owner: 'flow', createdAt: existing?.createdAt ?? now, updatedAt: now };
      if (existing) {
        await this.reset(id);
        await this.triggerDocs.replace(toDoc(trigger));
      } else {
        await this.triggerDocs.insert(toDoc(trigger));
      }
      this.triggers.set(id, trigger);
    }
    this.deactivate(id);
    const trigger = this.triggers.get(id)!;
    if (trigger.enabled !== false) this.activate(trigger);
    return structuredClone(trigger);
  }

  /** Stop running a flow's trigger, keeping its state (the node is being redeployed or the server is stopping). */
  detach(nodeId: string): void {
    this.deactivate(flowTriggerId(nodeId));
  }

  /** Delete a flow's trigger and its state (its node was deleted). */
  async removeFlow(nodeId: string): Promise<void> {
    const id = flowTriggerId(nodeId);
    if (this.triggers.has(id)) await this.forget(id);
  }

  /** What a definition would have fired over stored history. See backtest.ts. */
  backtest(input: unknown, range: BacktestRange): Promise<BacktestResult> {
    const spec = validateTrigger(input);
    return runBacktest(spec, range, { channels: this.deps.channels, devices: this.deps.devices, now: this.deps.now });
  }

  /** Forget a deleted device's trigger states. */
  async dropDevice(deviceId: string): Promise<void> {
    const keys = [...this.slots.values()].filter((s) => s.deviceId === deviceId).map((s) => s.key);
    const stored: string[] = [];
    for (const docs of this.loaded.values()) {
      for (const doc of docs.values()) {
        if (doc.device !== deviceId) continue;
        stored.push(doc.key);
        docs.delete(doc.key);
      }
    }
    for (const key of keys) {
      const slot = this.slots.get(key)!;
      this.clearTimer(slot);
      this.slots.delete(key);
      slot.compiled.slots.delete(deviceId);
      await slot.saving;
    }
    await this.states.remove([...new Set([...keys, ...stored])]);
  }

  // ---- evaluation ----

  private onMessage(event: MessageCreateEvent): void {
    if (event.channel === EVENTS_CHANNEL) return;
    const shared = this.shared.get(event.channel);
    const own = this.own.get(event.device.id)?.get(event.channel);
    if (shared) for (const c of shared) this.evaluate(c, event);
    if (own) for (const c of own) this.evaluate(c, event);
    for (const c of this.anyChannel) this.evaluate(c, event);
  }

  private evaluate(c: Compiled, event: MessageCreateEvent): void {
    if (!c.matches(event.device)) return;
    let value: unknown;
    if (c.path) {
      value = readPath(event.data, c.path);
      if (value === MISSING) return;
    }
    const slot = this.slot(c, event.device.id);
    const step = c.evaluator.observe(slot.state, value, event.ts, event.messageId);
    this.apply(slot, step);
  }

  private tick(slot: Slot): void {
    slot.timer = null;
    if (this.stopped || this.slots.get(slot.key) !== slot) return;
    const device = this.deps.devices.get(slot.deviceId);
    if (!device || !slot.compiled.matches(device)) return;
    this.apply(slot, slot.compiled.evaluator.advance(slot.state, this.deps.now()));
  }

  private apply(slot: Slot, step: Step): void {
    if (step.changed) {
      for (const outcome of step.outcomes) slot.actions.push(this.action(slot, outcome));
      slot.dirty = true;
      this.save(slot);
    }
    this.arm(slot);
  }

  private action(slot: Slot, outcome: Outcome): Action {
    if (outcome.type === 'reset') return { reset: outcome.ts };
    const { trigger, channel, path } = slot.compiled;
    const f = outcome.fire;
    const fire: TriggerFire = {
      id: `${trigger.id}/${slot.deviceId}/${f.ts}/${f.edge}`,
      trigger: { id: trigger.id, name: trigger.name, kind: trigger.kind },
      device: slot.deviceId,
      ts: f.ts,
      edge: f.edge,
      value: f.value,
      previous: f.previous,
      channel,
      path: path ? path.join('.') : null,
      messageId: f.messageId,
      since: f.since,
    };
    slot.unlogged.push(fire);
    return { fire };
  }

  /** Persist a slot, then carry out its actions, one run at a time per slot, in order. */
  private save(slot: Slot): void {
    if (slot.saving) return;
    slot.saving = (async () => {
      while (slot.dirty || slot.actions.length) {
        slot.dirty = false;
        const actions = slot.actions.splice(0);
        if (this.slots.get(slot.key) !== slot) return;
        try {
          await this.states.save(slot.key, () => (this.slots.get(slot.key) === slot ? record(slot) : null));
        } catch (err) {
          // Carry on: announcing a fire late or twice after a crash is better than never. The store
          // retries, and a failing disk is logged once per run by write health.
          if (!isStorageError(err)) this.deps.log.error('trigger state write failed', { trigger: slot.compiled.trigger.id, device: slot.deviceId, error: (err as Error).message });
        }
        for (const action of actions) {
          if ('fire' in action) {
            // A fire that could not be logged stays in the state document: the next start logs it.
            if (!(await this.announce(slot, action.fire))) continue;
            // Not written now: until the slot's next write the stored copy still lists the fire,
            // and a restart in between finds it on the events channel and does not log it again.
            slot.unlogged = slot.unlogged.filter((f) => f !== action.fire);
          } else {
            await this.clearAlarm(slot);
          }
        }
      }
    })().finally(() => {
      slot.saving = null;
      // What changed between the loop's last check and now (a microtask later) needs a run of its own.
      if ((slot.dirty || slot.actions.length) && this.slots.get(slot.key) === slot) this.save(slot);
    });
  }

  /** Log a fire on the device's events channel, announce it, and raise the trigger's alarm. */
  private async announce(slot: Slot, fire: TriggerFire): Promise<boolean> {
    const device = this.deps.devices.get(slot.deviceId);
    if (!device) return true;
    try {
      await this.deps.channels.publishInternal(slot.deviceId, EVENTS_CHANNEL, { type: 'TriggerFired', ...fire });
    } catch (err) {
      this.deps.log.error('could not log a trigger fire', { trigger: fire.trigger.id, device: fire.device, error: (err as Error).message });
      return false;
    }
    this.deps.events.emit({ type: 'TriggerFired', device: deviceRef(device), fire });
    const alarm = slot.compiled.trigger.alarm;
    if (!alarm || (fire.edge === 'falling' && slot.compiled.trigger.direction === 'both')) return true;
    await this.deps.alarms
      .raise({
        device: slot.deviceId,
        type: alarm.type!,
        severity: alarm.severity,
        message: alarm.message ?? `${fire.trigger.name}: ${fire.path ?? fire.channel} ${describe(fire)}`,
        details: { trigger: fire.trigger.id, fire: fire.id, value: fire.value, previous: fire.previous, channel: fire.channel, path: fire.path, since: fire.since },
        source: { kind: 'trigger', id: fire.trigger.id },
      })
      .catch((err) => this.deps.log.error('trigger could not raise its alarm', { trigger: fire.trigger.id, error: (err as Error).message }));
    return true;
  }

  private async clearAlarm(slot: Slot): Promise<void> {
    const alarm = slot.compiled.trigger.alarm;
    if (!alarm || alarm.clear === false) return;
    const open = this.deps.alarms.findOpen(slot.deviceId, alarm.type!);
    if (!open || open.source.id !== slot.compiled.trigger.id) return;
    await this.deps.alarms
      .clear(open.id, { by: `trigger:${slot.compiled.trigger.id}`, comment: 'condition cleared' })
      .catch((err) => this.deps.log.error('trigger could not clear its alarm', { trigger: slot.compiled.trigger.id, error: (err as Error).message }));
  }

  // ---- timers ----

  /** Keep one timer per slot at (or before) its next deadline; an early timer just re-arms. */
  private arm(slot: Slot): void {
    const deadline = slot.compiled.evaluator.nextDeadline(slot.state);
    if (deadline === null) return this.clearTimer(slot);
    if (slot.timer && slot.timerAt <= deadline) return;
    this.clearTimer(slot);
    const wait = Math.min(Math.max(0, deadline - this.deps.now()), MAX_TIMER_MS);
    slot.timerAt = deadline;
    slot.timer = setTimeout(() => this.tick(slot), wait);
    slot.timer.unref();
  }

  private clearTimer(slot: Slot): void {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
  }

  // ---- running set ----

  private activate(trigger: Trigger): void {
    // Never two copies running: a concurrent update may have activated it meanwhile.
    this.deactivate(trigger.id);
    const { channel, path } = watched(trigger);
    const selector = trigger.selector ? parseSelector(trigger.selector) : null;
    const c: Compiled = {
      trigger,
      evaluator: new Evaluator(trigger),
      channel,
      path: path ? compilePath(path) : null,
      matches: trigger.device ? (d) => d.id === trigger.device : selector ? (d) => matchesSelector(d.labels, selector) : () => true,
      activatedAt: this.deps.now(),
      slots: new Map(),
    };
    this.running.set(trigger.id, c);
    // Listen only while something runs: with no listener, ingestion skips building events.
    this.unsubscribe ??= this.deps.events.on('MessageCreate', (event) => this.onMessage(event));
    if (channel === '+') this.anyChannel = [...this.anyChannel, c];
    else if (trigger.device) push(nested(this.own, trigger.device), channel, c);
    else push(this.shared, channel, c);
    this.restore(c);
    if (trigger.kind === 'nodata') this.watchSilence(c);
  }

  private deactivate(id: string): void {
    const c = this.running.get(id);
    if (!c) return;
    this.running.delete(id);
    if (this.running.size === 0) {
      this.unsubscribe?.();
      this.unsubscribe = null;
    }
    this.anyChannel = this.anyChannel.filter((x) => x !== c);
    pull(this.shared, c.channel, c);
    if (c.trigger.device) pull(this.own.get(c.trigger.device) ?? new Map(), c.channel, c);
    for (const slot of this.slots.values()) {
      if (slot.compiled !== c) continue;
      this.clearTimer(slot);
      this.slots.delete(slot.key);
      // Keep what is on disk for the next activation (a redeploy of the same node).
      const { lastTs: _t, ...state } = slot.state;
      this.keep({ key: slot.key, trigger: id, device: slot.deviceId, state, since: slot.since, unlogged: slot.unlogged });
    }
  }

  /** Bring back the persisted state of a trigger: pending timers resume, unannounced fires go out. */
  private restore(c: Compiled): void {
    const docs = this.loaded.get(c.trigger.id);
    this.loaded.delete(c.trigger.id);
    for (const doc of docs?.values() ?? []) {
      if (!this.deps.devices.get(doc.device)) continue;
      const slot = this.newSlot(c, doc.device, structuredClone(doc.state), doc.since);
      slot.unlogged = doc.unlogged ?? [];
      if (c.trigger.kind === 'nodata') slot.state.lastTs = this.lastData(c, doc.device) ?? doc.since;
      if (slot.unlogged.length) {
        // Written with the state but maybe not logged before a crash: log what the channel lacks.
        this.recover(slot, slot.unlogged);
      } else if (!slot.state.active && c.trigger.alarm && this.deps.alarms.findOpen(doc.device, c.trigger.alarm.type!)?.source.id === c.trigger.id) {
        // A clear that a crash cut short.
        void this.clearAlarm(slot);
      }
      // A held condition whose time passed while stopped fires at once (stamped with its deadline).
      this.arm(slot);
    }
  }

  private recover(slot: Slot, fires: TriggerFire[]): void {
    slot.saving = (async () => {
      const logged = new Set<string>();
      await this.deps.channels
        .scan(slot.deviceId, EVENTS_CHANNEL, { after: Math.min(...fires.map((f) => f.ts)) - 1 }, (r) => {
          const data = JSON.parse(r.json) as { id?: unknown } | null;
          if (data && typeof data.id === 'string') logged.add(data.id);
        })
        .catch(() => undefined);
      const left: TriggerFire[] = [];
      for (const fire of fires) {
        if (!logged.has(fire.id) && !(await this.announce(slot, fire))) left.push(fire);
      }
      // Only what recovery handled: fires added meanwhile stay until they are logged.
      slot.unlogged = slot.unlogged.filter((f) => !fires.includes(f) || left.includes(f));
      slot.dirty = true;
    })().finally(() => {
      slot.saving = null;
      this.save(slot);
    });
  }

  private keep(doc: StateRecord): void {
    let docs = this.loaded.get(doc.trigger);
    if (!docs) this.loaded.set(doc.trigger, (docs = new Map()));
    docs.set(doc.key, doc);
  }

  /** No data: start watching every matching device, including ones that never sent anything. */
  private watchSilence(c: Compiled): void {
    const one = c.trigger.device ? this.deps.devices.get(c.trigger.device) : undefined;
    for (const device of c.trigger.device ? (one ? [one] : []) : this.deps.devices.all()) {
      const key = slotKey(c.trigger.id, device.id);
      if (this.slots.has(key) || !c.matches(device)) continue;
      const since = Math.max(c.activatedAt, device.createdAt);
      const slot = this.newSlot(c, device.id, c.evaluator.initial(), since);
      slot.state.lastTs = this.lastData(c, device.id) ?? since;
      this.arm(slot);
    }
  }

  private reconcile(): void {
    for (const c of this.running.values()) if (c.trigger.kind === 'nodata') this.watchSilence(c);
  }

  /** The newest data time a no-data trigger would have seen for a device. */
  private lastData(c: Compiled, deviceId: string): number | null {
    const channels = c.channel === '+' ? this.deps.channels.channelNames(deviceId).filter((n) => n !== EVENTS_CHANNEL) : [c.channel];
    let last: number | null = null;
    for (const name of channels) {
      const t = this.deps.channels.lastMessageTime(deviceId, name);
      if (t !== null && (last === null || t > last)) last = t;
    }
    return last;
  }

  private slot(c: Compiled, deviceId: string): Slot {
    return c.slots.get(deviceId) ?? this.newSlot(c, deviceId, c.evaluator.initial(), this.deps.now());
  }

  private newSlot(c: Compiled, deviceId: string, state: TriggerState, since: number): Slot {
    const key = slotKey(c.trigger.id, deviceId);
    const slot: Slot = { key, compiled: c, deviceId, state, since, unlogged: [], actions: [], dirty: false, saving: null, timer: null, timerAt: 0 };
    this.slots.set(key, slot);
    c.slots.set(deviceId, slot);
    return slot;
  }

  /** Stop a trigger and delete its state. */
  private async reset(id: string): Promise<void> {
    const pendingSaves = [...this.slots.values()].filter((s) => s.compiled.trigger.id === id).map((s) => s.saving);
    this.deactivate(id);
    await Promise.all(pendingSaves);
    const keys = [...(this.loaded.get(id)?.keys() ?? [])];
    this.loaded.delete(id);
    await this.states.remove(keys);
  }

  private async forget(id: string): Promise<void> {
    await this.reset(id);
    await this.triggerDocs.remove(id);
    this.triggers.delete(id);
  }

  private require(id: string): Trigger {
    const trigger = typeof id === 'string' ? this.triggers.get(id) : undefined;
    if (!trigger) throw Errors.TRIGGER_NOT_FOUND(`No trigger has id ${JSON.stringify(String(id).slice(0, 80))}`);
    return trigger;
  }
}

export function flowTriggerId(nodeId: string): string {
  return `node-${nodeId}`;
}

/** What is persisted of a slot; the time of the last message is rebuilt on start instead. */
function record(slot: Slot): StateRecord {
  const { lastTs: _transient, ...state } = slot.state;
  return { key: slot.key, trigger: slot.compiled.trigger.id, device: slot.deviceId, state, since: slot.since, unlogged: slot.unlogged };
}

function slotKey(triggerId: string, deviceId: string): string {
  return `${triggerId}|${deviceId}`;
}

/** The user-written part of a trigger, as validateTrigger() returns it. */
function definition(t: Trigger): TriggerSpec {
  const { id: _id, owner: _o, createdAt: _c, updatedAt: _u, ...spec } = t;
  return validateTrigger(spec);
}

/** JSON with sorted keys, to compare definitions whatever order their fields were written in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
}

function toDoc(t: Trigger): TriggerDoc {
  const { id, ...rest } = t;
  return { _id: id, ...rest };
}

function describe(fire: TriggerFire): string {
  if (fire.edge === 'silent') return `no data since ${new Date(fire.since).toISOString()}`;
  return `${JSON.stringify(fire.previous)} -> ${JSON.stringify(fire.value)} (${fire.edge})`;
}

function nested<K, V>(map: Map<K, Map<string, V>>, key: K): Map<string, V> {
  let inner = map.get(key);
  if (!inner) map.set(key, (inner = new Map()));
  return inner;
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  // Replaced, not mutated: an evaluation loop in progress keeps iterating the old array.
  map.set(key, [...(map.get(key) ?? []), value]);
}

function pull<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key)?.filter((x) => x !== value);
  if (list && list.length) map.set(key, list);
  else map.delete(key);
}
