/** The messages between the benchmark orchestrator and its child processes (over the IPC channel). */
export interface LoadPlan {
  url: string;
  /** One entry per simulated device: credentials, client id and topic. */
  devices: Array<{ clientId: string; username?: string; password?: string; topic: string }>;
  mode: 'max' | 'rate';
  /** QoS 1 messages each device keeps in flight in "max" mode. */
  window: number;
  /** Total messages per second across all devices in "rate" mode. */
  rate: number;
  warmupMs: number;
  durationMs: number;
  /**
   * noise (default): uniform random temperature and humidity. telemetry: ./telemetry.ts readings,
   * whose excursions make crossing, range and status-change triggers fire.
   */
  payload?: 'noise' | 'telemetry';
}

export type LoadReport =
  | { type: 'connected' }
  | { type: 'measuring' }
  | { type: 'done'; acked: number; elapsedMs: number; sendErrors: number };

export interface FlowStats {
  count: number;
  /** publish -> delivery latencies in ms, one per message since the last reset */
  lat: number[];
}
