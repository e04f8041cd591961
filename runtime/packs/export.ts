/**
 * Export: deployed tabs (and the subflows, config nodes and platform resources they use) as a
 * pack file. Tabs a pack deployed get back the node ids and the parameters of that pack's file,
 * so exporting an installed pack and importing the result again under its id is an upgrade in
 * place, not a second copy.
 */

import { Errors, type FieldError } from '../errors';
import type { FlowNode } from './flows-port';
import { isConfigNode, packNodeTypes, RESOURCE_PARTS, type Pack, type PackManifest, type ParameterSchema, type ResourceDef, type ResourcePart } from './model';
import { MARKER_PROPERTY, packMarker, packNodeId, remapFlows, stripPackMarker } from './ids';
import type { ResourcePorts } from './resource-ports';
import type { DeployedResource } from './apply-resources';

export interface ExportRequest {
  /** Tab ids or labels. */
  tabs: string[];
  manifest: Pick<PackManifest, 'id' | 'name' | 'version'> & Partial<Pick<PackManifest, 'description' | 'author'>>;
}

/** What export needs to know about an installed pack. */
export interface ExportSource {
  id: string;
  pack: Pack;
  params: Record<string, unknown>;
  resources: DeployedResource[];
}

/** Resource lookups: the platform's resources by id (and schedules and models by name). */
export interface ExportContext {
  ports: ResourcePorts;
  installed: ExportSource[];
  fieldflowVersion: string;
}

const SUBFLOW_INSTANCE = /^subflow:(.+)$/;
const TEXT = new Set(['name', 'label', 'info', 'description']);

/** The pack file for `request.tabs`. Throws FF_VALIDATION for a tab that is not deployed (or a label that names several). */
export function exportPack(flows: FlowNode[], request: ExportRequest, ctx: ExportContext): Pack {
  const tabIds = resolveTabs(flows, request.tabs);
  const picked = collectNodes(flows, tabIds);

  // Nodes a pack deployed get their ids in its file back; the pack's parameters come along.
  const back = new Map<string, string>();
  const parameters: Record<string, ParameterSchema> = {};
  const required = new Set<string>();
  const paramNames = new Set<string>();
  for (const source of ctx.installed) {
    const fromThisPack = source.pack.flows.filter((n) => picked.has(packNodeId(source.id, n.id)));
    if (!fromThisPack.length) continue;
    for (const n of fromThisPack) back.set(packNodeId(source.id, n.id), n.id);
    for (const [name, schema] of Object.entries(source.pack.parameters?.properties ?? {})) {
      parameters[name] = source.params[name] === undefined ? { ...schema } : { ...schema, default: structuredClone(source.params[name]) };
      paramNames.add(name);
    }
    for (const name of source.pack.parameters?.required ?? []) required.add(name);
  }
  const nodes = [...picked.values()].map((n) => cleanNode(n, picked, paramNames));

  const resources = collectResources(nodes, ctx);
  const resourceBack = new Map(resources.map((r) => [r.platformId, r.def.id]));
  const out: Pack = {
    manifest: {
      id: request.manifest.id,
      name: request.manifest.name,
      version: request.manifest.version,
      ...(request.manifest.description ? { description: request.manifest.description } : {}),
      ...(request.manifest.author ? { author: request.manifest.author } : {}),
      requires: { fieldflow: `>=${ctx.fieldflowVersion}`, nodes: [] },
    },
    flows: remapFlows(nodes, back, resourceBack),
  };
  out.manifest.requires.nodes = packNodeTypes(out.flows);
  if (Object.keys(parameters).length) out.parameters = { type: 'object', properties: parameters, ...(required.size ? { required: [...required] } : {}) };
  for (const kind of RESOURCE_PARTS) {
    const defs = resources.filter((r) => r.kind === kind).map((r) => r.def);
    if (defs.length) out[kind] = defs;
  }
  return out;
}

function resolveTabs(flows: FlowNode[], wanted: string[]): Set<string> {
  const tabs = flows.filter((n) => n.type === 'tab');
  const errors: FieldError[] = [];
  const ids = new Set<string>();
  wanted.forEach((w, i) => {
    const byId = tabs.find((t) => t.id === w);
    const byLabel = tabs.filter((t) => t.label === w);
    if (byId) ids.add(byId.id);
    else if (byLabel.length === 1) ids.add(byLabel[0].id);
    else errors.push({ path: `/tabs/${i}`, message: byLabel.length ? `${byLabel.length} tabs are labelled "${w}"; give the tab's id` : `no deployed tab has the id or label "${w}"` });
  });
  if (errors.length) throw Errors.VALIDATION(errors.map((e) => `${e.path}: ${e.message}`).join('; '), { errors });
  return ids;
}

/** The tabs, their nodes, the subflows they use (with theirs) and the config nodes any of them reference. */
function collectNodes(flows: FlowNode[], tabIds: Set<string>): Map<string, FlowNode> {
  const byId = new Map(flows.map((n) => [n.id, n]));
  const picked = new Map<string, FlowNode>();
  const containers = [...tabIds];
  const configIds = new Set(flows.filter((n) => isConfigNode(n) && n.type !== 'tab' && n.type !== 'subflow').map((n) => n.id));
  const take = (n: FlowNode | undefined) => {
    if (!n || picked.has(n.id)) return;
    picked.set(n.id, n);
    const instance = SUBFLOW_INSTANCE.exec(n.type);
    if (instance && byId.get(instance[1])?.type === 'subflow' && !picked.has(instance[1])) {
      take(byId.get(instance[1]));
      containers.push(instance[1]);
      for (const inner of flows) if (inner.z === instance[1]) take(inner);
    }
    for (const [key, value] of Object.entries(n)) {
      if (TEXT.has(key) || key === 'id' || key === 'z') continue;
      if (typeof value === 'string' && configIds.has(value)) take(byId.get(value));
    }
    for (const e of Array.isArray(n.env) ? n.env : []) {
      if (isObject(e) && e.type === 'conf-type' && typeof e.value === 'string') take(byId.get(e.value));
    }
  };
  for (const id of tabIds) take(byId.get(id));
  for (const n of flows) if (typeof n.z === 'string' && tabIds.has(n.z)) take(n);
  return picked;
}

/** A node without the pack marker, the pack's parameters in tab env, and references to nodes left behind. */
function cleanNode(original: FlowNode, picked: Map<string, FlowNode>, paramNames: Set<string>): FlowNode {
  const n = structuredClone(original);
  const keep = (id: unknown) => typeof id === 'string' && picked.has(id);
  if (Array.isArray(n.wires)) n.wires = n.wires.map((port) => (Array.isArray(port) ? port.filter(keep) : port));
  if (Array.isArray(n.links)) n.links = n.links.filter(keep);
  if (n.type === 'group' && Array.isArray(n.nodes)) n.nodes = n.nodes.filter(keep);
  if ((n.type === 'catch' || n.type === 'status' || n.type === 'complete') && Array.isArray(n.scope)) n.scope = n.scope.filter(keep);
  if (n.type === 'tab') {
    const marker = packMarker(n);
    delete n[MARKER_PROPERTY];
    if (typeof n.info === 'string') n.info = stripPackMarker(n.info);
    if (marker && Array.isArray(n.env)) n.env = n.env.filter((e) => !(isObject(e) && typeof e.name === 'string' && paramNames.has(e.name)));
  }
  return n;
}

interface ExportedResource {
  kind: ResourcePart;
  platformId: string;
  def: ResourceDef;
}

/** Endpoints, subscriptions, schedules and models the nodes name, and the endpoints those subscriptions send to. */
function collectResources(nodes: FlowNode[], ctx: ExportContext): ExportedResource[] {
  const { ports } = ctx;
  const owned = new Map<string, string>();
  for (const source of ctx.installed) for (const r of source.resources) owned.set(`${r.kind}:${r.id}`, r.localId);
  const found = new Map<string, ExportedResource>();
  const usedLocal = new Set(nodes.map((n) => n.id));
  const add = (kind: ResourcePart, platformId: string) => {
    const key = `${kind}:${platformId}`;
    if (found.has(key)) return;
    const body = ports[kind].snapshot(platformId);
    if (!body) return;
    let local = owned.get(key) ?? `${kind.slice(0, -1)}-${slug(String(body.name))}`;
    for (let i = 2; usedLocal.has(local); i++) local = `${owned.get(key) ?? `${kind.slice(0, -1)}-${slug(String(body.name))}`}-${i}`;
    usedLocal.add(local);
    found.set(key, { kind, platformId, def: { id: local, ...(body as { name: string }) } });
    if (kind === 'subscriptions') {
      const sub = body as { endpoints?: unknown; escalation?: Array<{ endpoints?: unknown }> };
      // Push endpoints belong to a browser: the exported subscription keeps their ids, to be replaced on import.
      for (const id of [...strings(sub.endpoints), ...(sub.escalation ?? []).flatMap((s) => strings(s.endpoints))]) if (ports.endpoints.snapshot(id)?.type !== 'push') add('endpoints', id);
    }
  };
  for (const n of nodes) {
    for (const [key, value] of Object.entries(n)) {
      if (TEXT.has(key)) continue;
      for (const v of typeof value === 'string' ? [value] : strings(value)) {
        if (ports.endpoints.exists(v) && ports.endpoints.snapshot(v)?.type !== 'push') add('endpoints', v);
        if (ports.subscriptions.exists(v)) add('subscriptions', v);
        if ((key === 'model' || key === 'models') && ports.models.exists(v)) add('models', v);
      }
    }
    if (n.type === 'schedule' && n.mode === 'stored' && typeof n.scheduleName === 'string') {
      const id = ports.schedules.idOfName?.(n.scheduleName);
      if (id) add('schedules', id);
    }
  }
  const all = [...found.values()];
  // Inside resource bodies too, platform ids become the pack-local ids (a subscription's endpoints).
  const local = new Map(all.map((r) => [r.platformId, r.def.id]));
  for (const r of all) r.def = { ...(renameDeep(r.def, local) as ResourceDef), id: r.def.id, name: r.def.name };
  return all;
}

function renameDeep(value: unknown, ids: Map<string, string>): unknown {
  if (typeof value === 'string') return ids.get(value) ?? value;
  if (Array.isArray(value)) return value.map((v) => renameDeep(v, ids));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, TEXT.has(k) || k === 'template' || k === 'payload' || k === 'configSchema' ? v : renameDeep(v, ids)]));
  return value;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 48) || 'resource';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
