import type { Node, NodeAPI, NodeDef } from 'node-red';
import semver from 'semver';
import type { Platform } from '../../runtime';
import { Errors } from '../../runtime/errors';
import type { Artifact } from '../../runtime/ota/artifacts';
import type { Rollout, RolloutInput } from '../../runtime/ota/rollout-model';
import type { RolloutView } from '../../runtime/ota/views';
import { choice, onInput, platformOf } from '../lib/common';

type Action = 'start' | 'pause' | 'resume' | 'cancel';
const ACTIONS: readonly Action[] = ['start', 'pause', 'resume', 'cancel'];

/** id: one artifact; version: a name and a version; latest: the highest version of a name. */
type ArtifactMode = 'id' | 'version' | 'latest';

interface OtaRolloutDef extends NodeDef {
  /** An action, or `msg` for msg.action (or a text msg.payload). */
  action: Action | 'msg';
  artifactMode: ArtifactMode;
  /** Artifact id (mode id). */
  artifact: string;
  /** Artifact name (modes version and latest). */
  artifactName: string;
  /** Version (mode version). */
  artifactVersion: string;
  /** Mode latest: pre-releases (1.5.0-rc.1) count as versions too. */
  prerelease: boolean;
  fleet: string;
  /** The rollout's name; empty: the platform's ("<artifact> <version> to <fleet>"). */
  rolloutName: string;
  canaryMode: 'none' | 'count' | 'percent';
  /** Devices (count) or percent of the fleet (percent). */
  canary: string | number;
  /** Empty: every device after the canary in one wave. */
  waveSize: string | number;
  wavePauseSeconds: string | number;
  /** Empty: the platform's default (0.2). */
  maxFailureRatio: string | number;
  /** Start nothing when this artifact was already rolled out to this fleet (a rollout that was not cancelled). */
  skipExisting: boolean;
}

/** The fields of a rollout request msg.payload may set (those of POST /api/v1/ota/rollouts). */
const INPUT_KEYS = ['name', 'artifactId', 'fleetId', 'canary', 'waveSize', 'wavePauseSeconds', 'maxFailureRatio', 'startAt', 'timeouts'];

type Msg = Record<string, unknown>;

/**
 * Starts a rollout of an artifact to a fleet (with the node's strategy, which msg.payload can
 * override), or pauses, resumes or cancels one: msg.rollout, else the one this node started last.
 * The status follows the rollout it last acted on.
 */
export = function register(RED: NodeAPI) {
  function OtaRolloutNode(this: Node, config: OtaRolloutDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const platform = platformOf(RED);
    const rollouts = platform.ota.rollouts;
    // Rollouts remember who made them: this is how the node finds its own after a restart or redeploy.
    const by = `flow:${node.id}`;
    const status = new RolloutStatus(node, platform);
    /** The rollout this node started last; after a restart or redeploy, found again by createdBy. */
    let lastStarted: string | null = rollouts.list().find((r) => r.createdBy === by)?.id ?? null;
    if (lastStarted) status.follow(lastStarted);

    onInput(node, async (msg) => {
      const action = choice(config.action || 'start', msg.action ?? (config.action === 'msg' ? msg.payload : undefined), 'action', ACTIONS);
      let rollout: Rollout;
      if (action === 'start') {
        const input = startInput(msg);
        if (config.skipExisting) {
          const done = rollouts.list().find((r) => r.artifactId === input.artifactId && r.fleetId === input.fleetId && r.status !== 'cancelled');
          if (done) {
            status.skipped(done);
            return undefined;
          }
        }
        rollout = await rollouts.create(input, by);
        lastStarted = rollout.id;
      } else {
        rollout = await rollouts[action](target(msg.rollout));
      }
      status.follow(rollout.id);
      msg.rollout = rollout.id;
      msg.payload = rollouts.view(rollout);
      return msg as never;
    });

    /** The request: the node's settings, then the fields of an object msg.payload over them. */
    function startInput(msg: Msg): RolloutInput & { artifactId: string; fleetId: string } {
      const over = isObject(msg.payload) ? msg.payload : {};
      const unknown = Object.keys(over).filter((k) => !INPUT_KEYS.includes(k));
      if (unknown.length) {
        throw Errors.INVALID_ROLLOUT(`msg.payload may set ${INPUT_KEYS.join(', ')}; not ${unknown.join(', ')}`, { errors: unknown.map((k) => ({ path: `/${k}`, message: 'is not allowed' })) });
      }
      const input: RolloutInput = {};
      if (config.rolloutName) input.name = config.rolloutName;
      if (!('artifactId' in over)) input.artifactId = artifactOf().id;
      if (config.fleet) input.fleetId = config.fleet;
      if (config.canaryMode === 'count' || config.canaryMode === 'percent') input.canary = { [config.canaryMode]: number(config.canary, 'canary') };
      const waveSize = number(config.waveSize, 'waveSize');
      if (waveSize !== undefined) input.waveSize = waveSize;
      const pause = number(config.wavePauseSeconds, 'wavePauseSeconds');
      if (pause !== undefined) input.wavePauseSeconds = pause;
      const ratio = number(config.maxFailureRatio, 'maxFailureRatio');
      if (ratio !== undefined) input.maxFailureRatio = ratio;
      const merged = { ...input, ...over } as RolloutInput;
      // The platform names what is missing or wrong (FF_INVALID_ROLLOUT with a path per field).
      return merged as RolloutInput & { artifactId: string; fleetId: string };
    }

    function artifactOf(): Artifact {
      const mode = config.artifactMode || 'id';
      if (mode === 'id') {
        if (!config.artifact) throw Errors.INVALID_ROLLOUT('No artifact: choose one on the node, or send msg.payload.artifactId', { errors: [{ path: '/artifactId', message: 'is required' }] });
        return platform.ota.artifacts.get(config.artifact);
      }
      const name = config.artifactName;
      const named = platform.ota.artifacts.list().filter((a) => a.name === name);
      if (mode === 'version') {
        const version = semver.valid((config.artifactVersion ?? '').trim());
        const found = version && named.find((a) => a.version === version);
        if (!found) throw Errors.ARTIFACT_NOT_FOUND(`No artifact ${JSON.stringify(name)} has version ${JSON.stringify(config.artifactVersion)}`);
        return found;
      }
      const candidates = config.prerelease ? named : named.filter((a) => semver.prerelease(a.version) === null);
      if (!candidates.length) throw Errors.ARTIFACT_NOT_FOUND(`No artifact is named ${JSON.stringify(name)}${config.prerelease ? '' : ' (pre-releases left out)'}`);
      return candidates.reduce((best, a) => (semver.gt(a.version, best.version) ? a : best));
    }

    /** The rollout to act on: msg.rollout (an id, or a rollout view), else the one this node started last. */
    function target(value: unknown): string {
      const id = typeof value === 'string' ? value : isObject(value) && typeof value.id === 'string' ? value.id : undefined;
      if (value !== undefined && value !== null && id === undefined) throw Errors.ROLLOUT_NOT_FOUND('msg.rollout must be a rollout id, or a rollout with an id');
      if (id !== undefined) return id;
      if (!lastStarted) throw Errors.ROLLOUT_NOT_FOUND('No rollout: send msg.rollout (its id), or start one with this node first');
      return lastStarted;
    }

    node.on('close', (_removed: boolean, done: () => void) => {
      status.close();
      done();
    });
  }

  /** A setting that is a number, or empty. Anything else is refused before the platform sees it. */
  function number(value: unknown, name: string): number | undefined {
    if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) return undefined;
    const n = Number(value);
    if (!Number.isFinite(n)) throw Errors.INVALID_ROLLOUT(`The node's ${name} is not a number: ${JSON.stringify(String(value).slice(0, 40))}`, { errors: [{ path: `/${name}`, message: 'must be a number' }] });
    return n;
  }

  RED.nodes.registerType('ota rollout', OtaRolloutNode);
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const FILL: Record<RolloutView['status'], 'grey' | 'blue' | 'yellow' | 'red' | 'green'> = {
  scheduled: 'grey',
  running: 'blue',
  paused: 'yellow',
  halted: 'red',
  cancelled: 'grey',
  completed: 'green',
};

/** How often, at most, per-device progress refreshes the status. */
const PROGRESS_MS = 1000;

/**
 * The status of the rollout the node last acted on: its status and how many devices succeeded
 * and failed. Rollout changes show at once; per-device updates (many, in a large fleet) at most
 * once a second. Shown only when the text changes.
 */
class RolloutStatus {
  private id: string | null = null;
  private shown = '';
  private timer: NodeJS.Timeout | null = null;
  private readonly off: Array<() => void>;

  constructor(
    private readonly node: Node,
    private readonly platform: Platform,
  ) {
    this.off = [
      platform.events.on('OtaRollout', (e) => {
        if (e.rollout.id === this.id) this.show(e.rollout);
      }),
      platform.events.on('OtaUpdate', (e) => {
        if (e.rollout.id === this.id && !this.timer) {
          this.timer = setTimeout(() => {
            this.timer = null;
            this.refresh();
          }, PROGRESS_MS);
          this.timer.unref();
        }
      }),
    ];
  }

  follow(id: string): void {
    this.id = id;
    this.refresh();
  }

  skipped(existing: Rollout): void {
    this.id = null;
    this.set({ fill: 'grey', shape: 'ring', text: `skipped: ${existing.version} already rolled out (${existing.status})` });
  }

  private refresh(): void {
    if (this.id === null) return;
    let view: RolloutView;
    try {
      view = this.platform.ota.rollouts.view(this.platform.ota.rollouts.get(this.id));
    } catch {
      return;
    }
    this.show(view);
  }

  private show(view: RolloutView): void {
    const p = view.progress;
    let text = `${view.status} ${p.succeeded}/${p.total}`;
    if (p.failed) text += `, ${p.failed} failed`;
    // Counted as the API counts them: `waves` includes the canary, which runs first (as wave 0).
    const number = view.wave + (view.strategy.canary > 0 ? 1 : 0);
    if (view.status === 'running' && view.wave === 0) text += ', canary';
    else if (view.status === 'running' && view.wave > 0 && view.waves > 1) text += `, wave ${number}/${view.waves}`;
    if (view.status === 'halted' && view.haltReason) text += `: ${view.haltReason}`;
    this.set({ fill: FILL[view.status], shape: view.status === 'scheduled' || view.status === 'paused' ? 'ring' : 'dot', text });
  }

  private set(status: { fill: string; shape: string; text: string }): void {
    const s = { ...status, text: status.text.slice(0, 60) };
    const key = JSON.stringify(s);
    if (key === this.shown) return;
    this.shown = key;
    this.node.status(s as never);
  }

  close(): void {
    for (const off of this.off) off();
    if (this.timer) clearTimeout(this.timer);
  }
}
