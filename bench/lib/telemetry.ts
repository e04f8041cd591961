/**
 * The telemetry of the trigger benchmark's simulated devices: `{t, seq, temp, hum, status}`.
 * Most messages sit in a quiet band (temp 19..21, hum 40..50, status "ok"), which no trigger
 * of bench/triggers.ts reacts to; SPIKES says how often a value leaves it, so triggers fire on
 * some messages and not on most. `t` is the send time (ms since the epoch) for latency.
 */

/** Chance per message of each excursion. */
export const SPIKES = {
  /** temp = 35 for one message: above the rising threshold, and back under it next time. */
  hot: 0.01,
  /** temp = 5 for one message: below the falling threshold. */
  cold: 0.01,
  /** hum = 85 for one message: into the watched range, and out again. */
  humid: 0.005,
  /**
   * status = "service" for one message instead of "ok": two changes. Always back to "ok", so a
   * new run of the load generator does not start with a change against the server's last state.
   */
  service: 0.0025,
};

/** Fires per message the triggers should produce: one per excursion, two per service visit. */
export const EXPECTED_FIRES_PER_MESSAGE = SPIKES.hot + SPIKES.cold + SPIKES.humid + 2 * SPIKES.service;

/** One message of a device, as the JSON text it publishes. */
export function reading(seq: number): string {
  const r = Math.random();
  const temp = r < SPIKES.hot ? 35 : r < SPIKES.hot + SPIKES.cold ? 5 : Math.round((19 + Math.random() * 2) * 100) / 100;
  const hum = Math.random() < SPIKES.humid ? 85 : Math.round((40 + Math.random() * 10) * 10) / 10;
  const status = Math.random() < SPIKES.service ? 'service' : 'ok';
  return JSON.stringify({ t: Date.now(), seq, temp, hum, status });
}
