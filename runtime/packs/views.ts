import { iso } from '../views';
import type { ImportPlan, InstalledPack } from './service';
import { secretParameters } from './model';

/** What a secret parameter's value is shown as. */
export const REDACTED = '********';

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
  const secrets = secretParameters(plan.pack);
  const params = Object.fromEntries(Object.entries(plan.params).map(([name, value]) => [name, secrets.has(name) ? REDACTED : value]));
  return { id: plan.pack.manifest.id, name: plan.pack.manifest.name, from: plan.from, to: plan.to, params, modified: plan.modified, diff: plan.diff, resources: plan.resources };
}
