import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import semver from 'semver';
import { Errors, type FieldError } from '../errors';
import type { Collection, Store } from '../store';
import type { Logger } from '../log';
import { MODEL_NAME_PATTERN } from '../devices/selector';
import type { ManifestSigner } from './signing';
import { isDiskFull, storageError } from '../store/data-file';

/** A firmware (or any update) file and what it is for. */
export interface Artifact {
  id: string;
  name: string;
  /** Semantic version (https://semver.org), normalised. */
  version: string;
  /** Device models it targets. */
  models: string[];
  notes: string;
  sha256: string;
  size: number;
  /** Ed25519 signature (base64) of the manifest (version, sha256, size), when a signing key is configured. */
  signature: string | null;
  createdAt: number;
}

export interface ArtifactMeta {
  name?: unknown;
  version?: unknown;
  models?: unknown;
  notes?: unknown;
}

type ArtifactDoc = Omit<Artifact, 'id'> & { _id: string };

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const MODEL = new RegExp(MODEL_NAME_PATTERN);
const UPLOAD_PREFIX = '.upload-';

/**
 * Artifacts on disk under the data directory, one file each, with their metadata in a collection.
 * An upload is streamed to a temporary file while its SHA-256 and size are computed (never held
 * in memory whole), and becomes visible only by a rename once it is complete and its metadata is
 * valid: an interrupted upload leaves nothing behind (leftovers are swept on start).
 */
export class ArtifactStore {
  private readonly artifacts = new Map<string, Artifact>();
  private collection!: Collection<ArtifactDoc>;
  private dir!: string;
  /** Lets rollouts refuse the deletion of an artifact they use. */
  private inUse: (id: string) => string | null = () => null;

  constructor(private readonly deps: { dataDir: string | null; maxBytes: number; signer: () => ManifestSigner | null; log: Logger; now: () => number }) {}

  async start(store: Store): Promise<void> {
    this.dir = this.deps.dataDir === null ? await fsp.mkdtemp(path.join(os.tmpdir(), 'fieldflow-artifacts-')) : path.join(this.deps.dataDir, 'artifacts');
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    this.collection = await store.collection<ArtifactDoc>('ota_artifacts');
    for (const { _id, ...doc } of await this.collection.all()) this.artifacts.set(_id, { id: _id, ...doc });
    // Uploads cut short, and files whose metadata never got written.
    for (const file of await fsp.readdir(this.dir)) {
      const id = file.endsWith('.bin') ? file.slice(0, -4) : null;
      if (file.startsWith(UPLOAD_PREFIX) || (id && !this.artifacts.has(id))) await fsp.rm(path.join(this.dir, file), { force: true });
    }
  }

  /** Rollouts say here which artifacts they use. */
  guard(inUse: (id: string) => string | null): void {
    this.inUse = inUse;
  }

  list(): Artifact[] {
    return [...this.artifacts.values()].sort((a, b) => b.createdAt - a.createdAt);
  }

  get(id: string): Artifact {
    const artifact = typeof id === 'string' ? this.artifacts.get(id) : undefined;
    if (!artifact) throw Errors.ARTIFACT_NOT_FOUND(`No artifact has id ${JSON.stringify(String(id).slice(0, 64))}`);
    return artifact;
  }

  /** Check the metadata before any byte is read, so a bad request costs no upload. */
  checkMeta(meta: ArtifactMeta): Pick<Artifact, 'name' | 'version' | 'models' | 'notes'> {
    const errors: FieldError[] = [];
    if (typeof meta.name !== 'string' || !NAME.test(meta.name)) errors.push({ path: '/name', message: 'must be 1-128 letters, digits, _ . -' });
    const version = typeof meta.version === 'string' ? semver.valid(meta.version.trim()) : null;
    if (!version) errors.push({ path: '/version', message: `${JSON.stringify(meta.version)?.slice(0, 64)} is not a semantic version such as 1.4.2` });
    const models = typeof meta.models === 'string' ? meta.models.split(',').map((m) => m.trim()).filter(Boolean) : meta.models;
    if (!Array.isArray(models) || models.length === 0 || models.length > 64 || models.some((m) => typeof m !== 'string' || !MODEL.test(m))) {
      errors.push({ path: '/models', message: 'must list 1-64 device model names' });
    }
    if (meta.notes !== undefined && (typeof meta.notes !== 'string' || meta.notes.length > 16 * 1024)) errors.push({ path: '/notes', message: 'must be text of at most 16 KiB' });
    if (errors.some((e) => e.path === '/version')) throw Errors.INVALID_VERSION(errors.map((e) => `${e.path} ${e.message}`).join('; '), { errors });
    if (errors.length) throw Errors.INVALID_ARTIFACT(errors.map((e) => `${e.path} ${e.message}`).join('; '), { errors });
    const name = meta.name as string;
    for (const a of this.artifacts.values()) {
      if (a.name === name && a.version === version) throw Errors.CONFLICT(`${name} ${version} exists (${a.id}); versions are immutable, upload a new one`);
    }
    return { name, version: version!, models: [...new Set(models as string[])], notes: (meta.notes as string | undefined) ?? '' };
  }

  /** Stream an upload to disk; resolves with the stored artifact once file and metadata are durable. */
  async upload(meta: ArtifactMeta, body: Readable): Promise<Artifact> {
    const checked = this.checkMeta(meta);
    const id = randomUUID();
    const temp = path.join(this.dir, `${UPLOAD_PREFIX}${id}`);
    const hash = createHash('sha256');
    let size = 0;
    const limit = this.deps.maxBytes;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > limit) return done(Errors.ARTIFACT_TOO_LARGE(`Artifacts may be at most ${limit} bytes (FIELDFLOW_OTA_MAX_ARTIFACT_BYTES)`));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(body, meter, fs.createWriteStream(temp, { mode: 0o600 }));
      if (size === 0) throw Errors.ARTIFACT_EMPTY('The upload has no bytes');
      const handle = await fsp.open(temp, 'r+');
      await handle.sync().finally(() => handle.close());
      const sha256 = hash.digest('hex');
      const signature = this.deps.signer()?.sign({ version: checked.version, sha256, size }) ?? null;
      const artifact: Artifact = { id, ...checked, sha256, size, signature, createdAt: this.deps.now() };
      // Another upload of the same name and version may have finished while this one streamed.
      this.checkMeta(checked);
      await fsp.rename(temp, this.file(id));
      try {
        const { id: _i, ...doc } = artifact;
        await this.collection.insert({ _id: id, ...doc });
      } catch (err) {
        await fsp.rm(this.file(id), { force: true });
        throw err;
      }
      this.artifacts.set(id, artifact);
      return artifact;
    } catch (err) {
      await fsp.rm(temp, { force: true });
      // A full disk is the client's to retry later (503), not a fault of ours (500).
      throw isDiskFull(err) ? storageError(err) : err;
    }
  }

  async remove(id: string): Promise<void> {
    this.get(id);
    const user = this.inUse(id);
    if (user) throw Errors.ARTIFACT_IN_USE(`The artifact is used by ${user}; let it finish or cancel it first`);
    this.artifacts.delete(id);
    await this.collection.remove(id);
    await fsp.rm(this.file(id), { force: true });
  }

  /** The file's path, for downloads (which read ranges of it). */
  file(id: string): string {
    return path.join(this.dir, `${id}.bin`);
  }
}
