/**
 * The load generator, run as a child process so that it does not share a core's event loop with
 * the server under test. It takes one LoadPlan over IPC and reports back.
 *
 * Each message carries its send time (`t`, ms since the epoch) so the receiving side can measure
 * publish -> delivery latency with the same clock.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { LoadPlan, LoadReport } from './lib/messages';
import { reading } from './lib/telemetry';

const report = (r: LoadReport) => process.send!(r);

async function run(plan: LoadPlan): Promise<void> {
  const clients: MqttClient[] = await Promise.all(
    plan.devices.map(
      (d) =>
        new Promise<MqttClient>((resolve, reject) => {
          const c = mqtt.connect(plan.url, { clientId: d.clientId, username: d.username, password: d.password, reconnectPeriod: 0, protocolVersion: 4, connectTimeout: 60_000 });
          c.once('connect', () => resolve(c));
          c.once('error', reject);
        }),
    ),
  );
  report({ type: 'connected' });

  let measuring = false;
  let stopped = false;
  let acked = 0;
  let sendErrors = 0;
  let seq = 0;
  const payload =
    plan.payload === 'telemetry' ? () => reading(seq++) : () => JSON.stringify({ t: Date.now(), seq: seq++, temp: 20 + Math.random() * 5, hum: 40 + Math.random() * 10 });
  const onAck = (err?: Error) => {
    if (err) sendErrors++;
    else if (measuring) acked++;
  };

  if (plan.mode === 'max') {
    // Closed loop: each device publishes its next message as soon as a PUBACK frees a slot.
    plan.devices.forEach((d, i) => {
      const next = () => {
        if (stopped) return;
        clients[i].publish(d.topic, payload(), { qos: 1 }, (err) => {
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
      for (; sent < due && !stopped; sent++) {
        const i = sent % clients.length;
        clients[i].publish(plan.devices[i].topic, payload(), { qos: 1 }, onAck);
      }
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
      process.stderr.write(`load generator failed: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
});
