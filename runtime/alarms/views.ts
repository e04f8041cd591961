import type { Alarm } from './service';
import { iso } from '../views';


/** An alarm as the API, events and nodes show it. */
export function alarmView(a: Alarm) {
  return {
    id: a.id,
    device: a.device,
    type: a.type,
    severity: a.severity,
    message: a.message,
    details: structuredClone(a.details),
    status: a.status,
    acknowledged: a.acknowledged,
    count: a.count,
    source: { ...a.source },
    createdAt: iso(a.createdAt),
    updatedAt: iso(a.updatedAt),
    lastRaisedAt: iso(a.lastRaisedAt),
    ackedAt: iso(a.ackedAt),
    ackedBy: a.ackedBy,
    ackComment: a.ackComment,
    clearedAt: iso(a.clearedAt),
    clearedBy: a.clearedBy,
    clearComment: a.clearComment,
  };
}

export type AlarmView = ReturnType<typeof alarmView>;
