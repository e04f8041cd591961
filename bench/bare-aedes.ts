/**
 * The baseline: bare Aedes with no authentication and no storage, on a TCP port, with an
 * in-process subscriber standing in for the flow (it counts and measures latency the same way).
 */
import net from 'node:net';
import type { FlowStats } from './lib/messages';

async function main(): Promise<void> {
  const { Aedes } = await import('aedes');
  const broker = await Aedes.createBroker();
  let stats: FlowStats = { count: 0, lat: [] };
  broker.subscribe(
    'devices/+/channels/+',
    (packet, cb) => {
      stats.count++;
      const t = JSON.parse(packet.payload.toString()).t;
      stats.lat.push(Date.now() - t);
      cb();
    },
    () => undefined,
  );
  const server = net.createServer({ noDelay: true }, (socket) => broker.handle(socket));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  process.on('message', (m: { type: string }) => {
    if (m.type === 'count') process.send!({ type: 'count', count: stats.count });
    if (m.type === 'stats') process.send!({ type: 'stats', stats });
    if (m.type === 'reset') {
      stats = { count: 0, lat: [] };
      process.send!({ type: 'reset' });
    }
  });
  process.send!({ type: 'ready', port: (server.address() as net.AddressInfo).port });
}

void main();
