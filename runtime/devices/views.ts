import type { Device } from './registry';
import { iso } from '../views';


/** A device as the API shows it: no token hash, times as ISO strings. */
export function deviceView(d: Device) {
  return {
    id: d.id,
    name: d.name,
    model: d.model,
    labels: { ...d.labels },
    online: d.online,
    lastSeen: iso(d.lastSeen),
    createdAt: iso(d.createdAt),
    updatedAt: iso(d.updatedAt),
    ingestErrors: { ...d.ingestErrors },
    lastIngestError: d.lastIngestError
      ? { code: d.lastIngestError.code, at: iso(d.lastIngestError.at), channel: d.lastIngestError.channel ?? null }
      : null,
  };
}

/** The only two places a device token is ever shown: creation and rotation. */
export function deviceWithTokenView(d: Device, token: string) {
  return { ...deviceView(d), token };
}
