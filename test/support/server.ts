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

/**
 * Start the real server (`node dist/runtime/server.js`, what `npm start` runs) on free ports with
 * its own data directory, and wait for its ready banner.
 */
export async function startServer(options: { dataDir?: string; env?: Record<string, string> } = {}): Promise<ServerProcess> {
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
  await new Promise<void>((resolve, reject) => {
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
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  return {
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
