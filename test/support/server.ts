import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from './ports';
import { tempDir } from './platform';
import { Api } from './http';

export const ADMIN_PASSWORD = 'e2e-admin-password';
const SERVER = path.resolve(__dirname, '..', '..', 'runtime', 'server.js');

export interface ServerProcess {
  child: ChildProcess;
  dataDir: string;
  httpPort: number;
  mqttPort: number;
  httpUrl: string;
  apiUrl: string;
  mqttUrl: string;
  wsUrl: string;
  output(): string;
  /** A client logged in as admin. */
  admin(): Promise<Api>;
  /** SIGTERM and wait for a clean exit. */
  stop(): Promise<number | null>;
  /** SIGKILL: no shutdown code runs. */
  kill(): Promise<void>;
}

export interface LaunchedServer extends ServerProcess {
  /** Resolves once the server prints its ready banner; rejects if it exits or takes over 30 s. */
  running: Promise<void>;
}

/**
 * Start the real server (`node dist/runtime/server.js`, what `npm start` runs) on free ports with
 * its own data directory, and wait for its ready banner.
 */
export async function startServer(options: { dataDir?: string; env?: Record<string, string> } = {}): Promise<ServerProcess> {
  const server = await launchServer(options);
  await server.running;
  return server;
}

/** Spawn the real server like startServer, without waiting for it to be ready (to watch it start). */
export async function launchServer(options: { dataDir?: string; env?: Record<string, string> } = {}): Promise<LaunchedServer> {
  const dataDir = options.dataDir ?? tempDir('fieldflow-e2e-');
  const httpPort = await freePort();
  const mqttPort = await freePort();
  const child = spawn(process.execPath, [SERVER], {
    env: {
      ...process.env,
      PORT: String(httpPort),
      MQTT_PORT: String(mqttPort),
      HOST: '127.0.0.1',
      FIELDFLOW_DATA: dataDir,
      FIELDFLOW_ADMIN_PASSWORD: ADMIN_PASSWORD,
      FIELDFLOW_BCRYPT_ROUNDS: '4',
      FIELDFLOW_LOG_LEVEL: 'warn',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const running = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in time:\n${out}`)), 30_000);
    const onData = () => {
      if (out.includes('Fieldflow is running')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before it was ready:\n${out}`));
    });
  });
  // Handled here too, so a caller that never awaits it does not leave an unhandled rejection.
  running.catch(() => undefined);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  return {
    running,
    child,
    dataDir,
    httpPort,
    mqttPort,
    httpUrl,
    apiUrl: `${httpUrl}/api/v1`,
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    wsUrl: `ws://127.0.0.1:${httpPort}/mqtt`,
    output: () => out,
    async admin() {
      const api = new Api(`${httpUrl}/api/v1`);
      await api.login('admin', ADMIN_PASSWORD);
      return api;
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
