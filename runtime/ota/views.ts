import type { Artifact } from './artifacts';

/** An artifact as the API shows it. */
export function artifactView(a: Artifact) {
  return { id: a.id, name: a.name, version: a.version, models: [...a.models], notes: a.notes, sha256: a.sha256, size: a.size, createdAt: new Date(a.createdAt).toISOString() };
}
