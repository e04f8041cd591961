import type { TriggerState } from './evaluator';
import type { TriggerFire } from './model';

/** What is kept of one trigger's state on one device (stored in a VersionedStore, `trigger_states`). */
export interface StateRecord {
  key: string;
  trigger: string;
  device: string;
  state: Omit<TriggerState, 'lastTs'>;
  since: number;
  /** Fires written with this state and not yet logged on the events channel. */
  unlogged: TriggerFire[];
}
