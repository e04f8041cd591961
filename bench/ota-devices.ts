/**
 * Simulated devices for bench/ota.ts, in a process of their own: the SDK's OTA agent on each
 * (download with resume, SHA-256 and signature checks, reports), or, for the baseline, the SDK's
 * download() and hash against the bare static server. Commands and results go over IPC.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FieldflowDevice, download, hashFile } from '../sdk';

export type DevicesCommand =
  | { cmd: 'baseline'; url: string; count: number; dir: string }
  | { cmd: 'devices'; mqttUrl: string; httpUrl: string; devices: Array<{ id: string; token: string }>; dir: string; publicKey: string | null }
  | { cmd: 'stop' };

export type DevicesReply =
  | { cmd: 'baseline-done'; bytes: number; startedAt: number; endedAt: number }
  | { cmd: 'ready' }
  | { cmd: 'ota-done'; bytesFetched: number; firstOfferAt: number; lastDownloadedAt: number; failed: number };

const send = (m: DevicesReply) => process.send!(m);
const devices: FieldflowDevice[] = [];

async function baseline(c: Extract<DevicesCommand, { cmd: 'baseline' }>): Promise<void> {
  const startedAt = Date.now();
  let bytes = 0;
  await Promise.all(
    Array.from({ length: c.count }, async (_, i) => {
      const file = path.join(c.dir, `baseline-${process.pid}-${i}.bin`);
      const r = await download({ url: c.url, file });
      await hashFile(file);
      bytes += r.bytesFetched;
      await fs.promises.rm(file, { force: true });
    }),
  );
  send({ cmd: 'baseline-done', bytes, startedAt, endedAt: Date.now() });
}

async function rollout(c: Extract<DevicesCommand, { cmd: 'devices' }>): Promise<void> {
  let remaining = c.devices.length;
  let bytesFetched = 0;
  let failed = 0;
  let firstOfferAt = Infinity;
  let lastDownloadedAt = 0;
  await Promise.all(
    c.devices.map(async ({ id, token }) => {
      const device = new FieldflowDevice({ url: c.mqttUrl, httpUrl: c.httpUrl, deviceId: id, token });
      devices.push(device);
      await device.connect(60_000);
      const agent = device.ota({
        currentVersion: '1.0.0',
        downloadDir: path.join(c.dir, id),
        signingPublicKey: c.publicKey ?? undefined,
        firmwareTag: false,
        install: () => undefined,
      });
      agent.on('offer', () => (firstOfferAt = Math.min(firstOfferAt, Date.now())));
      agent.on('report', (r) => {
        if (r.state === 'downloaded') lastDownloadedAt = Math.max(lastDownloadedAt, Date.now());
      });
      agent.on('done', (stats) => {
        bytesFetched += stats.bytesFetched;
        if (stats.state !== 'installed') failed++;
        if (--remaining === 0) send({ cmd: 'ota-done', bytesFetched, firstOfferAt, lastDownloadedAt, failed });
      });
    }),
  );
  send({ cmd: 'ready' });
}

process.on('message', (c: DevicesCommand) => {
  if (c.cmd === 'baseline') void baseline(c);
  else if (c.cmd === 'devices') void rollout(c);
  else void Promise.all(devices.map((d) => d.close({ drainMs: 0 }))).finally(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));
