import type { Logger } from './log';
import type { TriggerFire } from './triggers/model';
import type { AlarmView } from './alarms/views';
import type { Severity } from './alarms/severity';
import type { DeliveryView } from './notify/views';
import type { RolloutView, UpdateView } from './ota/views';

/**
 * The device fields every event carries, so a consumer need not look the device up.
 * Events are shared by every handler: handlers must not change them (copy first).
 */
export interface DeviceRef {
  id: string;
  name: string;
  labels: Record<string, string>;
}

export interface MessageCreateEvent {
  type: 'MessageCreate';
  device: DeviceRef;
  channel: string;
  messageId: string;
  /** Server time of the message, in ms since the Unix epoch (decoded from the id). */
  ts: number;
  data: unknown;
  /** The data as stored JSON text: parsing it is the cheapest way to get a private copy. */
  json: string;
}

export interface AggregateUpdateEvent {
  type: 'AggregateUpdate';
  device: DeviceRef;
  channel: string;
  /** The message whose merge produced this aggregate. */
  messageId: string;
  ts: number;
  /** The whole aggregate after the merge. */
  data: unknown;
}

export interface DeviceStatusEvent {
  type: 'DeviceConnect' | 'DeviceDisconnect';
  device: DeviceRef;
  online: boolean;
  /** When it happened, in ms since the Unix epoch; also the device's new lastSeen. */
  ts: number;
}

export interface TriggerFiredEvent {
  type: 'TriggerFired';
  device: DeviceRef;
  /** The fire as it is logged on the device's `events` channel. */
  fire: TriggerFire;
}

export interface AlarmEvent {
  type: 'AlarmRaised' | 'AlarmUpdated' | 'AlarmAcked' | 'AlarmCleared';
  device: DeviceRef;
  alarm: AlarmView;
  ts: number;
}

export interface ScheduleEvent {
  type: 'Schedule';
  schedule: { id: string; name: string; cron: string; timezone: string };
  /** When the run was due, in ms since the Unix epoch. */
  ts: number;
  payload: unknown;
}

/** A custom event from a flow (the notify node) or the REST API, for notification subscriptions. */
export interface CustomEvent {
  type: 'Custom';
  /** Unique per occurrence. */
  id: string;
  /** What happened, in the flow's words ("door-open"); subscriptions can match on it. */
  name: string;
  device: DeviceRef | null;
  severity: Severity | null;
  message: string;
  data: unknown;
  ts: number;
}

/** A notification delivery changed state (queued, sent, retrying, dead...): for `notify in` nodes. */
export interface DeliveryEvent {
  type: 'NotificationDelivery';
  delivery: DeliveryView;
  ts: number;
}

/** A rollout changed: created, started, a wave began, paused, resumed, halted, cancelled, completed. */
export interface OtaRolloutEvent {
  type: 'OtaRollout';
  action: 'created' | 'started' | 'wave' | 'paused' | 'resumed' | 'halted' | 'cancelled' | 'completed';
  rollout: RolloutView;
  ts: number;
}

/** One device's update changed state (or reported progress). */
export interface OtaUpdateEvent {
  type: 'OtaUpdate';
  device: DeviceRef;
  rollout: { id: string; name: string };
  update: UpdateView;
  ts: number;
}

/** One device's update failed: for notification subscriptions (`OtaFailed`). */
export interface OtaFailedEvent {
  type: 'OtaFailed';
  device: DeviceRef;
  rollout: { id: string; name: string; version: string };
  update: UpdateView;
  reason: string;
  ts: number;
}

export type PlatformEvent =
  | MessageCreateEvent
  | AggregateUpdateEvent
  | DeviceStatusEvent
  | TriggerFiredEvent
  | AlarmEvent
  | ScheduleEvent
  | CustomEvent
  | DeliveryEvent
  | OtaRolloutEvent
  | OtaUpdateEvent
  | OtaFailedEvent;
export type EventType = PlatformEvent['type'];
export type EventOf<T extends EventType> = Extract<PlatformEvent, { type: T }>;
type Handler<T extends EventType> = (event: EventOf<T>) => void;

/**
 * The in-process event bus. Emission is synchronous, in commit order; a handler that throws is
 * logged and does not stop the others or the emitter (ingestion must not fail because a flow did).
 */
export class EventBus {
  private readonly handlers = new Map<EventType, Set<Handler<any>>>();

  constructor(private readonly log: Logger) {}

  /** Subscribe; the returned function unsubscribes. */
  on<T extends EventType>(type: T, handler: Handler<T>): () => void {
    let set = this.handlers.get(type);
    if (!set) this.handlers.set(type, (set = new Set()));
    set.add(handler);
    return () => {
      set!.delete(handler);
    };
  }

  /** Whether anyone listens, so emitters can skip building events nobody reads. */
  has(type: EventType): boolean {
    const set = this.handlers.get(type);
    return !!set && set.size > 0;
  }

  emit(event: PlatformEvent): void {
    const set = this.handlers.get(event.type);
    if (!set) return;
    for (const handler of set) {
      try {
        handler(event);
      } catch (err) {
        this.log.error('event handler failed', { event: event.type, error: (err as Error).message });
      }
    }
  }
}
