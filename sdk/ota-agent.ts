import { EventEmitter } from 'node:events';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FieldflowDevice } from './device';
import { download } from './download';
import { DeviceClosedError, DownloadAbortedError, FieldflowSdkError, InstallError, ProtocolError, VerificationError } from './errors';
import { parseOffer, type OtaOffer, type OtaRejection, type OtaReport } from './ota-offer';
import { verifyArtifact } from './verify';

/** What an install callback may return. */
export interface InstallResult {
  /**
   * The version the device runs after the install. Default: the offered version. Return the old
   * version when the new image did not take (the server records `rolled_back`).
   */
  version?: string;
}

/** Options of {@link OtaAgent}. */
export interface OtaAgentOptions {
  /** The version the device runs now; reported on every connect. */
  currentVersion: string;
  /**
   * Install a verified artifact. Throw to report `failed` with `install_failed`. The file is deleted
   * when it returns: move or copy it if it must be kept. A device that restarts to finish the
   * install may never return: the new process reports its version on connect, which completes the update.
   */
  install: (file: string, offer: OtaOffer) => Promise<InstallResult | void> | InstallResult | void;
  /** Directory for downloads; partial downloads in it are resumed, also by a later process. */
  downloadDir: string;
  /** The platform's Ed25519 public key (PEM, from `GET /api/v1/ota/signing-key`). With it, signed offers are verified. */
  signingPublicKey?: string;
  /** With a key configured, refuse offers that carry no signature (default false). */
  requireSignature?: boolean;
  /** Bearer token for downloads (default: the device token). */
  downloadToken?: string;
  /**
   * Commit the running version as a tag after an install and on start (default `{appKey: 'device', name: 'firmware'}`); false to skip.
   */
  firmwareTag?: { appKey?: string; name?: string } | false;
  /** Report progress at most every this many ms, unless `progressStep` was crossed (default 1000). */
  progressIntervalMs?: number;
  /** Report progress every time this fraction of the file more arrived (default 0.1). */
  progressStep?: number;
  /** Download attempts without progress before reporting `download_failed` (default 5). */
  retries?: number;
  /** First wait between download attempts (default 1000 ms, doubling). */
  retryDelayMs?: number;
  /**
   * FOR SIMULATION AND TESTS ONLY: flip one byte of every downloaded file before it is verified, so
   * the update fails with `checksum_mismatch` as it would with a corrupted download. Never set this
   * on a real device.
   */
  simulateCorruptDownload?: boolean;
}

/** Where an update handled by the agent stands. */
export type OtaUpdateState = 'downloading' | 'downloaded' | 'installing' | 'installed' | 'rolled_back' | 'failed' | 'aborted';

/** One update as the agent saw it, with download counters. */
export interface OtaUpdateStats {
  updateId: string;
  /** The offered version. */
  version: string;
  /** The artifact size. */
  size: number;
  state: OtaUpdateState;
  /** With `failed`: the reported reason (`checksum_mismatch`, `signature_invalid`, `download_failed`, `install_failed`). */
  reason?: string;
  /** The error behind a failure or abort. */
  error?: Error;
  /** Bytes received over HTTP for this update, all attempts included (a resumed download fetches about the size once). */
  bytesFetched: number;
  requests: number;
  resumes: number;
  restarts: number;
  startedAt: Date;
  endedAt?: Date;
}

/** Events of {@link OtaAgent}. */
export interface OtaAgentEvents {
  /** An offer to act on arrived. */
  offer: [offer: OtaOffer];
  /** A report on `ota/status` was acknowledged by the server (reports are sent in order, so they arrive in order). */
  report: [report: OtaReport];
  /** Download progress (as reported, throttled). */
  progress: [stats: OtaUpdateStats];
  /** An update ended here: installed, rolled back, failed or aborted. */
  done: [stats: OtaUpdateStats];
  /** The server refused a report. */
  rejected: [rejection: OtaRejection];
  /** A problem that is not an update outcome (a malformed offer, a report that could not be sent). Emitted only when listened to. */
  error: [error: Error];
}

interface Current {
  offer: OtaOffer;
  stats: OtaUpdateStats;
  controller: AbortController;
  /** Why the download was aborted: the offer was cleared/replaced (drop the partial file) or the agent stopped (keep it). */
  abortReason?: 'cleared' | 'stopped';
  /** install() has been called: from here the update can no longer be withdrawn. */
  installStarted?: boolean;
}

/**
 * The device side of OTA (docs/ota.md, "Device protocol"). It reports the running version on every
 * connect; on an offer it downloads the artifact (resuming after cuts), checks its SHA-256 and
 * signature, reports each step, calls `install`, and reports the new version, which is what
 * completes the update on the server. A cleared offer stops a download in progress.
 *
 * ```ts
 * const agent = device.ota({ currentVersion: '1.4.0', downloadDir: './ota', signingPublicKey,
 *   install: async (file, offer) => flash(file) });
 * agent.on('done', (s) => console.log(s.updateId, s.state, s.reason));
 * ```
 */
export class OtaAgent extends EventEmitter<OtaAgentEvents> {
  private version: string;
  private current: Current | null = null;
  private next: OtaOffer | null = null;
  private readonly finished = new Set<string>();
  private readonly log: OtaUpdateStats[] = [];
  private readonly unsubscribe: Array<() => void> = [];
  private started = false;
  private stopped = false;
  private readonly onConnect = () => this.reportVersion();

  constructor(
    private readonly device: FieldflowDevice,
    private readonly options: OtaAgentOptions,
  ) {
    super();
    if (typeof options.currentVersion !== 'string' || options.currentVersion === '') throw new FieldflowSdkError('FF_SDK_INVALID_ARGUMENT', 'currentVersion is required');
    if (typeof options.install !== 'function') throw new FieldflowSdkError('FF_SDK_INVALID_ARGUMENT', 'install(file, offer) is required');
    if (typeof options.downloadDir !== 'string' || options.downloadDir === '') throw new FieldflowSdkError('FF_SDK_INVALID_ARGUMENT', 'downloadDir is required');
    this.version = options.currentVersion;
  }

  /** The version the device runs, as far as the agent knows (updated after an install). */
  get currentVersion(): string {
    return this.version;
  }

  /** The update being handled, if any. */
  get active(): OtaUpdateStats | null {
    return this.current?.stats ?? null;
  }

  /** Updates handled by this agent, oldest first (the last 50). */
  get history(): readonly OtaUpdateStats[] {
    return this.log;
  }

  /** Subscribe to offers and report the current version (now if connected, and on every connect). Called by `device.ota()`. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.unsubscribe.push(this.device.subscribe('ota', (_t, payload) => this.onOffer(payload)));
    this.unsubscribe.push(this.device.subscribe('ota/rejected', (_t, payload) => this.onRejected(payload)));
    this.device.on('connect', this.onConnect);
    if (this.device.connected) this.reportVersion();
    this.commitFirmwareTag();
  }

  /** Stop handling offers. A download in progress stops; its partial file stays and is resumed by a later agent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.device.off('connect', this.onConnect);
    for (const u of this.unsubscribe) u();
    this.next = null;
    if (this.current && this.current.stats.state === 'downloading') {
      this.current.abortReason = 'stopped';
      this.current.controller.abort();
    }
  }

  private reportVersion(): void {
    // While an update is under way the old version would read as a rollback; the update reports itself.
    if (this.current || this.stopped) return;
    this.report({ version: this.version }).catch(() => undefined);
  }

  private commitFirmwareTag(): void {
    const tag = this.options.firmwareTag ?? {};
    if (tag === false) return;
    this.device.commitTags({ [tag.name ?? 'firmware']: this.version }, tag.appKey ?? 'device').catch((err: Error) => this.fail(err));
  }

  private onOffer(payload: Buffer): void {
    if (this.stopped) return;
    let offer: OtaOffer | null;
    try {
      offer = parseOffer(payload);
    } catch (err) {
      return this.fail(new ProtocolError(`devices/${this.device.deviceId}/ota`, (err as Error).message));
    }
    if (!offer) {
      // Cleared: the update ended on the server. A download stops; an install finishes and reports.
      this.next = null;
      this.withdraw();
      return;
    }
    // A retained offer comes again on every reconnect.
    if (this.current?.offer.updateId === offer.updateId || this.finished.has(offer.updateId)) return;
    this.emit('offer', offer);
    if (this.current) {
      this.next = offer;
      this.withdraw();
      return;
    }
    void this.run(offer);
  }

  /**
   * The server cleared or replaced the offer being handled: a download stops, and nothing that has
   * not reached install() yet gets there (run() checks before it calls it). An install under way finishes.
   */
  private withdraw(): void {
    const current = this.current;
    if (!current || current.installStarted) return;
    current.abortReason = 'cleared';
    if (current.stats.state === 'downloading') current.controller.abort();
  }

  private onRejected(payload: Buffer): void {
    try {
      const r = JSON.parse(payload.toString('utf8')) as OtaRejection;
      if (typeof r === 'object' && r !== null) this.emit('rejected', r);
    } catch {
      this.fail(new ProtocolError(`devices/${this.device.deviceId}/ota/rejected`, 'the rejection is not JSON'));
    }
  }

  private async run(offer: OtaOffer): Promise<void> {
    const { artifact } = offer;
    const stats: OtaUpdateStats = { updateId: offer.updateId, version: artifact.version, size: artifact.size, state: 'downloading', bytesFetched: 0, requests: 0, resumes: 0, restarts: 0, startedAt: new Date() };
    const current: Current = { offer, stats, controller: new AbortController() };
    this.current = current;
    // Per device: agents of several devices (a gateway) may share a download directory.
    const file = path.join(this.options.downloadDir, `${safeName(this.device.deviceId)}-${safeName(artifact.id)}.bin`);
    try {
      if (artifact.version === this.version) {
        // Already running it (installed by an earlier process): say so, which completes the update.
        stats.state = 'installed';
        await this.report({ updateId: offer.updateId, version: this.version });
        return;
      }
      await fs.mkdir(this.options.downloadDir, { recursive: true });
      await this.fetch(current, file);
      if (this.options.simulateCorruptDownload) await corrupt(file);
      await verifyArtifact(file, artifact, { publicKeyPem: this.options.signingPublicKey, requireSignature: this.options.requireSignature });
      stats.state = 'downloaded';
      await this.report({ updateId: offer.updateId, state: 'downloaded' });
      stats.state = 'installing';
      await this.report({ updateId: offer.updateId, state: 'installing' });
      // Withdrawn while it was verified or reported: install nothing.
      if (current.abortReason) throw new DownloadAbortedError(`the offer of update ${offer.updateId} was withdrawn before the install`);
      current.installStarted = true;
      let result: InstallResult | void;
      try {
        result = await this.options.install(file, offer);
      } catch (err) {
        throw new InstallError(err);
      }
      const version = result?.version ?? artifact.version;
      this.version = version;
      stats.state = version === artifact.version ? 'installed' : 'rolled_back';
      await this.report({ updateId: offer.updateId, version });
      this.commitFirmwareTag();
    } catch (err) {
      await this.settleFailure(current, err as Error, file);
    } finally {
      await fs.rm(file, { force: true }).catch(() => undefined);
      stats.endedAt = new Date();
      this.finished.add(offer.updateId);
      this.log.push(stats);
      if (this.log.length > 50) this.log.shift();
      this.current = null;
      try {
        this.emit('done', stats);
      } catch (err) {
        // A listener that throws must not become an unhandled rejection that ends the device process.
        this.fail(err as Error);
      }
      const next = this.next;
      this.next = null;
      if (next && !this.stopped) void this.run(next);
    }
  }

  private async fetch(current: Current, file: string): Promise<void> {
    const { offer, stats } = current;
    const total = offer.artifact.size;
    const step = Math.max(1, Math.floor(total * (this.options.progressStep ?? 0.1)));
    const interval = this.options.progressIntervalMs ?? 1000;
    let lastBytes = -1;
    let lastAt = 0;
    const progress = (bytes: number, force = false) => {
      const now = Date.now();
      if (!force && bytes - lastBytes < step && now - lastAt < interval) return;
      lastBytes = bytes;
      lastAt = now;
      this.report({ updateId: offer.updateId, state: 'downloading', bytes, total }).catch(() => undefined);
      this.emit('progress', stats);
    };
    progress(await sizeOf(`${file}.part`), true);
    const url = new URL(offer.url, this.device.httpUrl + '/').toString();
    try {
      const result = await download({
        url,
        file,
        token: this.options.downloadToken ?? this.device.token,
        expectedSize: total,
        signal: current.controller.signal,
        retries: this.options.retries,
        retryDelayMs: this.options.retryDelayMs,
        onProgress: (bytes, _total, fetched) => {
          stats.bytesFetched = fetched;
          progress(bytes);
        },
      });
      Object.assign(stats, { bytesFetched: result.bytesFetched, requests: result.requests, resumes: result.resumes, restarts: result.restarts });
    } catch (err) {
      if (err instanceof DownloadAbortedError && current.abortReason !== 'stopped') {
        // The update is over on the server: its partial file is of no further use.
        await fs.rm(`${file}.part`, { force: true }).catch(() => undefined);
        await fs.rm(`${file}.part.json`, { force: true }).catch(() => undefined);
      }
      throw err;
    }
  }

  private async settleFailure(current: Current, err: Error, file: string): Promise<void> {
    const { stats, offer } = current;
    stats.error = err;
    if (err instanceof DownloadAbortedError || err instanceof DeviceClosedError) {
      stats.state = 'aborted';
      return;
    }
    stats.state = 'failed';
    stats.reason = err instanceof VerificationError ? err.reason : err instanceof InstallError ? 'install_failed' : 'download_failed';
    if (err instanceof VerificationError) {
      // Never keep (or resume from) bytes that failed verification.
      await fs.rm(`${file}.part`, { force: true }).catch(() => undefined);
      await fs.rm(`${file}.part.json`, { force: true }).catch(() => undefined);
    }
    await this.report({ updateId: offer.updateId, state: 'failed', reason: stats.reason }).catch(() => undefined);
  }

  private async report(report: OtaReport): Promise<void> {
    try {
      await this.device.publishDirect('ota/status', JSON.stringify(report));
    } catch (err) {
      this.fail(err as Error);
      throw err;
    }
    this.emit('report', report);
  }

  private fail(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await fs.stat(file)).size;
  } catch {
    return 0;
  }
}

/** Flip one byte in the middle of a file (simulateCorruptDownload). */
async function corrupt(file: string): Promise<void> {
  const h = await fs.open(file, 'r+');
  try {
    const { size } = await h.stat();
    if (size === 0) {
      await h.write(Buffer.from([0]), 0, 1, 0);
      return;
    }
    const at = Math.floor(size / 2);
    const b = Buffer.alloc(1);
    await h.read(b, 0, 1, at);
    b[0] ^= 0xff;
    await h.write(b, 0, 1, at);
  } finally {
    await h.close();
  }
}

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '_');
}
