import semver from 'semver';

const CHANGES = ['added', 'changed', 'removed'] as const;

/** The dry run as the REST API returns it (runtime/packs/views.ts planView). */
export interface PlanReply {
  id: string;
  name: string;
  from: string | null;
  to: string;
  params: Record<string, unknown>;
  modified: boolean;
  diff: Record<string, unknown>;
  /** What happens to the platform resources the pack carries (models, endpoints, subscriptions, schedules). */
  resources?: Partial<Record<(typeof CHANGES)[number], ResourceRef[]>>;
}

/** A platform resource a pack carries, as the plan names it. */
export interface ResourceRef {
  kind: string;
  name: string;
}

/** What a removal reports: resources it had to leave in place, and why. */
export interface RemoveReply {
  id: string;
  kept?: Array<ResourceRef & { reason: string }>;
}

/** An installed pack as the REST API returns it (packView). */
export interface PackReply {
  id: string;
  name: string;
  version: string;
  params: Record<string, unknown>;
  nodes: number;
  /** The platform resources the pack created. */
  resources?: Array<ResourceRef & { id: string }>;
  installedAt: string;
  installedBy: string;
  history: Array<{ version: string; installedAt: string }>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What an import does, in one word: install, upgrade, reinstall or downgrade. */
export function action(plan: Pick<PlanReply, 'from' | 'to'>): string {
  if (plan.from === null) return `install ${plan.to}`;
  if (plan.from === plan.to) return `reinstall ${plan.to}`;
  const older = semver.valid(plan.from) && semver.valid(plan.to) && semver.lt(plan.to, plan.from);
  return `${older ? 'downgrade' : 'upgrade'} ${plan.from} -> ${plan.to}`;
}

/** Parameter values as NAME=JSON, in the order the server gave them. */
export function paramsText(params: Record<string, unknown>): string {
  const entries = Object.entries(params);
  return entries.length ? entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ') : '(none)';
}

/**
 * The dry run as lines: each kind of thing (tabs, nodes, models, endpoints, subscriptions,
 * schedules) with what is added, changed and removed. Kinds listed by name show the names;
 * counted kinds show the counts.
 */
export function planLines(plan: PlanReply): string[] {
  const lines = [`Pack ${plan.id} (${plan.name}): ${action(plan)}`];
  const kinds = [...Object.entries(plan.diff ?? {}), ...Object.entries(byKind(plan.resources ?? {}))];
  let changes = 0;
  for (const [kind, change] of kinds) {
    if (!isObject(change)) continue;
    const counts = CHANGES.map((c) => change[c]);
    if (counts.every((c) => typeof c === 'number')) {
      const [added, changed, removed] = counts as number[];
      changes += added + changed + removed;
      const unchanged = typeof change.unchanged === 'number' ? `, ${change.unchanged} unchanged` : '';
      lines.push(`  ${kind.padEnd(16)}${added} added, ${changed} changed, ${removed} removed${unchanged}`);
      continue;
    }
    for (const c of CHANGES) {
      const names = Array.isArray(change[c]) ? (change[c] as unknown[]).map(String) : [];
      changes += names.length;
      if (names.length) lines.push(`  ${`${kind} ${c}`.padEnd(16)}${names.join(', ')}`);
    }
  }
  if (changes === 0) lines.push('  no changes to the flows');
  lines.push(`  ${'parameters'.padEnd(16)}${paramsText(plan.params ?? {})}`);
  return lines;
}

/** The plan's resource changes regrouped as the flow diff is: kind -> {added, changed, removed} names. */
function byKind(resources: NonNullable<PlanReply['resources']>): Record<string, Record<string, string[]>> {
  const kinds: Record<string, Record<string, string[]>> = {};
  for (const c of CHANGES) {
    for (const r of Array.isArray(resources[c]) ? resources[c] : []) {
      const kind = (kinds[String(r.kind)] ??= { added: [], changed: [], removed: [] });
      kind[c].push(String(r.name));
    }
  }
  return kinds;
}

/** The installed packs as a table. */
export function packTable(packs: PackReply[]): string[] {
  if (!packs.length) return ['No packs are installed.'];
  const rows = [
    ['ID', 'NAME', 'VERSION', 'INSTALLED AT', 'BY', 'PREVIOUS VERSIONS'],
    ...packs.map((p) => [p.id, p.name, p.version, p.installedAt, p.installedBy, p.history.map((h) => h.version).join(', ') || '-']),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  '));
}
