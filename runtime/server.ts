/**
 * The launcher: what `npm start` runs. One process: express + HTTP server, the platform (store,
 * broker, services), the REST API and Node-RED.
 */
import http from 'node:http';
import type net from 'node:net';
import express from 'express';
import RED from 'node-red';
import { nodeRedFlows, whenFlowsRun } from './nodered-flows';
import { flowCredentialSecret, type FlowSecret } from './nodered-secret';
import { createPlatform, type Platform } from './index';
import { createApiRouter } from './api';
import { notifyPages } from './notify/pages';
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

/** Start everything; resolves once the editor, API and brokers accept connections. */
export async function startServer(settings: ServerSettings = loadSettings()): Promise<RunningServer> {
  const log = createLogger(settings.logLevel);
  const platform = createPlatform({ ...settings.platform, logger: log });
  const started = await platform.start();

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  const server = http.createServer(app);
  app.use('/api/v1', createApiRouter(platform));
  app.use('/notify', notifyPages());
  platform.broker.attachWebSocket(server, settings.wsPath);

  const redSettings = nodeRedSettings(settings, platform);
  const flowSecret = await flowCredentialSecret({ dataDir: settings.dataDir, userDir: redSettings.userDir, secret: settings.credentialSecret });
  redSettings.credentialSecret = flowSecret.secret;
  RED.init(server, redSettings as never);
  app.use('/', RED.httpAdmin);
  app.use('/', RED.httpNode);
  const flowsRun = whenFlowsRun(RED.events as never, FLOWS_START_WAIT_MS);
  await RED.start();
  const flowState = await flowsRun;
  if (flowState !== 'started') log.warn('the flows are not running; the editor shows why', { state: flowState });
  platform.packs.attach(nodeRedFlows((RED as unknown as { runtime: Parameters<typeof nodeRedFlows>[0] }).runtime));

  // Devices connect only once flows are running, so no event reaches a flow before it exists.
  const mqttPort = await platform.broker.listen();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error('http listener error', { error: err.message }));
  const httpPort = (server.address() as net.AddressInfo).port;

  printBanner(settings, httpPort, mqttPort, started.admin, flowSecret);

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      server.close();
      server.closeAllConnections();
      await RED.stop();
      await platform.stop();
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
