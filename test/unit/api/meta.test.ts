import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startApiServer, type ApiServer } from '../../support/api-server';
import { errorCatalog } from '../../../runtime/errors';

describe('REST API documents', () => {
  let s: ApiServer;
  before(async () => (s = await startApiServer()));
  after(() => s.close());

  it('serves an OpenAPI 3 document that lists every route', async () => {
    const doc = (await s.anonymous.get('/openapi.json')).body;
    assert.equal(doc.openapi, '3.0.3');
    for (const p of ['/auth/token', '/auth/tokens', '/devices', '/devices/{id}', '/devices/{id}/token', '/devices/{id}/channels', '/devices/{id}/channels/{channel}', '/devices/{id}/channels/{channel}/messages', '/devices/{id}/channels/{channel}/aggregate', '/devices/{id}/tags/{appKey}', '/tags/{appKey}/types', '/triggers', '/triggers/backtest', '/triggers/{id}', '/triggers/{id}/backtest', '/alarms', '/alarms/{id}', '/alarms/{id}/ack', '/alarms/{id}/clear', '/schedules', '/schedules/{id}', '/ota/rollouts', '/ota/rollouts/{id}/pause', '/ota/rollouts/{id}/updates', '/ota/updates/{id}', '/devices/{id}/ota/artifacts/{artifactId}', '/packs', '/packs/dry-run', '/packs/{id}', '/packs/{id}/rollback', '/packs/schema.json', '/models', '/models/{name}', '/packs/export', '/packs/builtin', '/packs/builtin/{file}', '/health', '/health/live', '/health/ready']) {
      assert.ok(doc.paths[p], `missing ${p}`);
    }
  });

  it('serves the error catalog, and docs/errors.md has a row for every code', async () => {
    const served = (await s.anonymous.get('/errors')).body.items;
    assert.deepEqual(served, errorCatalog());
    const doc = fs.readFileSync(path.resolve(__dirname, '../../../../docs/errors.md'), 'utf8');
    for (const { code, status } of errorCatalog()) {
      assert.match(doc, new RegExp(`\\|\\s*\`${code}\`\\s*\\|\\s*${status}\\s*\\|`), `docs/errors.md lacks a row for ${code}`);
    }
  });
});
