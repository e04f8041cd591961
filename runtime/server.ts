/**
 * The launcher: what `npm start` runs. One process: express + HTTP server, the platform (store,
 * broker, services), the REST API and Node-RED.
 */
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import express from 'express';
import RED from 'node-red';
import { nodeRedFlows, whenFlowsRun } from './nodered-flows';
import { createPlatform, type Platform, type StartInfo } from './index';
import { flowCredentialSecret, type FlowSecret } from './nodered-secret';
import { createApiRouter } from './api';
import { refuseUpgrade } from './broker';
import { servingGate, type ServingState } from './api/gate';
import { HEALTH_PATHS } from './api/routes/health';
import { metricsRoutes } from './api/routes/metrics';
import { notifyPages } from './notify/pages';
import { editorAuthRoutes } from './editor/auth-routes';
import { refusePreflight, unframeFlowResponses } from './editor/headers';
import { createLogger } from './log';
import { loadSettings, nodeRedSettings, type ServerSettings } from '../settings';

export interface RunningServer {
  platform: Platform;
  httpPort: number;
  mqttPort: number | null;
  stop(): Promise<void>;
}

/** Longest wait at start-up for Node-RED to start the flows before devices and users are let in. */
const FLOWS_START_WAIT_MS = 30_000;

/**
 * Start everything; resolves once the editor, API and brokers accept connections. The HTTP port
 * opens first, so liveness and readiness answer during a long start (loading a large message log
 * takes seconds per million messages); everything else on it answers 503 until the flows run and
 * the MQTT listener is up.
 */
export async function startServer(settings: ServerSettings = loadSettings()): Promise<RunningServer> {
  const log = createLogger(settings.logLevel);
  const platform = createPlatform({ ...settings.platform, logger: log });
  let serving: ServingState = 'starting';
  platform.health.register('server', () => ({ ok: serving === 'running', detail: serving }));

  const app = express();
  app.disable('x-powered-by');
  // Login limits key on req.ip: behind a reverse proxy it is the proxy's address unless trusted.
  app.set('trust proxy', settings.trustProxy);
  const server = http.createServer(app);
  const open = new Set([...HEALTH_PATHS.map((p) => `/api/v1${p}`), '/metrics']);
  app.use(servingGate(() => serving, (path) => open.has(path)));
  app.use(metricsRoutes(platform, { public: settings.metricsPublic }));
  app.use('/api/v1', createApiRouter(platform));
  app.use('/notify', notifyPages());
  // MQTT over WebSocket waits for the flows as MQTT over TCP does. Other upgrades (Node-RED's) are left alone.
  server.on('upgrade', (req, socket) => {
    if (serving !== 'starting' || (req.url ?? '').split('?')[0] !== settings.wsPath) return;
    refuseUpgrade(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error('http listener error', { error: err.message }));
  const httpPort = (server.address() as net.AddressInfo).port;

  let started: StartInfo;
  let mqttPort: number | null;
  let flowSecret: FlowSecret;
  try {
    started = await platform.start();
    const redSettings = nodeRedSettings(settings, platform);
    // Earlier versions let Node-RED keep the editor's sessions there, tokens in clear; sessions are the
    // platform's now (hashed), and Node-RED would otherwise go on honouring the old ones.
    fs.rmSync(path.join(redSettings.userDir, '.sessions.json'), { force: true });
    flowSecret = await flowCredentialSecret({ dataDir: settings.dataDir, userDir: redSettings.userDir, secret: settings.credentialSecret });
    redSettings.credentialSecret = flowSecret.secret;
    RED.init(server, redSettings as never);
    app.use(refusePreflight);
    app.use(editorAuthRoutes(platform.auth, log));
    app.use('/', RED.httpAdmin);
    app.use(unframeFlowResponses);
    app.use('/', RED.httpNode);
    const flowsRun = whenFlowsRun(RED.events as never, FLOWS_START_WAIT_MS);
    await RED.start();
    const flowState = await flowsRun;
    if (flowState !== 'started') log.warn('the flows are not running; the editor shows why', { state: flowState });
    platform.packs.attach(nodeRedFlows((RED as unknown as { runtime: Parameters<typeof nodeRedFlows>[0] }).runtime));
    // Devices connect only once flows are running, so no event reaches a flow before it exists.
    mqttPort = await platform.broker.listen();
  } catch (err) {
    // What did start (Node-RED, the store, the broker, timers) stops again, so an embedding caller is not left with half a server.
    await Promise.resolve()
      .then(() => RED.stop())
      .catch(() => undefined);
    await platform.stop().catch(() => undefined);
    server.closeAllConnections();
    server.close();
    throw err;
  }
  serving = 'running';
  // In the same turn as the line above: an upgrade is answered either by the refusal above or by the broker, never both.
  platform.broker.attachWebSocket(server, settings.wsPath);

  printBanner(settings, httpPort, mqttPort, started.admin, flowSecret);

  let stopping: Promise<void> | null = null;
  // The HTTP port stays open while stopping, so readiness says so (503) to whoever still asks;
  // the gate answers everything else with 503.
  const stop = () =>
    (stopping ??= (async () => {
      serving = 'stopping';
      platform.broker.stopAccepting();
      try {
        await RED.stop();
        await platform.stop();
      } finally {
        server.close();
        server.closeAllConnections();
      }
    })());
  return { platform, httpPort, mqttPort, stop };
}

function printBanner(
  settings: ServerSettings,
  httpPort: number,
  mqttPort: number | null,
  admin: { username: string; generatedPassword?: string },
  flowSecret: FlowSecret,
): void {
  const host = settings.host === '0.0.0.0' || settings.host === '::' ? 'localhost' : settings.host;
  const lines = [
    '',
    'Fieldflow is running',
    `  Editor      http://${host}:${httpPort}/`,
    `  REST API    http://${host}:${httpPort}/api/v1   (OpenAPI: /api/v1/openapi.json)`,
    `  MQTT        ${mqttPort === null ? 'TCP listener off (MQTT_PORT=off)' : `mqtt://${host}:${mqttPort}`}`,
    `  MQTT/WS     ws://${host}:${httpPort}${settings.wsPath}`,
    `  Alerts      http://${host}:${httpPort}/notify/subscribe   (web push opt-in)`,
    `  Data        ${settings.dataDir}`,
  ];
  if (admin.generatedPassword) {
    lines.push(
      `  Login       ${admin.username} / ${admin.generatedPassword}`,
      '              This generated password is shown once and stored only as a hash.',
      '              Set FIELDFLOW_ADMIN_PASSWORD to choose your own.',
    );
  } else {
    lines.push(`  Login       ${admin.username} (password from FIELDFLOW_ADMIN_PASSWORD or the first start)`);
  }
  if (flowSecret.created) {
    lines.push(
      `  Secrets     flow credentials are encrypted with a key generated in ${flowSecret.file}:`,
      '              back it up with the data directory, or set FIELDFLOW_CREDENTIAL_SECRET to use your own key.',
    );
  }
  process.stdout.write(lines.join('\n') + '\n\n');
}

async function main(): Promise<void> {
  // A forgotten promise somewhere (ours, Node-RED's or a flow's) must not stop a platform that devices
  // depend on; it is a bug to fix, so it is logged loudly.
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(`Unhandled promise rejection (please report): ${(reason as Error)?.stack ?? String(reason)}\n`);
  });
  let running: RunningServer;
  try {
    running = await startServer();
  } catch (err) {
    process.stderr.write(`Fieldflow failed to start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const shutdown = (signal: string) => {
    process.stdout.write(`\n${signal}: stopping Fieldflow...\n`);
    running
      .stop()
      .then(() => process.exit(0))
      .catch((err) => {
        process.stderr.write(`Error while stopping: ${(err as Error).message}\n`);
        process.exit(1);
      });
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

if (require.main === module) void main();
