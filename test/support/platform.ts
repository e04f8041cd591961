import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPlatform, type Platform, type PartialPlatformOptions } from '../../runtime';
import { silentLogger } from '../../runtime/log';

export function tempDir(prefix = 'fieldflow-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A real platform on an in-memory store (or `dataDir`), quiet, fast bcrypt, no MQTT listener. */
export async function startPlatform(overrides: PartialPlatformOptions = {}): Promise<Platform> {
  const platform = createPlatform({
    dataDir: null,
    logger: silentLogger,
    ...overrides,
    mqtt: { port: null, host: '127.0.0.1', ...overrides.mqtt },
    auth: { adminPassword: 'test-admin-password', bcryptRounds: 4, ...overrides.auth },
  });
  await platform.start();
  return platform;
}
