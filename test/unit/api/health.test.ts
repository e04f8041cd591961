import assert from 'node:assert/strict';
import { startApiServer, type ApiServer } from '../../support/api-server';
import { assertProblem } from './problems';

describe('REST API health', () => {
  let s: ApiServer;
  beforeEach(async () => (s = await startApiServer()));
  afterEach(() => s.close());

  it('answers liveness on /health and /health/live and readiness on /health/ready, without a token and uncached', async () => {
    for (const path of ['/health', '/health/live']) {
      const live = await s.anonymous.get(path);
      assert.equal(live.status, 200, path);
      assert.deepEqual(live.body, { status: 'ok', phase: 'running' });
      assert.equal(live.headers.get('cache-control'), 'no-store');
    }
    const ready = await s.anonymous.get('/health/ready');
    assert.equal(ready.status, 200);
    assert.equal(ready.body.status, 'ready');
    const [platform, storage, memory] = ready.body.checks;
    assert.deepEqual([platform, storage], [
      { name: 'platform', ok: true, detail: 'running' },
      { name: 'storage', ok: true },
    ]);
    assert.equal(memory.name, 'memory');
    assert.equal(memory.ok, true);
    assert.equal(memory.detail.state, 'ok');
    assert.ok(memory.detail.budgetBytes > memory.detail.estimatedBytes, 'the history memory is shown against its budget');
  });

  it('answers readiness with 503 FF_NOT_READY naming the failing checks while liveness stays 200', async () => {
    let state = 'full';
    const remove = s.platform.health.register('queue', () => ({ ok: state !== 'full', detail: state }));
    const r = await s.anonymous.get('/health/ready');
    assertProblem(r, 503, 'FF_NOT_READY');
    assert.deepEqual(r.body.failing, ['queue']);
    assert.deepEqual(r.body.checks.map((c: { name: string }) => c.name), ['platform', 'storage', 'memory', 'queue']);
    assert.deepEqual(r.body.checks[3], { name: 'queue', ok: false, detail: 'full' });
    assert.match(r.body.detail, /queue/);
    assert.equal(r.body.instance, '/api/v1/health/ready');
    assert.equal((await s.anonymous.get('/health/live')).status, 200);
    state = 'warn';
    assert.equal((await s.anonymous.get('/health/ready')).status, 200);
    remove();
  });
});
