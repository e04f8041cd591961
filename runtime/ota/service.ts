import type { Store } from '../store';
import type { Logger } from '../log';
import { ArtifactStore } from './artifacts';

export interface OtaOptions {
  /** Largest artifact accepted, in bytes. */
  maxArtifactBytes: number;
}

/**
 * Over-the-air updates. So far: the artifacts (files, versions, target models). Fleets,
 * rollouts and the device protocol build on them.
 */
export class OtaService {
  readonly artifacts: ArtifactStore;

  constructor(deps: { options: OtaOptions; dataDir: string | null; log: Logger; now: () => number }) {
    this.artifacts = new ArtifactStore({ dataDir: deps.dataDir, maxBytes: deps.options.maxArtifactBytes, log: deps.log, now: deps.now });
  }

  async start(store: Store): Promise<void> {
    await this.artifacts.start(store);
  }
}
