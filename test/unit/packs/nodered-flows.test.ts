import assert from 'node:assert/strict';
import type { EventEmitter } from 'node:events';
import RED from 'node-red';
import { nodeRedFlows, whenFlowsRun, type NodeRedRuntime } from '../../../runtime/nodered-flows';
import { isFieldflowError } from '../../../runtime/errors';

/** Node-RED's own runtime event bus. */
const events = RED.events as unknown as EventEmitter;

/** Node-RED's runtime flows API as it behaves at start-up: no flows until its flows file is loaded. */
function loadingRuntime(loadedAfterCalls: number, setFlows: NodeRedRuntime['flows']['setFlows'] = async () => ({ rev: 'r2' })): NodeRedRuntime & { calls: number } {
  const runtime = {
    calls: 0,
    flows: {
      getFlows: async () => (++runtime.calls > loadedAfterCalls ? { rev: 'r1', flows: [{ id: 'tab', type: 'tab' }] } : null),
      setFlows,
    },
    nodes: { getNodeList: async () => [] },
  };
  return runtime;
}

describe("the packs' port to Node-RED's flows", () => {
  it('waits for Node-RED to load its flows when asked right after start-up', async () => {
    const runtime = loadingRuntime(3);
    const { rev, flows } = await nodeRedFlows(runtime).getFlows();
    assert.equal(rev, 'r1');
    assert.deepEqual(flows, [{ id: 'tab', type: 'tab' }]);
    assert.equal(runtime.calls, 4);
  });

  it('answers FF_UNAVAILABLE when the flows do not load in time', async () => {
    await assert.rejects(nodeRedFlows(loadingRuntime(Infinity), { loadWaitMs: 120 }).getFlows(), (err) => isFieldflowError(err) && err.code === 'FF_UNAVAILABLE' && err.status === 503);
  });

  it('answers FF_FLOWS_CHANGED when another deploy came first', async () => {
    const mismatch = Object.assign(new Error('version mismatch'), { code: 'version_mismatch' });
    const port = nodeRedFlows(loadingRuntime(0, async () => Promise.reject(mismatch)));
    await assert.rejects(port.setFlows([], 'old'), (err) => isFieldflowError(err) && err.code === 'FF_FLOWS_CHANGED' && err.status === 409);
  });
});

describe("waiting for Node-RED's flows at start-up", () => {
  it('resolves "started" when Node-RED says its flows started', async () => {
    const running = whenFlowsRun(events, 5000);
    events.emit('runtime-event', { id: 'runtime-state', retain: true });
    events.emit('flows:started', { config: {}, type: 'full' });
    assert.equal(await running, 'started');
  });

  it('resolves "stopped" when the flows wait for missing node types, without waiting for the timeout', async () => {
    const running = whenFlowsRun(events, 5000);
    const t0 = Date.now();
    events.emit('runtime-event', { id: 'runtime-state', payload: { state: 'stop', error: 'missing-types', types: ['no-such-node'] }, retain: true });
    assert.equal(await running, 'stopped');
    assert.ok(Date.now() - t0 < 1000);
  });

  it('resolves "timeout" when Node-RED says nothing, and stops listening', async () => {
    const before = events.listenerCount('flows:started');
    assert.equal(await whenFlowsRun(events, 50), 'timeout');
    assert.equal(events.listenerCount('flows:started'), before);
  });
});
