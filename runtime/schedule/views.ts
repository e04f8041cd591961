import type { Schedule } from './service';
import { iso } from '../views';


export function scheduleView(s: Schedule & { nextRunAt?: number | null; lastRunAt?: number | null }) {
  return {
    id: s.id,
    name: s.name,
    cron: s.cron,
    timezone: s.timezone,
    payload: s.payload,
    enabled: s.enabled,
    nextRunAt: iso(s.nextRunAt),
    lastRunAt: iso(s.lastRunAt),
    createdAt: iso(s.createdAt),
    updatedAt: iso(s.updatedAt),
  };
}
