import type { DeviceRef, PlatformEvent } from '../events';
import type { Severity } from '../alarms/severity';
import type { AlarmView } from '../alarms/views';
import type { TriggerFire } from '../triggers/model';
import type { NotifyEventType } from './subscription-model';
import { boundedView } from './templates';

/** An event as subscriptions match it and templates see it. */
export interface NotifyEvent {
  /** Unique per occurrence: deliveries can be listed by it. */
  id: string;
  type: NotifyEventType;
  ts: number;
  device: DeviceRef | null;
  severity: Severity | null;
  /** What throttling counts per (subscription, device, key): the alarm type, trigger id or event name. */
  key: string;
  alarm?: AlarmView;
  fire?: TriggerFire & { triggerName: string };
  name?: string;
  message?: string;
  data?: unknown;
  /** Reminders and escalations: the alarm they are about. */
  alarmId?: string;
}

/** The platform events notifications react to, as NotifyEvents; null for the others. */
export function toNotifyEvent(event: PlatformEvent): NotifyEvent | null {
  switch (event.type) {
    case 'AlarmRaised':
    case 'AlarmUpdated':
    case 'AlarmAcked':
    case 'AlarmCleared': {
      const a = event.alarm;
      return { id: `${a.id}:${event.type}:${event.ts}`, type: event.type, ts: event.ts, device: event.device, severity: a.severity, key: a.type, alarm: a, message: a.message };
    }
    case 'TriggerFired': {
      const f = event.fire;
      return { id: f.id, type: 'TriggerFired', ts: f.ts, device: event.device, severity: null, key: f.trigger.id, fire: { ...f, triggerName: f.trigger.name } };
    }
    case 'DeviceConnect':
    case 'DeviceDisconnect':
      return { id: `${event.device.id}:${event.type}:${event.ts}`, type: event.type === 'DeviceConnect' ? 'DeviceOnline' : 'DeviceOffline', ts: event.ts, device: event.device, severity: null, key: 'presence' };
    case 'OtaFailed':
      return {
        id: `${event.update.id}:OtaFailed`,
        type: 'OtaFailed',
        ts: event.ts,
        device: event.device,
        severity: 'major',
        key: event.rollout.id,
        message: event.reason,
        data: { rollout: event.rollout, update: event.update },
      };
    case 'Custom':
      return { id: event.id, type: 'Custom', ts: event.ts, device: event.device, severity: event.severity, key: event.name, name: event.name, message: event.message, data: event.data };
    default:
      return null;
  }
}

/** What a template sees: the event's fields plus a few conveniences. */
export function templateView(ev: NotifyEvent, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const dataText = ev.data === undefined || ev.data === null ? '' : typeof ev.data === 'string' ? ev.data : JSON.stringify(ev.data);
  return boundedView({ ...ev, time: new Date(ev.ts).toISOString(), severity: ev.severity ?? 'info', dataText, ...extra });
}
