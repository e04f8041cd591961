import type { Store } from '../store';
import type { Logger } from '../log';
import { ArtifactStore } from './artifacts';
import { FleetStore } from './fleets';
import type { DeviceRegistry } from '../devices/registry';

export interface OtaOptions {
  /** Largest artifact accepted, in bytes. */
  maxArtifactBytes: number;
}

/**
 * Over-the-air updates. So far: the artifacts (files, versions, target models) and fleets (sets of
 * devices). Rollouts and the device protocol build on them.
 */
export class OtaService {
  readonly artifacts: ArtifactStore;
  readonly fleets: FleetStore;

  constructor(deps: { options: OtaOptions; dataDir: string | null; devices: DeviceRegistry; log: Logger; now: () => number }) {
    this.artifacts = new ArtifactStore({ dataDir: deps.dataDir, maxBytes: deps.options.maxArtifactBytes, log: deps.log, now: deps.now });
    this.fleets = new FleetStore({ devices: deps.devices, now: deps.now });
  }

  async start(store: Store): Promise<void> {
    await this.artifacts.start(store);
    await this.fleets.start(store);
  }
}
