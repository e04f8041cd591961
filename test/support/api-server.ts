import http from 'node:http';
import type net from 'node:net';
import express from 'express';
import type { Platform, PartialPlatformOptions } from '../../runtime';
import { createApiRouter } from '../../runtime/api';
import { startPlatform } from './platform';
import { Api } from './http';

export interface ApiServer {
  platform: Platform;
  url: string;
  /** A client logged in as admin. */
  admin: Api;
  anonymous: Api;
  close(): Promise<void>;
}

/** The REST API on a real HTTP server on a free port, over an in-memory platform. */
export async function startApiServer(overrides: PartialPlatformOptions = {}): Promise<ApiServer> {
  const platform = await startPlatform(overrides);
  const app = express();
  app.use('/api/v1', createApiRouter(platform));
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/api/v1`;
  const admin = new Api(url);
  await admin.login('admin', 'test-admin-password');
  return {
    platform,
    url,
    admin,
    anonymous: new Api(url),
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await platform.stop();
    },
  };
}
