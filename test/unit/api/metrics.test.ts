import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import express from 'express';
import type { Platform, PartialPlatformOptions } from '../../../runtime';
import { createApiRouter } from '../../../runtime/api';
import { metricsRoutes } from '../../../runtime/api/routes/metrics';
import { startPlatform } from '../../support/platform';
import { Api } from '../../support/http';
import { metric, metricTypes, parseMetrics } from '../../support/prometheus';
import { otaSetup } from '../ota/rollout-support';
import { waitFor } from '../../support/mqtt';
import { assertProblem } from './problems';

interface MetricsServer {
  platform: Platform;
  base: string;
  admin: Api;
  scrape(): Promise<ReturnType<typeof parseMetrics>>;
  close(): Promise<void>;
}

/** The REST API and /metrics on one real HTTP server, as the launcher mounts them. */
async function startMetricsServer(options: { public: boolean }, overrides: PartialPlatformOptions = {}): Promise<MetricsServer> {
  const platform = await startPlatform(overrides);
  const app = express();
  app.use(metricsRoutes(platform, options));
  app.use('/api/v1', createApiRouter(platform));
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  const admin = new Api(`${base}/api/v1`);
  await admin.login('admin', 'test-admin-password');
  return {
    platform,
    base,
    admin,
    async scrape() {
      const r = await new Api(base, admin.token).get('/metrics');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return parseMetrics(r.body);
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await platform.stop();
    },
  };
}

describe('GET /metrics', () => {
  const servers: MetricsServer[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
  });
  const start = async (options: { public: boolean }, overrides: PartialPlatformOptions = {}) => {
    const s = await startMetricsServer(options, overrides);
    servers.push(s);
    return s;
  };

  it('needs a REST API user token: none is 401, a device token 403, a user token gets the text format', async () => {
    const s = await start({ public: false });
    const device = (await s.admin.post('/devices', { name: 'd' })).body;
    assertProblem(await new Api(s.base).get('/metrics'), 401, 'FF_AUTH_REQUIRED');
    assertProblem(await new Api(s.base, 'ffu_made-up').get('/metrics'), 401, 'FF_AUTH_INVALID');
    assertProblem(await new Api(s.base, device.token).get('/metrics'), 403, 'FF_FORBIDDEN');
    const r = await new Api(s.base, s.admin.token).get('/metrics');
    assert.equal(r.status, 200);
    assert.match(r.contentType, /^text\/plain;/);
    assert.match(r.contentType, /version=0\.0\.4/);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const types = metricTypes(r.body);
    for (const [name, type] of Object.entries({
      fieldflow_messages_ingested_total: 'counter',
      fieldflow_group_commit_batch_messages: 'histogram',
      fieldflow_group_commit_write_seconds: 'histogram',
      fieldflow_devices_connected: 'gauge',
      fieldflow_notify_outbox_depth: 'gauge',
      fieldflow_notify_deliveries: 'gauge',
      fieldflow_ota_rollouts: 'gauge',
      fieldflow_event_loop_lag_seconds: 'gauge',
      fieldflow_heap_used_bytes: 'gauge',
      fieldflow_process_resident_memory_bytes: 'gauge',
      fieldflow_ready: 'gauge',
    })) {
      assert.equal(types.get(name), type, name);
    }
    const samples = parseMetrics(r.body);
    assert.equal(metric(samples, 'fieldflow_devices_registered'), 1);
    assert.equal(metric(samples, 'fieldflow_ready'), 1);
    assert.ok(metric(samples, 'fieldflow_process_resident_memory_bytes')! > 10_000_000);
    assert.ok(metric(samples, 'fieldflow_heap_used_bytes')! > 1_000_000);
    assert.ok(metric(samples, 'fieldflow_event_loop_lag_seconds', { quantile: '0.99' })! >= 0);
    assert.equal(samples.filter((x) => !x.name.startsWith('fieldflow_')).length, 0, 'every metric is named fieldflow_*');
  });

  it('serves without a token when the metrics are public', async () => {
    const s = await start({ public: true });
    const r = await new Api(s.base).get('/metrics');
    assert.equal(r.status, 200);
    assert.equal(metric(parseMetrics(r.body), 'fieldflow_ready'), 1);
  });

  it('counts HTTP messages stored and refused by code, but not requests without a valid token', async () => {
    const s = await start({ public: false }, { ingest: { maxPayloadBytes: 100 } });
    const device = (await s.admin.post('/devices', { name: 'd' })).body;
    const asDevice = new Api(s.admin.base, device.token);
    const path = `/devices/${device.id}/channels/temp/messages`;
    assert.equal((await asDevice.post(path, { t: 1 })).status, 201);
    assert.equal((await asDevice.post(path, { t: 2 })).status, 201);
    assert.equal((await s.admin.post(path, { t: 3 })).status, 201);
    assert.equal((await s.admin.request('PATCH', `/devices/${device.id}/channels/temp/aggregate`, { h: 1 })).status, 200);
    assert.equal((await asDevice.request('PATCH', `/devices/${device.id}/tags/app`, { mode: 'eco' })).status, 200);
    assertProblem(await asDevice.post(path, '{"t":'), 400, 'FF_MALFORMED_JSON');
    assertProblem(await asDevice.post(path, { pad: 'x'.repeat(200) }), 413, 'FF_PAYLOAD_TOO_LARGE');
    assertProblem(await asDevice.post(path, 'x', { 'content-type': 'text/plain' }), 415, 'FF_UNSUPPORTED_MEDIA_TYPE');
    assertProblem(await s.admin.post('/devices/no-such-device/channels/temp/messages', { t: 1 }), 404, 'FF_DEVICE_NOT_FOUND');
    assertProblem(await new Api(s.admin.base).post(path, { t: 4 }), 401, 'FF_AUTH_REQUIRED');
    assertProblem(await new Api(s.admin.base, 'ffd_wrong').post(path, { t: 4 }), 401, 'FF_AUTH_INVALID');

    const m = await s.scrape();
    assert.equal(metric(m, 'fieldflow_messages_ingested_total', { transport: 'http' }), 5);
    assert.equal(metric(m, 'fieldflow_messages_ingested_total', { transport: 'mqtt' }), 0);
    assert.deepEqual(
      m.filter((x) => x.name === 'fieldflow_messages_refused_total').map((x) => [x.labels.transport, x.labels.code, x.value]).sort(),
      [
        ['http', 'FF_DEVICE_NOT_FOUND', 1],
        ['http', 'FF_MALFORMED_JSON', 1],
        ['http', 'FF_PAYLOAD_TOO_LARGE', 1],
        ['http', 'FF_UNSUPPORTED_MEDIA_TYPE', 1],
      ],
    );
    // Five messages stored, in one or more group-commit writes, each timed.
    const writes = metric(m, 'fieldflow_group_commit_batch_messages_count')!;
    assert.ok(writes >= 1 && writes <= 5, String(writes));
    assert.equal(metric(m, 'fieldflow_group_commit_batch_messages_sum'), 5);
    assert.equal(metric(m, 'fieldflow_group_commit_write_seconds_count'), writes);
    assert.equal(metric(m, 'fieldflow_group_commit_batch_messages_bucket', { le: '+Inf' }), writes);
  });

  it('keeps each platform in one process to its own registry', async () => {
    const a = await start({ public: true });
    const b = await start({ public: true });
    const device = (await a.admin.post('/devices', { name: 'd' })).body;
    assert.equal((await a.admin.post(`/devices/${device.id}/channels/temp/messages`, { t: 1 })).status, 201);
    assert.equal(metric(await a.scrape(), 'fieldflow_messages_ingested_total', { transport: 'http' }), 1);
    assert.equal(metric(await b.scrape(), 'fieldflow_messages_ingested_total', { transport: 'http' }), 0);
    assert.equal(metric(await b.scrape(), 'fieldflow_devices_registered'), 0);
  });

  it('reports rollouts by status and connected devices', async () => {
    const b = await otaSetup(2);
    try {
      const count = async (status: string) => metric(parseMetrics(await b.s.platform.metrics.render()), 'fieldflow_ota_rollouts', { status });
      assert.equal(metric(parseMetrics(await b.s.platform.metrics.render()), 'fieldflow_devices_connected'), 2);
      assert.equal(await count('running'), 0);
      const rollout = (await b.s.admin.post('/ota/rollouts', { artifactId: b.artifact.id, fleetId: b.fleet.id })).body;
      assert.equal(await count('running'), 1);
      assert.equal((await b.s.admin.post(`/ota/rollouts/${rollout.id}/pause`)).status, 200);
      assert.equal(await count('running'), 0);
      assert.equal(await count('paused'), 1);
      await b.devices[0].close();
      await waitFor('one device connected', async () => metric(parseMetrics(await b.s.platform.metrics.render()), 'fieldflow_devices_connected') === 1);
    } finally {
      await b.close();
    }
  });
});
