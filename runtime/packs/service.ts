import fs from 'node:fs/promises';
import path from 'node:path';
import semver from 'semver';
import { Errors } from '../errors';
import type { Collection, Store } from '../store';
import type { Logger } from '../log';
import type { FlowNode, FlowsPort } from './flows-port';
import { diffFlows, packContent, replacePackNodes, type FlowDiff } from './deploy';
import { checkPack, checkParameters, loadPack, parsePack, secretParameters, type Pack } from './model';
import { derivePackFlows, packFingerprint } from './ids';
import { derivePackResources, type PackResource } from './resources';
import { applyResources, planResources, recordedBody, removeResources, type DeployedResource, type KeptResource, type ResourceDiff } from './apply-resources';
import type { ResourcePorts } from './resource-ports';
import { exportPack, type ExportRequest } from './export';

/** One installed version of a pack: enough to deploy it again (rollback). */
export interface PackVersion {
  version: string;
  /** The parameters, without the secret ones. */
  params: Record<string, unknown>;
  /** The secret (`writeOnly`) parameters, sealed; null if none. */
  sealedSecrets?: string | null;
  /** The pack file as imported, as JSON text (pack files may hold keys such as `$schema` that NeDB refuses). */
  source: string;
  installedAt: number;
}

export interface InstalledPack {
  id: string;
  name: string;
  version: string;
  /** The parameters, without the secret ones. */
  params: Record<string, unknown>;
  /** The secret (`writeOnly`) parameters, sealed with the platform's credential key; null if none. */
  sealedSecrets: string | null;
  installedAt: number;
  installedBy: string;
  /** The ids of the nodes the pack deployed (tabs, subflows, nodes). */
  nodeIds: string[];
  /** A hash of those nodes as deployed: a different hash now means someone edited them. */
  fingerprint: string;
  /** The models, endpoints, subscriptions and schedules the pack created, as it created them. */
  resources: DeployedResource[];
  /** The pack file, as JSON text. */
  source: string;
  /** Earlier versions, newest first: what rollback restores. */
  history: PackVersion[];
}

type PackDoc = Omit<InstalledPack, 'id'> & { _id: string };

export interface ImportRequest {
  /** The pack file's text, or the pack already parsed (built-in packs, the editor). */
  file: string | Buffer | Pack;
  params?: Record<string, unknown>;
  /** Overwrite edits made in the pack's tabs since it was installed. */
  force?: boolean;
  /** Accept a version lower than the installed one. */
  allowDowngrade?: boolean;
}

export interface ImportPlan {
  pack: Pack;
  params: Record<string, unknown>;
  /** The installed version, if any. */
  from: string | null;
  to: string;
  diff: FlowDiff;
  resources: ResourceDiff;
  /** Edits a user made in the pack's tabs since it was installed: the import overwrites them only with force. */
  modified: boolean;
}

const HISTORY = 5;

/** A built-in pack in the repository's flows/ folder. */
export interface BuiltinPack {
  file: string;
  id: string;
  name: string;
  version: string;
  description: string;
}

/** What a removal did: resources it had to keep (a model devices still use). */
export interface RemoveResult {
  kept: KeptResource[];
}

/** The flows/ folder of the installed distribution (dist/runtime/packs → the package root). */
const DEFAULT_BUILTIN_DIR = path.resolve(__dirname, '../../../flows');

/**
 * Flow packs: a whole solution (flows, and later models and alerting) imported in one step,
 * upgraded in place and rolled back. One code path for the CLI, REST and the editor.
 */
export class PackService {
  private readonly packs = new Map<string, InstalledPack>();
  private collection!: Collection<PackDoc>;
  private port: FlowsPort | null = null;
  /** One import, upgrade, rollback or removal at a time: each reads the flows, then writes them. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: {
      log: Logger;
      now: () => number;
      version: string;
      maxBytes: number;
      resources: ResourcePorts;
      /** Seals secret parameters at rest. */
      secrets: { seal(value: unknown): string; open<T>(sealed: string): T };
      builtinDir?: string;
    },
  ) {}

  async start(store: Store): Promise<void> {
    this.collection = await store.collection<PackDoc>('packs');
    for (const { _id, ...doc } of await this.collection.all()) this.packs.set(_id, { id: _id, ...doc, resources: doc.resources ?? [], sealedSecrets: doc.sealedSecrets ?? null });
  }

  /** Node-RED's flows, once it runs (the launcher attaches them). */
  attach(port: FlowsPort): void {
    this.port = port;
  }

  list(): InstalledPack[] {
    return [...this.packs.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  get(id: string): InstalledPack {
    const pack = typeof id === 'string' ? this.packs.get(id) : undefined;
    if (!pack) throw Errors.PACK_NOT_FOUND(`No pack with id ${JSON.stringify(String(id).slice(0, 128))} is installed`);
    return pack;
  }

  /** What an import would change, without changing anything (the dry run). */
  async plan(request: ImportRequest): Promise<ImportPlan> {
    const port = this.requirePort();
    const { flows } = await port.getFlows();
    return (await this.prepare(request, flows, port)).plan;
  }

  /** Import or upgrade a pack. Nothing is deployed unless the whole pack is valid. */
  install(request: ImportRequest, by: string): Promise<InstalledPack> {
    return this.exclusive(async () => {
      const port = this.requirePort();
      const { rev, flows } = await port.getFlows();
      const { plan, nodes, resources } = await this.prepare(request, flows, port);
      if (plan.modified && !request.force) {
        throw Errors.PACK_MODIFIED(`The tabs of ${plan.pack.manifest.id} were edited since ${plan.from} was installed; import again with force to overwrite the edits`);
      }
      const installed = this.packs.get(plan.pack.manifest.id);
      await this.deploy({ port, rev, flows, installed, nodes, resources });
      const history = installed ? [{ version: installed.version, params: installed.params, sealedSecrets: installed.sealedSecrets, source: installed.source, installedAt: installed.installedAt }, ...installed.history].slice(0, HISTORY) : [];
      const entry = await this.record(plan.pack, plan.params, nodes, resources, history, by);
      await this.removeDropped(installed, resources);
      return entry;
    });
  }

  /** Deploy the previous version again, with its parameters. */
  rollback(id: string, by: string, options: { force?: boolean } = {}): Promise<InstalledPack> {
    return this.exclusive(async () => {
      const installed = this.get(id);
      const previous = installed.history[0];
      if (!previous) throw Errors.CONFLICT(`${id} has no earlier version to roll back to`);
      const port = this.requirePort();
      const { rev, flows } = await port.getFlows();
      if (this.modified(installed, flows) && !options.force) throw Errors.PACK_MODIFIED(`The tabs of ${id} were edited since it was installed; roll back with force to overwrite the edits`);
      const pack = JSON.parse(previous.source) as Pack;
      const params = { ...previous.params, ...this.openSecrets(previous.sealedSecrets) };
      const nodes = derivePackFlows(pack, id, params);
      const resources = derivePackResources(pack, id, params);
      planResources(this.deps.resources, resources, installed.resources);
      await this.deploy({ port, rev, flows, installed, nodes, resources });
      const entry = await this.record(pack, params, nodes, resources, installed.history.slice(1), by);
      await this.removeDropped(installed, resources);
      return entry;
    });
  }

  /** Delete the pack's tabs, the resources it created and the record of it. */
  remove(id: string): Promise<RemoveResult> {
    return this.exclusive(async () => {
      const installed = this.get(id);
      const port = this.requirePort();
      const { rev, flows } = await port.getFlows();
      await port.setFlows(replacePackNodes(flows, packContent(flows, installed.nodeIds), []), rev);
      // The record goes as soon as the tabs have: what follows is clean-up, and reports what it could not do.
      await this.collection.remove(id);
      this.packs.delete(id);
      return { kept: await removeResources(this.deps.resources, installed.resources, this.deps.log) };
    });
  }

  /** Deployed tabs (with what they use) as a pack file; the pack is checked like an import. */
  async export(request: ExportRequest): Promise<Pack> {
    const port = this.requirePort();
    const { flows } = await port.getFlows();
    const installed = this.list().map((p) => ({ id: p.id, pack: JSON.parse(p.source) as Pack, params: p.params, resources: p.resources }));
    const pack = exportPack(flows, request, { ports: this.deps.resources, installed, fieldflowVersion: this.deps.version });
    return checkPack(pack, { installedNodeTypes: await port.nodeTypes(), fieldflowVersion: this.deps.version }).pack;
  }

  /** The packs shipped in flows/, for the editor to offer. */
  async builtins(): Promise<BuiltinPack[]> {
    const out: BuiltinPack[] = [];
    for (const file of await this.builtinFiles()) {
      try {
        const { manifest } = parsePack(await fs.readFile(path.join(this.builtinDir, file)), { maxBytes: this.deps.maxBytes });
        out.push({ file, id: manifest.id, name: manifest.name, version: manifest.version, description: manifest.description ?? '' });
      } catch (err) {
        this.deps.log.warn('a built-in pack does not parse', { file, error: (err as Error).message });
      }
    }
    return out;
  }

  /** A built-in pack's file, by its name in flows/. */
  async readBuiltin(file: string): Promise<Pack> {
    if (!(await this.builtinFiles()).includes(file)) throw Errors.PACK_NOT_FOUND(`No built-in pack ${JSON.stringify(String(file).slice(0, 128))}`);
    return parsePack(await fs.readFile(path.join(this.builtinDir, file)), { maxBytes: this.deps.maxBytes });
  }

  private get builtinDir(): string {
    return this.deps.builtinDir ?? DEFAULT_BUILTIN_DIR;
  }

  private async builtinFiles(): Promise<string[]> {
    const entries = await fs.readdir(this.builtinDir, { withFileTypes: true }).catch(() => []);
    return entries.filter((e) => e.isFile() && e.name.endsWith('.json')).map((e) => e.name).sort();
  }

  /**
   * Resources first (a flow may use them as soon as it starts), then the flows; if the flows
   * deploy fails, the resource changes are undone.
   */
  private async deploy(step: { port: FlowsPort; rev: string; flows: FlowNode[]; installed: InstalledPack | undefined; nodes: FlowNode[]; resources: PackResource[] }): Promise<void> {
    const { port, rev, flows, installed, nodes, resources } = step;
    const undo = await applyResources(this.deps.resources, resources, this.deps.log);
    try {
      await port.setFlows(replacePackNodes(flows, packContent(flows, installed?.nodeIds ?? []), nodes), rev);
    } catch (err) {
      await undo();
      throw err;
    }
  }

  /** After the new version is recorded: delete the resources it no longer has (never throws; what is kept is logged). */
  private async removeDropped(installed: InstalledPack | undefined, resources: PackResource[]): Promise<void> {
    const next = new Set(resources.map((r) => `${r.kind}:${r.id}`));
    const dropped = (installed?.resources ?? []).filter((r) => !next.has(`${r.kind}:${r.id}`));
    for (const k of await removeResources(this.deps.resources, dropped, this.deps.log)) this.deps.log.warn('a resource the pack no longer has was kept', { ...k });
  }

  private async prepare(request: ImportRequest, flows: FlowNode[], port: FlowsPort): Promise<{ plan: ImportPlan; nodes: FlowNode[]; resources: PackResource[] }> {
    const ctx = { installedNodeTypes: await port.nodeTypes(), fieldflowVersion: this.deps.version };
    const { pack } = typeof request.file === 'string' || Buffer.isBuffer(request.file) ? loadPack(request.file, { maxBytes: this.deps.maxBytes }, ctx) : checkPack(request.file, ctx);
    const id = pack.manifest.id;
    const installed = this.packs.get(id) ?? null;
    // An upgrade keeps the secrets it runs with unless new ones are given: they are never shown, so nobody could copy them.
    const kept = Object.entries(installed ? this.openSecrets(installed.sealedSecrets) : {}).filter(([name]) => secretParameters(pack).has(name));
    const params = checkParameters(pack, { ...Object.fromEntries(kept), ...(request.params ?? {}) });
    if (installed && semver.lt(pack.manifest.version, installed.version) && !request.allowDowngrade) {
      throw Errors.PACK_DOWNGRADE(`${id} ${installed.version} is installed; ${pack.manifest.version} is older (allow the downgrade to install it)`);
    }
    const nodes = derivePackFlows(pack, id, params);
    const owned = packContent(flows, installed?.nodeIds ?? []);
    const taken = new Map(flows.map((n) => [n.id, n]));
    const clashes = nodes.filter((n) => taken.has(n.id) && !owned.has(n.id)).map((n) => n.id);
    if (clashes.length) throw Errors.PACK_ID_CONFLICT(`${clashes.length} node id(s) of ${id} are used by flows that are not this pack's (${clashes.slice(0, 5).join(', ')})`);
    const resources = derivePackResources(pack, id, params);
    const resourceDiff = planResources(this.deps.resources, resources, installed?.resources ?? []);
    const before = flows.filter((n) => owned.has(n.id));
    return {
      plan: { pack, params, from: installed?.version ?? null, to: pack.manifest.version, diff: diffFlows(before, nodes), resources: resourceDiff, modified: !!installed && this.modified(installed, flows) },
      nodes,
      resources,
    };
  }

  private modified(installed: InstalledPack, flows: FlowNode[]): boolean {
    const owned = packContent(flows, installed.nodeIds);
    return packFingerprint(flows.filter((n) => owned.has(n.id))) !== installed.fingerprint;
  }

  private async record(pack: Pack, params: Record<string, unknown>, nodes: FlowNode[], resources: PackResource[], history: PackVersion[], by: string): Promise<InstalledPack> {
    const secrets = secretParameters(pack);
    const secretValues = Object.fromEntries(Object.entries(params).filter(([name]) => secrets.has(name)));
    const entry: InstalledPack = {
      id: pack.manifest.id,
      name: pack.manifest.name,
      version: pack.manifest.version,
      params: Object.fromEntries(Object.entries(params).filter(([name]) => !secrets.has(name))),
      sealedSecrets: Object.keys(secretValues).length ? this.deps.secrets.seal(secretValues) : null,
      installedAt: this.deps.now(),
      installedBy: by,
      nodeIds: nodes.map((n) => n.id),
      fingerprint: packFingerprint(nodes),
      resources: resources.map(({ index: _index, ...r }) => ({ ...r, body: recordedBody(r.body) })),
      source: JSON.stringify(pack),
      history,
    };
    const { id, ...doc } = entry;
    if (this.packs.has(id)) await this.collection.replace({ _id: id, ...doc });
    else await this.collection.insert({ _id: id, ...doc });
    this.packs.set(id, entry);
    return entry;
  }

  private openSecrets(sealed: string | null | undefined): Record<string, unknown> {
    return sealed ? this.deps.secrets.open<Record<string, unknown>>(sealed) : {};
  }

  private requirePort(): FlowsPort {
    if (!this.port) throw Errors.UNAVAILABLE('Node-RED is not running; packs can be imported once it is');
    return this.port;
  }

  /** One at a time; a deploy that lost a race with another deploy is done again once, from fresh flows. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const retried = () => work().catch((err: Error & { code?: string }) => (err.code === Errors.FLOWS_CHANGED.code ? work() : Promise.reject(err)));
    const run = this.queue.then(retried, retried);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
