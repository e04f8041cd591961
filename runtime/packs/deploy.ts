import type { FlowNode } from './flows-port';

/** What an import, upgrade or removal does to the deployed flows, shown before it happens. */
export interface FlowDiff {
  tabs: { added: string[]; changed: string[]; removed: string[] };
  nodes: { added: number; changed: number; removed: number; unchanged: number };
}

const isContainer = (n: FlowNode) => n.type === 'tab' || n.type === 'subflow';
const label = (n: FlowNode) => String(n.label ?? n.name ?? n.id);

/**
 * Compare a pack's nodes as deployed now with what would replace them. Tabs and subflows are
 * listed by label; other nodes are counted. Nodes are compared as JSON, so any change shows.
 */
export function diffFlows(before: FlowNode[], after: FlowNode[]): FlowDiff {
  const old = new Map(before.map((n) => [n.id, n]));
  const next = new Map(after.map((n) => [n.id, n]));
  const diff: FlowDiff = { tabs: { added: [], changed: [], removed: [] }, nodes: { added: 0, changed: 0, removed: 0, unchanged: 0 } };
  const changedIn = new Set<string>();
  for (const n of after) {
    const was = old.get(n.id);
    if (!was) {
      if (isContainer(n)) diff.tabs.added.push(label(n));
      else diff.nodes.added++;
    } else if (canonical(was) !== canonical(n)) {
      if (isContainer(n)) diff.tabs.changed.push(label(n));
      else diff.nodes.changed++;
    } else if (!isContainer(n)) diff.nodes.unchanged++;
    if (!isContainer(n) && (!was || canonical(was) !== canonical(n)) && n.z) changedIn.add(n.z);
  }
  for (const n of before) {
    if (next.has(n.id)) continue;
    if (isContainer(n)) diff.tabs.removed.push(label(n));
    else {
      diff.nodes.removed++;
      if (n.z) changedIn.add(n.z);
    }
  }
  // A tab whose nodes changed has changed, even if its own properties did not.
  for (const id of changedIn) {
    const tab = next.get(id);
    if (tab && old.has(id) && isContainer(tab) && !diff.tabs.changed.includes(label(tab))) diff.tabs.changed.push(label(tab));
  }
  return diff;
}

/**
 * The ids of what is a pack's now: the nodes it deployed, and any node a user added on its tabs,
 * in its subflows or in its groups. Those count as edits, and go with the pack's tabs.
 */
export function packContent(flows: FlowNode[], nodeIds: Iterable<string>): Set<string> {
  const owned = new Set(nodeIds);
  const content = new Set<string>();
  for (const n of flows) {
    if (owned.has(n.id) || (typeof n.z === 'string' && owned.has(n.z)) || (typeof n.g === 'string' && owned.has(n.g))) content.add(n.id);
  }
  return content;
}

/** The flows with a pack's previous nodes taken out and its new ones added after the others; nothing else moves. */
export function replacePackNodes(current: FlowNode[], previousIds: Iterable<string>, next: FlowNode[]): FlowNode[] {
  const drop = new Set(previousIds);
  return [...current.filter((n) => !drop.has(n.id)), ...next];
}

/** JSON with sorted keys: the same node always reads the same, whatever order Node-RED kept its properties in. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]])) : v,
  );
}
