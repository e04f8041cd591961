import type { Store } from '../store';
import type { Logger } from '../log';
import type { EventBus } from '../events';
import type { DeviceRegistry } from '../devices/registry';
import type { TagService } from '../tags/service';
import type { AlarmService } from '../alarms/service';
import { ArtifactStore } from './artifacts';
import { FleetStore } from './fleets';
import { ManifestSigner } from './signing';
import { RolloutEngine, type DeviceLink } from './rollouts';

export interface OtaOptions {
  /** Largest artifact accepted, in bytes. */
  maxArtifactBytes: number;
  /** PEM file of an Ed25519 private key: artifacts are signed with it. Unset: artifacts are not signed. */
  signingKeyFile?: string;
  /** Prefix of the download URLs in offers (`https://iot.example.com`); unset: a path on the HTTP port. */
  publicUrl?: string;
  /** How often update timeouts, scheduled starts and wave pauses are checked, in ms. */
  sweepMs?: number;
}

export interface OtaDeps {
  options: OtaOptions;
  dataDir: string | null;
  devices: DeviceRegistry;
  tags: TagService;
  alarms: AlarmService;
  events: EventBus;
  log: Logger;
  now: () => number;
}

/**
 * Over-the-air updates: artifacts (files, versions, target models), fleets (sets of devices), and
 * rollouts of an artifact to a fleet with a state machine per device (docs/ota.md).
 */
export class OtaService {
  readonly artifacts: ArtifactStore;
  readonly fleets: FleetStore;
  readonly rollouts: RolloutEngine;
  private signer: ManifestSigner | null = null;

  constructor(private readonly deps: OtaDeps) {
    this.artifacts = new ArtifactStore({ dataDir: deps.dataDir, maxBytes: deps.options.maxArtifactBytes, signer: () => this.signer, log: deps.log, now: deps.now });
    this.fleets = new FleetStore({ devices: deps.devices, now: deps.now });
    this.rollouts = new RolloutEngine({
      ...deps,
      artifacts: this.artifacts,
      fleets: this.fleets,
      publicUrl: deps.options.publicUrl?.replace(/\/+$/, '') ?? null,
      sweepMs: deps.options.sweepMs ?? 500,
    });
  }

  /** The public key (PEM) devices verify artifact signatures with, or null when artifacts are not signed. */
  signingPublicKey(): string | null {
    return this.signer?.publicKeyPem ?? null;
  }

  async start(store: Store): Promise<void> {
    if (this.deps.options.signingKeyFile) this.signer = await ManifestSigner.load(this.deps.options.signingKeyFile);
    await this.artifacts.start(store);
    await this.fleets.start(store);
    await this.rollouts.start(store);
  }

  /** Start offering: called once the broker is up. */
  attach(link: DeviceLink): void {
    this.rollouts.attach(link);
  }

  /** A device report on `devices/{id}/ota/status` (the broker routes it here). */
  report(deviceId: string, payload: Buffer): Promise<void> {
    return this.rollouts.report(deviceId, payload);
  }

  stop(): Promise<void> {
    return this.rollouts.stop();
  }
}
