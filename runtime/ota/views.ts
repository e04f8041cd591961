import { iso } from '../views';
import type { Artifact } from './artifacts';
import type { Fleet } from './fleets';

/** An artifact as the API shows it. */
export function artifactView(a: Artifact) {
  return { id: a.id, name: a.name, version: a.version, models: [...a.models], notes: a.notes, sha256: a.sha256, size: a.size, signature: a.signature, createdAt: iso(a.createdAt) };
}

export function fleetView(f: Fleet) {
  return { id: f.id, name: f.name, selector: f.selector, devices: [...f.devices], createdAt: iso(f.createdAt), updatedAt: iso(f.updatedAt) };
}
