/** A source of numbers in [0, 1). */
export type Rng = () => number;

/** Produces one telemetry message per tick. */
export interface TelemetryModel {
  /** The next reading, `dtSeconds` after the previous one. */
  next(dtSeconds: number, now: Date): Record<string, unknown>;
}

/** A kind of simulated device: what it publishes, and on which channel. */
export interface TelemetryProfile {
  name: string;
  description: string;
  channel: string;
  create(rng: Rng): TelemetryModel;
}

/** A deterministic generator (mulberry32) seeded from a string, so a device behaves the same on every run. */
export function seededRng(seed: string): Rng {
  let h = 1779033703 ^ seed.length;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 3432918353);
  let a = (h << 13) | (h >>> 19);
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal sample (Box-Muller). */
function gauss(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

/**
 * A mean-reverting random walk (Ornstein-Uhlenbeck): it wanders, but is pulled back to `mean` with
 * time constant `tau` seconds; `sigma` is the spread it settles to.
 */
class Walk {
  constructor(
    public value: number,
    private readonly rng: Rng,
    private readonly sigma: number,
    private readonly tau: number,
  ) {}

  step(mean: number, dt: number): number {
    const k = Math.min(1, dt / this.tau);
    this.value += (mean - this.value) * k + this.sigma * Math.sqrt(2 * k) * gauss(this.rng);
    return this.value;
  }
}

/** A battery that drains by `perHour` percent per hour (a little noisy) and is replaced when it runs out. */
class Battery {
  level: number;
  constructor(
    private readonly rng: Rng,
    private readonly perHour: number,
  ) {
    this.level = 60 + 40 * rng();
  }

  step(dt: number): number {
    this.level -= (this.perHour * dt * (0.8 + 0.4 * this.rng())) / 3600;
    if (this.level <= 2) this.level = 100;
    return this.level;
  }
}

const round = (v: number, digits: number) => Number(v.toFixed(digits));
/** Hours since local midnight, for daily cycles. */
const hourOfDay = (now: Date) => now.getHours() + now.getMinutes() / 60;
const daily = (now: Date, peakHour: number) => Math.cos(((hourOfDay(now) - peakHour) / 24) * 2 * Math.PI);

const envSensor: TelemetryProfile = {
  name: 'env-sensor',
  description: 'temperature (°C, daily cycle + random walk), relative humidity (%), battery (%)',
  channel: 'telemetry',
  create(rng) {
    const base = 19 + 4 * rng();
    const temp = new Walk(base, rng, 0.6, 600);
    const hum = new Walk(45, rng, 4, 900);
    const battery = new Battery(rng, 0.5);
    return {
      next(dt, now) {
        const t = temp.step(base + 2.5 * daily(now, 15), dt);
        // Warmer air holds more water: relative humidity moves against temperature.
        const h = Math.min(100, Math.max(5, hum.step(50 - 2 * (t - base), dt)));
        return { temperature: round(t, 2), humidity: round(h, 1), battery: round(battery.step(dt), 1) };
      },
    };
  },
};

const pump: TelemetryProfile = {
  name: 'pump',
  description: 'running (bool), rpm, pressure (bar), flow (m³/h), motor temperature (°C)',
  channel: 'telemetry',
  create(rng) {
    let running = rng() < 0.8;
    const rpm = new Walk(running ? 1450 : 0, rng, 15, 30);
    const pressure = new Walk(running ? 3.2 : 0.2, rng, 0.08, 60);
    const motor = new Walk(running ? 62 : 25, rng, 0.5, 900);
    return {
      next(dt) {
        // Starts and stops now and then: on average every half hour.
        if (rng() < dt / 1800) running = !running;
        const r = Math.max(0, rpm.step(running ? 1450 : 0, dt));
        const p = Math.max(0, pressure.step(running ? 3.2 : 0.2, dt));
        return { running, rpm: Math.round(r), pressure: round(p, 2), flow: round((r / 1450) * 42, 1), motorTemp: round(motor.step(running ? 62 : 25, dt), 1) };
      },
    };
  },
};

const tracker: TelemetryProfile = {
  name: 'tracker',
  description: 'GPS position (lat, lon), speed (km/h), heading (°), battery (%)',
  channel: 'location',
  create(rng) {
    let lat = 48 + 6 * rng();
    let lon = 2 + 12 * rng();
    let heading = 360 * rng();
    const speed = new Walk(40, rng, 15, 300);
    const battery = new Battery(rng, 2);
    return {
      next(dt) {
        heading = (heading + 20 * gauss(rng) + 360) % 360;
        const v = Math.min(130, Math.max(0, speed.step(45, dt)));
        const km = (v * dt) / 3600;
        lat += (km / 111.32) * Math.cos((heading * Math.PI) / 180);
        lon += (km / (111.32 * Math.cos((lat * Math.PI) / 180))) * Math.sin((heading * Math.PI) / 180);
        return { lat: round(lat, 6), lon: round(lon, 6), speed: round(v, 1), heading: Math.round(heading), battery: round(battery.step(dt), 1) };
      },
    };
  },
};

const meter: TelemetryProfile = {
  name: 'meter',
  description: 'power (W, daily load curve), energy (kWh, cumulative), voltage (V)',
  channel: 'energy',
  create(rng) {
    let energy = 1000 * rng();
    const power = new Walk(800, rng, 250, 120);
    const voltage = new Walk(230, rng, 1.5, 60);
    return {
      next(dt, now) {
        const p = Math.max(50, power.step(900 + 600 * daily(now, 19), dt));
        energy += (p * dt) / 3_600_000;
        return { power: Math.round(p), energy: round(energy, 3), voltage: round(voltage.step(230, dt), 1) };
      },
    };
  },
};

/** The built-in profiles. */
export const PROFILES: readonly TelemetryProfile[] = [envSensor, pump, tracker, meter];

/** The profile named `name`, else the one a model name suggests (`pump-v2` → pump), else env-sensor. */
export function profileFor(name: string | undefined, model: string): TelemetryProfile {
  if (name) {
    const p = PROFILES.find((x) => x.name === name);
    if (!p) throw new Error(`unknown profile "${name}"; one of: ${PROFILES.map((x) => x.name).join(', ')}`);
    return p;
  }
  const m = model.toLowerCase();
  if (m.includes('pump')) return pump;
  if (m.includes('track') || m.includes('gps')) return tracker;
  if (m.includes('meter') || m.includes('energy')) return meter;
  return envSensor;
}
