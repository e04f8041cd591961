import { iso } from '../views';
import type { ImportPlan, InstalledPack } from './service';

export function packView(p: InstalledPack) {
  return {
    id: p.id,
    name: p.name,
    version: p.version,
    params: { ...p.params },
    nodes: p.nodeIds.length,
    resources: p.resources.map((r) => ({ kind: r.kind, id: r.id, name: r.name })),
    installedAt: iso(p.installedAt),
    installedBy: p.installedBy,
    history: p.history.map((h) => ({ version: h.version, installedAt: iso(h.installedAt) })),
  };
}

export function planView(plan: ImportPlan) {
  return { id: plan.pack.manifest.id, name: plan.pack.manifest.name, from: plan.from, to: plan.to, params: { ...plan.params }, modified: plan.modified, diff: plan.diff, resources: plan.resources };
}
