/**
 * Flow packs as data: parsing, validation and parameters. Pure: no storage, no Node-RED.
 *
 * Every check collects its problems, and a bad pack is refused with ONE catalog error whose
 * `errors` lists every problem found, each at a JSON pointer into the pack file.
 */

import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import semver from 'semver';
import { Errors, toFieldErrors, type FieldError, type FieldflowError } from '../errors';
import { isEmail, httpUrl } from '../notify/endpoint-model';
import { parseSelector } from '../devices/selector';
import { packJson, packTooLarge } from './decode';
import { exportRequestSchema, packSchema, PACK_ID_PATTERN, PARAMETER_FORMATS, SEMVER_PATTERN } from './schema';
import type { ExportRequest } from './export';

/** A node of Node-RED flow JSON: tabs, subflows, groups, config nodes and flow nodes alike. */
export interface PackNode {
  id: string;
  type: string;
  z?: string;
  [key: string]: unknown;
}

export type ParameterType = 'string' | 'number' | 'integer' | 'boolean' | 'array';

/** One parameter, in the subset of JSON Schema that packs may use (see schema.ts). */
export interface ParameterSchema {
  type: ParameterType;
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  format?: (typeof PARAMETER_FORMATS)[number];
  items?: Omit<ParameterSchema, 'items' | 'default'>;
  /** A secret: sealed at rest, redacted in views, not in the tabs' env (resources only). */
  writeOnly?: boolean;
  [keyword: string]: unknown;
}

/** The names of the pack's secret (`writeOnly`) parameters. */
export function secretParameters(pack: Pack): Set<string> {
  return new Set(Object.entries(pack.parameters?.properties ?? {}).filter(([, s]) => s.writeOnly === true).map(([name]) => name));
}

/** A pack's parameters: an object schema, one property per parameter. */
export interface ParametersSchema {
  type: 'object';
  title?: string;
  description?: string;
  properties: Record<string, ParameterSchema>;
  required?: string[];
}

export interface PackManifest {
  /** Reverse-DNS id, stable across versions: the deployed node ids are derived from it. */
  id: string;
  name: string;
  /** Semantic version. */
  version: string;
  description?: string;
  author?: string;
  requires: {
    /** A semver range the running Fieldflow version must satisfy. */
    fieldflow: string;
    /** Node types the flows need (checked together with the types the flows actually use). */
    nodes?: string[];
  };
}

/** A platform resource the pack carries: its pack-local id and name, and the rest of its REST create body. */
export interface ResourceDef {
  id: string;
  name: string;
  [key: string]: unknown;
}

/** A pack file that passed the schema and the structural checks. */
export interface Pack {
  $schema?: string;
  manifest: PackManifest;
  parameters?: ParametersSchema;
  flows: PackNode[];
  models?: ResourceDef[];
  endpoints?: ResourceDef[];
  subscriptions?: ResourceDef[];
  schedules?: ResourceDef[];
}

/** What the running install offers a pack. */
export interface PackContext {
  /** Every installed node type (the structural ones, such as `tab`, may be included or not). */
  installedNodeTypes: Set<string>;
  /** The running Fieldflow version. */
  fieldflowVersion: string;
}

export interface PackLimits {
  /** The largest pack file accepted, in bytes. */
  maxBytes: number;
}

/** A pack that can be deployed on this install, with what the service needs to show about it. */
export interface CheckedPack {
  pack: Pack;
  /** Node types the flows use, sorted (not tab/subflow/group/junction or the pack's own subflows). */
  nodeTypes: string[];
  tabs: Array<{ id: string; label: string }>;
  subflows: Array<{ id: string; name: string }>;
}

/** A sensible default for `PackLimits.maxBytes`: large flows are a few hundred KiB. */
export const DEFAULT_MAX_PACK_BYTES = 5 * 1024 * 1024;

/** Far deeper than any flow needs; it bounds every recursive walk over a pack. */
const MAX_DEPTH = 64;

/** Listed problems are capped; a pack with thousands of broken nodes needs the first ones, not all. */
const MAX_LISTED = 200;

/** Types that are flow JSON structure rather than palette nodes. */
/** The optional resource parts of a pack. */
export const RESOURCE_PARTS = ['models', 'endpoints', 'subscriptions', 'schedules'] as const;
export type ResourcePart = (typeof RESOURCE_PARTS)[number];

const STRUCTURAL_TYPES = new Set(['tab', 'subflow', 'group']);
/** Always present in Node-RED's core, and not something a pack author thinks of as a dependency. */
const BUILT_IN_TYPES = new Set(['junction']);
const SUBFLOW_INSTANCE = /^subflow:(.+)$/;
/** The nodes whose `scope` lists the ids of the nodes they watch. */
const SCOPED_TYPES = new Set(['catch', 'status', 'complete']);
/** What a link node of each type may link to. */
const LINK_TARGET: Record<string, string> = { 'link in': 'link out', 'link out': 'link in', 'link call': 'link in' };

type ErrorKind = (detail?: string, extra?: { errors?: FieldError[] }) => FieldflowError;

/**
 * When one pack has problems of several kinds, its code is the first kind in this order:
 * a broken file before a file that is fine but cannot run here.
 */
const PRECEDENCE: ErrorKind[] = [Errors.INVALID_PACK, Errors.DUPLICATE_NODE_ID, Errors.PACK_INCOMPATIBLE, Errors.MISSING_NODE_TYPES];

class Problems {
  private readonly list: Array<{ kind: ErrorKind; path: string; message: string }> = [];

  add(kind: ErrorKind, path: string, message: string): void {
    this.list.push({ kind, path, message });
  }

  throwIfAny(): void {
    if (!this.list.length) return;
    const kind = PRECEDENCE.find((k) => this.list.some((p) => p.kind === k)) ?? this.list[0].kind;
    const errors: FieldError[] = this.list.slice(0, MAX_LISTED).map(({ path, message }) => ({ path, message }));
    if (this.list.length > MAX_LISTED) errors.push({ path: '/', message: `and ${this.list.length - MAX_LISTED} more problems` });
    throw kind(summary(errors), { errors });
  }
}

function summary(errors: FieldError[]): string {
  const shown = errors.slice(0, 10).map((e) => `${e.path} ${e.message}`);
  return errors.length > 10 ? `${shown.join('; ')}; and ${errors.length - 10} more` : shown.join('; ');
}

const ajv = new Ajv({ allErrors: true, allowUnionTypes: true, strictTypes: false });
const validatePackShape = ajv.compile(packSchema);
const validateExportRequest = ajv.compile(exportRequestSchema);

/** What a pattern means, said instead of the pattern itself. */
const PATTERN_MESSAGES: Record<string, string> = {
  [PACK_ID_PATTERN]: 'must be a reverse-DNS id in lower case, such as com.example.my-pack',
  [SEMVER_PATTERN]: 'must be a semantic version, such as 1.2.0',
};

/** ajv errors without the `if`/`then` noise: the failing inner keyword already says what is wrong. */
function shapeErrors(errors: ErrorObject[] | null | undefined): FieldError[] {
  const relevant = (errors ?? []).filter((e) => e.keyword !== 'if');
  return toFieldErrors(relevant.map((e) => (e.keyword === 'pattern' && PATTERN_MESSAGES[e.params.pattern] ? { ...e, message: PATTERN_MESSAGES[e.params.pattern] } : e)));
}

/** An export request's body, checked with the pack's own messages; throws FF_VALIDATION listing every failing path. */
export function checkExportRequest(body: unknown): ExportRequest {
  if (validateExportRequest(body)) return body as unknown as ExportRequest;
  const errors = shapeErrors(validateExportRequest.errors);
  throw Errors.VALIDATION(summary(errors), { errors });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const has = (o: object, key: string) => Object.prototype.hasOwnProperty.call(o, key);

/** Config nodes are the ones Node-RED places on no canvas: it tells them apart by their lack of x/y. */
export function isConfigNode(node: PackNode): boolean {
  return !STRUCTURAL_TYPES.has(node.type) && !(has(node, 'x') && has(node, 'y'));
}

/** The node types the flows use, sorted: what must be installed for them to run. */
export function packNodeTypes(flows: PackNode[]): string[] {
  const subflows = new Set(flows.filter((n) => n.type === 'subflow').map((n) => n.id));
  const types = new Set<string>();
  for (const n of flows) {
    if (!n.type || STRUCTURAL_TYPES.has(n.type) || BUILT_IN_TYPES.has(n.type)) continue;
    const m = SUBFLOW_INSTANCE.exec(n.type);
    if (m && subflows.has(m[1])) continue;
    types.add(n.type);
  }
  return [...types].sort();
}

/** The pack's tabs, in file order. */
export function packTabs(flows: PackNode[]): Array<{ id: string; label: string }> {
  return flows.filter((n) => n.type === 'tab').map((n) => ({ id: n.id, label: typeof n.label === 'string' ? n.label : n.id }));
}

/** The pack's subflow definitions, in file order. */
export function packSubflows(flows: PackNode[]): Array<{ id: string; name: string }> {
  return flows.filter((n) => n.type === 'subflow').map((n) => ({ id: n.id, name: typeof n.name === 'string' ? n.name : n.id }));
}

/**
 * Read a pack file: the size limit, JSON, the schema and the flows' structure. Throws
 * FF_PACK_TOO_LARGE, FF_MALFORMED_JSON, FF_INVALID_PACK or FF_DUPLICATE_NODE_ID. Use
 * {@link loadPack} to also check it against the running install in the same pass.
 */
export function parsePack(text: string | Buffer, limits: PackLimits): Pack {
  const value = parseJson(text, limits);
  const problems = new Problems();
  collect(value, problems, undefined);
  problems.throwIfAny();
  return value as Pack;
}

/**
 * Check a pack (parsed or not) against the running install: everything {@link parsePack} checks,
 * plus the Fieldflow version range and the installed node types. Every problem is reported at once.
 * Throws FF_INVALID_PACK, FF_DUPLICATE_NODE_ID, FF_PACK_INCOMPATIBLE or FF_MISSING_NODE_TYPES
 * (the first that applies, in that order), with `errors` listing the problems of every kind.
 */
export function checkPack(pack: unknown, ctx: PackContext): CheckedPack {
  const problems = new Problems();
  collect(pack, problems, ctx);
  problems.throwIfAny();
  const valid = pack as Pack;
  return { pack: valid, nodeTypes: packNodeTypes(valid.flows), tabs: packTabs(valid.flows), subflows: packSubflows(valid.flows) };
}

/** {@link parsePack} and {@link checkPack} in one pass: a file's every problem in one error. */
export function loadPack(text: string | Buffer, limits: PackLimits, ctx: PackContext): CheckedPack {
  return checkPack(parseJson(text, limits), ctx);
}

function parseJson(text: string | Buffer, limits: PackLimits): unknown {
  const size = typeof text === 'string' ? Buffer.byteLength(text) : text.length;
  if (size > limits.maxBytes) throw packTooLarge(size, limits.maxBytes);
  return packJson(text);
}

function collect(value: unknown, problems: Problems, ctx: PackContext | undefined): void {
  const deep = tooDeep(value, '', 0);
  if (deep !== null) {
    // Checked first: validating, copying or hashing a value this deep could exhaust the stack.
    problems.add(Errors.INVALID_PACK, deep || '/', `nests objects and arrays deeper than ${MAX_DEPTH} levels`);
    return;
  }
  const shape = validatePackShape(value) ? [] : shapeErrors(validatePackShape.errors);
  for (const e of shape) problems.add(Errors.INVALID_PACK, e.path, e.message);
  if (!isObject(value)) return;
  const manifest = isObject(value.manifest) ? value.manifest : undefined;
  const requires = manifest && isObject(manifest.requires) ? manifest.requires : undefined;
  const range = requires && typeof requires.fieldflow === 'string' ? requires.fieldflow : undefined;
  if (range !== undefined && range !== '') {
    if (semver.validRange(range) === null) {
      problems.add(Errors.INVALID_PACK, '/manifest/requires/fieldflow', `"${range}" is not a semver range`);
    } else if (ctx && !semver.satisfies(ctx.fieldflowVersion, range, { includePrerelease: true })) {
      problems.add(Errors.PACK_INCOMPATIBLE, '/manifest/requires/fieldflow', `needs Fieldflow ${range}; this is ${ctx.fieldflowVersion}`);
    }
  }
  if (isObject(value.parameters)) checkParametersSchema(value.parameters, shape, problems);
  for (const part of RESOURCE_PARTS) {
    if (Array.isArray(value[part])) checkUniqueNames(value[part] as unknown[], `/${part}`, problems);
  }
  const flows = Array.isArray(value.flows) ? value.flows : undefined;
  if (!flows) return;
  const nodes = checkFlows(flows, problems);
  checkResourceIds(value, nodes, problems);
  if (ctx) {
    const declared = requires && Array.isArray(requires.nodes) ? requires.nodes : [];
    checkNodeTypes(nodes, declared, ctx.installedNodeTypes, problems);
  }
}

/** The path where `value` first goes deeper than MAX_DEPTH, or null. The recursion stops at MAX_DEPTH. */
function tooDeep(value: unknown, path: string, depth: number): string | null {
  if (typeof value !== 'object' || value === null) return null;
  if (depth >= MAX_DEPTH) return path;
  for (const [key, item] of Object.entries(value)) {
    const found = tooDeep(item, `${path}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`, depth + 1);
    if (found !== null) return found;
  }
  return null;
}

function checkUniqueNames(items: unknown[], at: string, problems: Problems): void {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    if (!isObject(item) || typeof item.name !== 'string') return;
    const first = seen.get(item.name);
    if (first === undefined) seen.set(item.name, i);
    else problems.add(Errors.INVALID_PACK, `${at}/${i}/name`, `"${item.name}" is also the name of ${at}/${first}`);
  });
}

/**
 * Resource ids share one namespace with node ids: a flow property equal to one is rewritten to
 * the deployed resource (ids.ts), so it must not also be a node's id.
 */
function checkResourceIds(pack: Record<string, unknown>, nodes: Indexed[], problems: Problems): void {
  const seen = new Map<string, string>(nodes.map((n) => [n.node.id, `/flows/${n.index}`]));
  for (const part of RESOURCE_PARTS) {
    const items = Array.isArray(pack[part]) ? (pack[part] as unknown[]) : [];
    items.forEach((item, i) => {
      if (!isObject(item) || typeof item.id !== 'string') return;
      const first = seen.get(item.id);
      if (first === undefined) seen.set(item.id, `/${part}/${i}`);
      else problems.add(Errors.DUPLICATE_NODE_ID, `/${part}/${i}/id`, `"${item.id}" is also the id of ${first}`);
    });
  }
}

interface Indexed {
  node: PackNode;
  index: number;
}

/** The structure of the flow JSON: unique ids, and every reference pointing at a node of the pack that can take it. */
function checkFlows(flows: unknown[], problems: Problems): Indexed[] {
  const nodes: Indexed[] = [];
  flows.forEach((n, index) => {
    // A node without a valid type is reported by the schema, but it still has its id: references to it are not broken.
    if (isObject(n) && typeof n.id === 'string' && n.id !== '') nodes.push({ node: { ...n, type: typeof n.type === 'string' ? n.type : '' } as PackNode, index });
  });
  const byId = new Map<string, Indexed>();
  for (const entry of nodes) {
    const first = byId.get(entry.node.id);
    if (first) problems.add(Errors.DUPLICATE_NODE_ID, `/flows/${entry.index}/id`, `"${entry.node.id}" is also the id of /flows/${first.index}`);
    else byId.set(entry.node.id, entry);
  }
  const containers = new Set(nodes.filter((e) => e.node.type === 'tab' || e.node.type === 'subflow').map((e) => e.node.id));
  if (nodes.length === flows.length && containers.size === 0) problems.add(Errors.INVALID_PACK, '/flows', 'has no tab or subflow');

  const zOf = (n: PackNode) => (typeof n.z === 'string' && n.z !== '' ? n.z : undefined);
  const isWirable = (n: PackNode) => !STRUCTURAL_TYPES.has(n.type) && !isConfigNode(n);
  const fail = (path: string, message: string) => problems.add(Errors.INVALID_PACK, path, message);
  const stringsAt = (value: unknown): Array<[number, string]> =>
    Array.isArray(value) ? value.flatMap((v, k): Array<[number, string]> => (typeof v === 'string' ? [[k, v]] : [])) : [];

  for (const { node, index } of nodes) {
    const at = `/flows/${index}`;
    const z = zOf(node);
    if (node.type === 'tab' || node.type === 'subflow') {
      if (z !== undefined) fail(`${at}/z`, `a ${node.type} cannot be inside another tab or subflow`);
      if (node.type === 'subflow') checkSubflowPorts(node, at, byId, fail);
      continue;
    }
    if (z !== undefined && !containers.has(z)) fail(`${at}/z`, `"${z}" is not a tab or subflow of the pack`);
    if (z === undefined && !isConfigNode(node)) fail(`${at}/z`, 'is required: a node with x/y is drawn on a tab or subflow');

    if (typeof node.g === 'string') {
      const group = byId.get(node.g)?.node;
      if (!group || group.type !== 'group') fail(`${at}/g`, `"${node.g}" is not a group of the pack`);
      else if (zOf(group) !== z) fail(`${at}/g`, `group "${node.g}" is on another tab or subflow`);
    }
    if (Array.isArray(node.wires)) {
      node.wires.forEach((port, p) => {
        for (const [k, target] of stringsAt(port)) {
          const t = byId.get(target)?.node;
          if (!t) fail(`${at}/wires/${p}/${k}`, `"${target}" is not a node of the pack`);
          else if (!isWirable(t)) fail(`${at}/wires/${p}/${k}`, `"${target}" is a ${isConfigNode(t) ? 'config node' : t.type}, which cannot be wired to`);
          else if (zOf(t) !== z) fail(`${at}/wires/${p}/${k}`, `"${target}" is on another tab or subflow (link nodes connect tabs)`);
        }
      });
    }
    const linkTarget = LINK_TARGET[node.type];
    if (linkTarget) {
      for (const [k, target] of stringsAt(node.links)) {
        const t = byId.get(target)?.node;
        if (!t) fail(`${at}/links/${k}`, `"${target}" is not a node of the pack`);
        else if (t.type !== linkTarget) fail(`${at}/links/${k}`, `"${target}" is a ${t.type} node; a ${node.type} node links to ${linkTarget} nodes`);
      }
    }
    if (node.type === 'group') {
      for (const [k, member] of stringsAt(node.nodes)) {
        const t = byId.get(member)?.node;
        if (!t || (!isWirable(t) && t.type !== 'group')) fail(`${at}/nodes/${k}`, `"${member}" is not a node of the pack that a group can hold`);
        else if (zOf(t) !== z) fail(`${at}/nodes/${k}`, `"${member}" is on another tab or subflow`);
      }
    }
    if (SCOPED_TYPES.has(node.type)) {
      for (const [k, target] of stringsAt(node.scope)) {
        if (!byId.has(target)) fail(`${at}/scope/${k}`, `"${target}" is not a node of the pack`);
      }
    }
    const instance = SUBFLOW_INSTANCE.exec(node.type);
    if (instance && byId.get(instance[1])?.node.type !== 'subflow') {
      fail(`${at}/type`, `subflow "${instance[1]}" is not in the pack`);
    }
  }
  checkSubflowCycles(nodes, fail);
  return nodes;
}

/** A subflow's input, output and status ports: wires to its own nodes (an output may also take the input directly). */
function checkSubflowPorts(subflow: PackNode, at: string, byId: Map<string, Indexed>, fail: (path: string, message: string) => void): void {
  const check = (port: unknown, path: string, selfAllowed: boolean) => {
    if (!isObject(port) || !Array.isArray(port.wires)) return;
    port.wires.forEach((w, k) => {
      if (!isObject(w) || typeof w.id !== 'string') return;
      if (selfAllowed && w.id === subflow.id) return;
      const t = byId.get(w.id)?.node;
      if (!t || t.z !== subflow.id || STRUCTURAL_TYPES.has(t.type) || isConfigNode(t)) fail(`${path}/wires/${k}/id`, `"${w.id}" is not a node of this subflow`);
    });
  };
  if (Array.isArray(subflow.in)) subflow.in.forEach((p, i) => check(p, `${at}/in/${i}`, false));
  if (Array.isArray(subflow.out)) subflow.out.forEach((p, i) => check(p, `${at}/out/${i}`, true));
  if (subflow.status !== undefined) check(subflow.status, `${at}/status`, true);
}

/** A subflow that contains an instance of itself, directly or through others, would never finish starting. */
function checkSubflowCycles(nodes: Indexed[], fail: (path: string, message: string) => void): void {
  const subflows = new Set(nodes.filter((e) => e.node.type === 'subflow').map((e) => e.node.id));
  const uses = new Map<string, Array<{ target: string; index: number }>>();
  for (const { node, index } of nodes) {
    const m = SUBFLOW_INSTANCE.exec(node.type);
    if (!m || !node.z || !subflows.has(node.z) || !subflows.has(m[1])) continue;
    const list = uses.get(node.z) ?? [];
    list.push({ target: m[1], index });
    uses.set(node.z, list);
  }
  const reaches = (from: string, goal: string, seen: Set<string>): boolean => {
    if (from === goal) return true;
    if (seen.has(from)) return false;
    seen.add(from);
    return (uses.get(from) ?? []).some((u) => reaches(u.target, goal, seen));
  };
  for (const [container, list] of uses) {
    for (const { target, index } of list) {
      if (reaches(target, container, new Set())) fail(`/flows/${index}/type`, `makes subflow "${container}" contain itself`);
    }
  }
}

function checkNodeTypes(nodes: Indexed[], declared: unknown[], installed: Set<string>, problems: Problems): void {
  const flows = nodes.map((e) => e.node);
  const firstUse = new Map<string, { index: number; count: number }>();
  // An instance of a subflow the pack lacks is already reported as a broken reference.
  const used = new Set(packNodeTypes(flows).filter((t) => !SUBFLOW_INSTANCE.test(t)));
  for (const { node, index } of nodes) {
    if (!used.has(node.type)) continue;
    const seen = firstUse.get(node.type);
    if (seen) seen.count++;
    else firstUse.set(node.type, { index, count: 1 });
  }
  for (const [type, { index, count }] of firstUse) {
    if (!installed.has(type)) problems.add(Errors.MISSING_NODE_TYPES, `/flows/${index}/type`, `node type "${type}" is not installed (${count === 1 ? 'used by 1 node' : `used by ${count} nodes`})`);
  }
  declared.forEach((type, i) => {
    if (typeof type === 'string' && !installed.has(type) && !firstUse.has(type) && !BUILT_IN_TYPES.has(type)) {
      problems.add(Errors.MISSING_NODE_TYPES, `/manifest/requires/nodes/${i}`, `node type "${type}" is not installed`);
    }
  });
}

// Parameters -----------------------------------------------------------------------------------

function addFormats(instance: Ajv): Ajv {
  instance.addFormat('email', { type: 'string', validate: (v: string) => isEmail(v) });
  instance.addFormat('uri', { type: 'string', validate: (v: string) => httpUrl(v) !== null });
  instance.addFormat('label-selector', {
    type: 'string',
    validate: (v: string) => {
      try {
        parseSelector(v);
        return true;
      } catch {
        return false;
      }
    },
  });
  return instance;
}

/** Checks a pack's own schema as written: defaults must already have the right type. */
const strictParams = addFormats(new Ajv({ allErrors: true, strictTypes: false }));
/** Checks values given at import: CLI values arrive as text, and a single value may stand for a one-item list. */
const coercingParams = addFormats(new Ajv({ allErrors: true, strictTypes: false, coerceTypes: 'array', useDefaults: true }));
const compiledParams = new WeakMap<object, ValidateFunction>();

/** What the pack schema cannot say about a parameters schema: compilable keywords, fitting defaults, known required names. */
function checkParametersSchema(parameters: Record<string, unknown>, shape: FieldError[], problems: Problems): void {
  const properties = isObject(parameters.properties) ? parameters.properties : {};
  for (const [name, schema] of Object.entries(properties)) {
    const at = `/parameters/properties/${name}`;
    // A parameter already refused by the pack schema would only fail again, less clearly.
    if (!isObject(schema) || shape.some((e) => e.path === at || e.path.startsWith(`${at}/`))) continue;
    let fn: ValidateFunction;
    try {
      fn = strictParams.compile(schema);
    } catch (err) {
      problems.add(Errors.INVALID_PACK, at, `is not a valid schema: ${(err as Error).message}`);
      continue;
    }
    if (has(schema, 'default') && !fn(schema.default)) {
      for (const e of toFieldErrors(fn.errors)) problems.add(Errors.INVALID_PACK, `${at}/default${e.path === '/' ? '' : e.path}`, e.message);
    }
  }
  if (Array.isArray(parameters.required)) {
    parameters.required.forEach((name, i) => {
      if (typeof name === 'string' && !has(properties, name)) problems.add(Errors.INVALID_PACK, `/parameters/required/${i}`, `"${name}" is not a parameter of the pack`);
    });
  }
}

function parametersValidator(parameters: ParametersSchema): ValidateFunction {
  let fn = compiledParams.get(parameters);
  if (!fn) compiledParams.set(parameters, (fn = coercingParams.compile(parameters)));
  return fn;
}

/**
 * Check import parameters against the pack's parameters schema and return them with defaults
 * applied. Values may be text (CLI `--param threshold=80`): they are coerced to the schema's type;
 * for a list, text is a JSON array or comma-separated items. `null` means "not given". Throws
 * FF_INVALID_PACK_PARAMETERS listing every problem at `/parameters/<name>`.
 */
export function checkParameters(pack: Pack, params: Record<string, unknown> | undefined | null): Record<string, unknown> {
  const schema: ParametersSchema = pack.parameters ?? { type: 'object', properties: {} };
  const problems: FieldError[] = [];
  const values: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(params ?? {})) {
    if (!has(schema.properties, name)) {
      problems.push({ path: `/parameters/${name}`, message: 'is not a parameter of this pack' });
      continue;
    }
    if (raw === null || raw === undefined) continue;
    values[name] = fromText(schema.properties[name], raw);
  }
  const fn = parametersValidator(schema);
  if (!fn(values)) {
    for (const e of toFieldErrors(fn.errors)) problems.push({ path: `/parameters${e.path === '/' ? '' : e.path}`, message: e.message });
  }
  if (problems.length) throw Errors.INVALID_PACK_PARAMETERS(summary(problems), { errors: problems });
  return values;
}

/** Text for a list becomes its items; ajv's coercion does the rest (numbers, booleans). */
function fromText(schema: ParameterSchema, value: unknown): unknown {
  if (typeof value !== 'string' || schema.type !== 'array') return value;
  if (value.trim() === '') return [];
  if (value.trimStart().startsWith('[')) {
    try {
      return JSON.parse(value);
    } catch {
      return value;
    }
  }
  return value.split(',').map((item) => item.trim());
}
