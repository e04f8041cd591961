import type { DeviceModel } from './models';
import { iso } from '../views';

/** A device model as the API shows it: times as ISO strings. */
export function modelView(m: DeviceModel) {
  return {
    name: m.name,
    description: m.description,
    configSchema: m.configSchema,
    createdAt: iso(m.createdAt),
    updatedAt: iso(m.updatedAt),
  };
}
