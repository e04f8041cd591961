/**
 * The load generator of the trigger benchmark, run as a child process (so it does not share the
 * server's event loop). It is bench/load-generator.ts's publish loop, the same closed loop ("max")
 * and open loop ("rate") over the same LoadPlan, with the payload of ./telemetry.ts: the ingest
 * generator sends uniform noise with no status field, on which no crossing, range or status-change
 * trigger could fire.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { LoadPlan, LoadReport } from './messages';
import { reading } from './telemetry';

const report = (r: LoadReport) => process.send!(r);

function connect(plan: LoadPlan): Promise<MqttClient[]> {
  return Promise.all(
    plan.devices.map(
      (d) =>
        new Promise<MqttClient>((resolve, reject) => {
          const c = mqtt.connect(plan.url, { clientId: d.clientId, username: d.username, password: d.password, reconnectPeriod: 0, protocolVersion: 4, connectTimeout: 60_000 });
          c.once('connect', () => resolve(c));
          c.once('error', reject);
        }),
    ),
  );
}

async function run(plan: LoadPlan): Promise<void> {
  const clients = await connect(plan);
  report({ type: 'connected' });
  let measuring = false;
  let stopped = false;
  let acked = 0;
  let sendErrors = 0;
  let seq = 0;
  const onAck = (err?: Error) => {
    if (err) sendErrors++;
    else if (measuring) acked++;
  };
  const publish = (i: number, done: (err?: Error) => void) => clients[i].publish(plan.devices[i].topic, reading(seq++), { qos: 1 }, done);

  if (plan.mode === 'max') {
    // Closed loop: each device publishes its next message as soon as a PUBACK frees a slot.
    plan.devices.forEach((_, i) => {
      const next = () => {
        if (stopped) return;
        publish(i, (err) => {
          onAck(err);
          next();
        });
      };
      for (let w = 0; w < plan.window; w++) next();
    });
  } else {
    // Open loop at a fixed total rate, spread round-robin over the devices, in 5 ms ticks.
    const started = Date.now();
    let sent = 0;
    const tick = setInterval(() => {
      const due = Math.floor(((Date.now() - started) / 1000) * plan.rate);
      for (; sent < due && !stopped; sent++) publish(sent % clients.length, onAck);
    }, 5);
    setTimeout(() => clearInterval(tick), plan.warmupMs + plan.durationMs);
  }

  await new Promise((r) => setTimeout(r, plan.warmupMs));
  measuring = true;
  const start = Date.now();
  report({ type: 'measuring' });
  await new Promise((r) => setTimeout(r, plan.durationMs));
  measuring = false;
  stopped = true;
  const elapsedMs = Date.now() - start;
  await Promise.all(clients.map((c) => c.endAsync()));
  report({ type: 'done', acked, elapsedMs, sendErrors });
}

process.once('message', (plan: LoadPlan) => {
  run(plan).then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`device simulator failed: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
});
