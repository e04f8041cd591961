import { iso } from '../views';
import type { Artifact } from './artifacts';
import type { Fleet } from './fleets';
import type { Rollout, Update, UpdateState } from './rollout-model';

/** An artifact as the API shows it. */
export function artifactView(a: Artifact) {
  return { id: a.id, name: a.name, version: a.version, models: [...a.models], notes: a.notes, sha256: a.sha256, size: a.size, signature: a.signature, createdAt: iso(a.createdAt) };
}

export function fleetView(f: Fleet) {
  return { id: f.id, name: f.name, selector: f.selector, devices: [...f.devices], createdAt: iso(f.createdAt), updatedAt: iso(f.updatedAt) };
}

export type Progress = Record<UpdateState, number> & { total: number };

/** A rollout view lists this many of the devices it left out (and counts them all). */
const SKIPPED_SHOWN = 100;

export function rolloutView(r: Rollout, progress: Progress) {
  const s = r.strategy;
  return {
    id: r.id,
    name: r.name,
    artifactId: r.artifactId,
    version: r.version,
    fleetId: r.fleetId,
    fleetName: r.fleetName,
    devices: r.devices.length,
    skipped: { count: (r.skipped ?? []).length, devices: (r.skipped ?? []).slice(0, SKIPPED_SHOWN).map((d) => ({ id: d.id, model: d.model })) },
    strategy: {
      canary: s.canary,
      waveSize: s.waveSize,
      wavePauseSeconds: s.wavePauseMs / 1000,
      maxFailureRatio: s.maxFailureRatio,
      startAt: iso(s.startAt),
      timeouts: Object.fromEntries(Object.entries(s.timeouts).map(([k, v]) => [k, v / 1000])),
    },
    status: r.status,
    wave: r.wave,
    waves: r.waves,
    nextWaveAt: iso(r.nextWaveAt),
    haltReason: r.haltReason,
    progress: { ...progress },
    createdBy: r.createdBy,
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
    startedAt: iso(r.startedAt),
    endedAt: iso(r.endedAt),
  };
}
export type RolloutView = ReturnType<typeof rolloutView>;

export function updateView(u: Update) {
  return {
    id: u.id,
    rolloutId: u.rolloutId,
    deviceId: u.deviceId,
    wave: u.wave,
    state: u.state,
    reason: u.reason,
    fromVersion: u.fromVersion,
    bytes: u.bytes,
    total: u.total,
    createdAt: iso(u.createdAt),
    updatedAt: iso(u.updatedAt),
    stateSince: iso(u.stateSince),
    offeredAt: iso(u.offeredAt),
    endedAt: iso(u.endedAt),
  };
}
export type UpdateView = ReturnType<typeof updateView>;
