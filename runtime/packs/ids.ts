/**
 * Deterministic node ids for deployed packs, the tab markers and env, and the fingerprint that
 * tells whether a pack's deployed nodes were edited. Pure: no storage, no Node-RED.
 *
 * A deployed node's id depends only on the pack id and the node's id in the pack file, so
 * importing any version of a pack again produces the same ids: an upgrade replaces the pack's
 * nodes in place instead of adding a second copy.
 */

import { createHash } from 'node:crypto';
import { isConfigNode, secretParameters, type Pack, type PackNode } from './model';
import { resourceIdMap } from './resources';

/** Recognises a deployed tab as part of pack `id` at `version`. */
export interface PackMarker {
  id: string;
  version: string;
}

/** A Node-RED env variable entry, as tabs, groups and subflows hold them. */
export interface EnvEntry {
  name: string;
  value: string;
  type: 'str' | 'num' | 'bool' | 'json';
}

/** The tab property that carries the marker while Node-RED keeps it (see packMarker). */
export const MARKER_PROPERTY = 'fieldflowPack';
const MARKER_LINE = /^Fieldflow pack `([^`\n]+)` version `([^`\n]+)`\.$/m;
const SUBFLOW_INSTANCE = /^subflow:(.+)$/;
/** Free text: a node named like a config node's id is not a reference to it. */
const TEXT_PROPERTIES = new Set(['name', 'label', 'info']);

/** The id a node with `originalId` in pack `packId` is deployed with: 16 hex characters, like Node-RED's own. */
export function packNodeId(packId: string, originalId: string): string {
  return createHash('sha256').update(`${packId}\n${originalId}`).digest('hex').slice(0, 16);
}

/**
 * The pack's flows as they are deployed: every id replaced by {@link packNodeId} and every
 * reference with it (`z`, `g`, `wires`, `links`, group `nodes`, catch/status/complete `scope`,
 * `subflow:<id>` instance types, subflow port wires, `conf-type` env entries, and any top-level
 * string property equal to a config node's id, as Node-RED itself finds config node users).
 * A top-level string property, or an element of a top-level array of strings, equal to a pack
 * resource's local id becomes the resource's deployed id (a `notify` node's endpoints).
 * Each tab gets the parameters as env variables (before the tab's own env entries, which a
 * parameter of the same name replaces) and the pack marker. The pack is not modified.
 *
 * Expects a pack that passed checkPack and parameters from checkParameters.
 */
export function derivePackFlows(pack: Pack, packId: string, params: Record<string, unknown>): PackNode[] {
  const ids = new Map(pack.flows.map((n) => [n.id, packNodeId(packId, n.id)]));
  const env = parameterEnv(pack, params);
  const marker: PackMarker = { id: packId, version: pack.manifest.version };
  return remapFlows(pack.flows, ids, resourceIdMap(pack, packId, params)).map((node) => {
    if (node.type === 'tab') markTab(node, marker, env);
    return node;
  });
}

/**
 * Flows with node ids renamed by `ids` (ids not in it are kept) and every reference to them
 * renamed with them (see derivePackFlows), and resource references renamed by `resources`.
 * Export uses it backwards, to give a deployed pack's nodes their ids in the pack file again.
 * The input is not modified.
 */
export function remapFlows(flows: PackNode[], ids: ReadonlyMap<string, string>, resources: ReadonlyMap<string, string> = new Map()): PackNode[] {
  const configIds = new Set(flows.filter(isConfigNode).map((n) => n.id));
  const map = (id: string) => ids.get(id) ?? id;
  const mapList = (value: unknown) => (Array.isArray(value) ? value.map((v) => (typeof v === 'string' ? map(v) : v)) : value);
  const mapPorts = (port: unknown) => {
    if (!isObject(port) || !Array.isArray(port.wires)) return port;
    return { ...port, wires: port.wires.map((w) => (isObject(w) && typeof w.id === 'string' ? { ...w, id: map(w.id) } : w)) };
  };

  return flows.map((original) => {
    const node = JSON.parse(JSON.stringify(original)) as PackNode;
    const handled = new Set(['id', 'type']);
    node.id = map(original.id);
    const instance = SUBFLOW_INSTANCE.exec(node.type);
    if (instance) node.type = `subflow:${map(instance[1])}`;
    const rewrite = (key: string, fn: (v: unknown) => unknown) => {
      handled.add(key);
      if (node[key] !== undefined) node[key] = fn(node[key]);
    };
    rewrite('z', (z) => (typeof z === 'string' ? map(z) : z));
    rewrite('g', (g) => (typeof g === 'string' ? map(g) : g));
    rewrite('wires', (wires) => (Array.isArray(wires) ? wires.map(mapList) : wires));
    rewrite('env', (entries) => (Array.isArray(entries) ? entries.map((e) => (isObject(e) && e.type === 'conf-type' && typeof e.value === 'string' ? { ...e, value: map(e.value) } : e)) : entries));
    if (node.type === 'link in' || node.type === 'link out' || node.type === 'link call') rewrite('links', mapList);
    if (node.type === 'group') rewrite('nodes', mapList);
    if (node.type === 'catch' || node.type === 'status' || node.type === 'complete') rewrite('scope', mapList);
    if (node.type === 'subflow') {
      rewrite('in', (ports) => (Array.isArray(ports) ? ports.map(mapPorts) : ports));
      rewrite('out', (ports) => (Array.isArray(ports) ? ports.map(mapPorts) : ports));
      rewrite('status', mapPorts);
    }
    for (const key of Object.keys(node)) {
      if (handled.has(key) || TEXT_PROPERTIES.has(key)) continue;
      const value = node[key];
      if (typeof value === 'string' && configIds.has(value)) node[key] = map(value);
      else if (typeof value === 'string' && resources.has(value)) node[key] = resources.get(value);
      else if (Array.isArray(value) && value.some((v) => typeof v === 'string' && resources.has(v))) node[key] = value.map((v) => (typeof v === 'string' ? (resources.get(v) ?? v) : v));
    }
    return node;
  });
}

/**
 * The parameters as Node-RED env entries, in the order the parameters schema lists them. Secret
 * parameters are left out: the flows file and the editor show env values in clear.
 */
export function parameterEnv(pack: Pack, all: Record<string, unknown>): EnvEntry[] {
  const secrets = secretParameters(pack);
  const params = Object.fromEntries(Object.entries(all).filter(([name]) => !secrets.has(name)));
  const order = Object.keys(pack.parameters?.properties ?? {});
  const names = [...order.filter((n) => has(params, n)), ...Object.keys(params).filter((n) => !order.includes(n))];
  return names.filter((name) => params[name] !== undefined).map((name) => envEntry(name, params[name]));
}

/** Node-RED keeps env values as text and converts them by type when a flow starts (as the editor saves them). */
function envEntry(name: string, value: unknown): EnvEntry {
  if (typeof value === 'string') return { name, value, type: 'str' };
  if (typeof value === 'number') return { name, value: String(value), type: 'num' };
  if (typeof value === 'boolean') return { name, value: String(value), type: 'bool' };
  return { name, value: JSON.stringify(value), type: 'json' };
}

function markTab(tab: PackNode, marker: PackMarker, env: EnvEntry[]): void {
  const own = Array.isArray(tab.env) ? tab.env.filter((e) => !(isObject(e) && env.some((p) => p.name === e.name))) : [];
  tab.env = [...env, ...own];
  const info = stripPackMarker(typeof tab.info === 'string' ? tab.info : '');
  // The editor keeps only the tab properties it knows (label, disabled, locked, info, env), so a
  // deploy from the editor drops MARKER_PROPERTY; the line in `info` survives it.
  tab.info = `${info ? `${info}\n\n` : ''}Fieldflow pack \`${marker.id}\` version \`${marker.version}\`.`;
  tab[MARKER_PROPERTY] = { id: marker.id, version: marker.version };
}

/** Which pack (and version) deployed this tab, or null for a tab of no pack. */
export function packMarker(tab: PackNode): PackMarker | null {
  const prop = tab[MARKER_PROPERTY];
  if (isObject(prop) && typeof prop.id === 'string' && typeof prop.version === 'string') return { id: prop.id, version: prop.version };
  const m = typeof tab.info === 'string' ? MARKER_LINE.exec(tab.info) : null;
  return m ? { id: m[1], version: m[2] } : null;
}

/** A tab's info text without the pack marker line (for exporting a deployed tab as a pack again). */
export function stripPackMarker(info: string): string {
  return info.replace(new RegExp(MARKER_LINE.source, 'gm'), '').trimEnd();
}

/**
 * A hash of a pack's deployed nodes that changes with any edit a user can make (properties,
 * positions, wiring, adding or removing nodes) and not with what Node-RED and its editor do by
 * themselves on a deploy: property and node order, the order of wire targets, the marker
 * property the editor drops, empty `env`/`info` and false `d`/`disabled`/`locked` it leaves out,
 * group sizes it recomputes, and credentials, which are never in the deployed flows.
 */
export function packFingerprint(nodes: PackNode[]): string {
  const canonical = [...nodes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map(canonicalNode);
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

function canonicalNode(node: PackNode): unknown {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(node).sort()) {
    let value = node[key];
    if (value === undefined || key === MARKER_PROPERTY || key === 'credentials') continue;
    if ((key === 'd' || key === 'disabled' || key === 'locked') && value === false) continue;
    if ((key === 'info' || key === 'z') && value === '') continue;
    if (key === 'env' && Array.isArray(value) && value.length === 0) continue;
    if (node.type === 'group' && (key === 'w' || key === 'h')) continue;
    if (key === 'wires' && Array.isArray(value)) value = value.map((port) => (Array.isArray(port) ? [...port].sort() : port));
    if ((key === 'links' || (key === 'nodes' && node.type === 'group')) && Array.isArray(value)) value = [...value].sort();
    out[key] = sortKeys(value);
  }
  return out;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!isObject(value)) return value;
  return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys(value[k])]));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function has(o: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, key);
}
