import type { Store } from '../store';
import type { Logger } from '../log';
import { ArtifactStore } from './artifacts';
import { FleetStore } from './fleets';
import { ManifestSigner } from './signing';
import type { DeviceRegistry } from '../devices/registry';

export interface OtaOptions {
  /** Largest artifact accepted, in bytes. */
  maxArtifactBytes: number;
  /** PEM file of an Ed25519 private key: artifacts are signed with it. Unset: artifacts are not signed. */
  signingKeyFile?: string;
}

/**
 * Over-the-air updates. So far: the artifacts (files, versions, target models) and fleets (sets of
 * devices). Rollouts and the device protocol build on them.
 */
export class OtaService {
  readonly artifacts: ArtifactStore;
  readonly fleets: FleetStore;
  private signer: ManifestSigner | null = null;

  constructor(private readonly deps: { options: OtaOptions; dataDir: string | null; devices: DeviceRegistry; log: Logger; now: () => number }) {
    this.artifacts = new ArtifactStore({ dataDir: deps.dataDir, maxBytes: deps.options.maxArtifactBytes, signer: () => this.signer, log: deps.log, now: deps.now });
    this.fleets = new FleetStore({ devices: deps.devices, now: deps.now });
  }

  /** The public key (PEM) devices verify artifact signatures with, or null when artifacts are not signed. */
  signingPublicKey(): string | null {
    return this.signer?.publicKeyPem ?? null;
  }

  async start(store: Store): Promise<void> {
    if (this.deps.options.signingKeyFile) this.signer = await ManifestSigner.load(this.deps.options.signingKeyFile);
    await this.artifacts.start(store);
    await this.fleets.start(store);
  }
}
