import type { EventEmitter } from 'node:events';
import { Errors } from './errors';
import type { FlowNode, FlowsPort } from './packs/flows-port';

/** Types that are part of flow JSON without being palette nodes. */
const STRUCTURAL = ['tab', 'subflow', 'group', 'junction'];

export interface NodeRedRuntime {
  flows: {
    /** Null until Node-RED has loaded its flows file, which it does after its start() has resolved. */
    getFlows(opts: object): Promise<{ rev: string; flows: FlowNode[] } | null>;
    setFlows(opts: { flows: { flows: FlowNode[]; rev: string }; deploymentType: string }): Promise<{ rev: string }>;
  };
  nodes: { getNodeList(opts: object): Promise<Array<{ types: string[]; enabled: boolean }>> };
}

/** The pack service's view of Node-RED, over its runtime API (what the editor's deploy uses too). */
export function nodeRedFlows(runtime: NodeRedRuntime, options: { loadWaitMs?: number } = {}): FlowsPort {
  const loadWaitMs = options.loadWaitMs ?? 15_000;
  return {
    async getFlows() {
      // A pack imported right after start-up waits for the flows to load rather than failing.
      const deadline = Date.now() + loadWaitMs;
      for (;;) {
        const loaded = await runtime.flows.getFlows({});
        if (loaded) return { rev: loaded.rev, flows: loaded.flows };
        if (Date.now() >= deadline) throw Errors.UNAVAILABLE('Node-RED has not loaded its flows yet; try again shortly');
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async setFlows(flows, rev) {
      try {
        return (await runtime.flows.setFlows({ flows: { flows, rev }, deploymentType: 'full' })).rev;
      } catch (err) {
        // Someone deployed (or Node-RED finished loading its flows) after they were read.
        if ((err as { code?: string }).code === 'version_mismatch') throw Errors.FLOWS_CHANGED('The flows changed while the pack was being deployed; nothing of the pack was deployed');
        throw err;
      }
    },
    async nodeTypes() {
      const types = new Set(STRUCTURAL);
      for (const set of await runtime.nodes.getNodeList({})) if (set.enabled !== false) for (const t of set.types) types.add(t);
      return types;
    },
  };
}

/** Node-RED's runtime event bus (`RED.events`). */
type NodeRedEvents = Pick<EventEmitter, 'on' | 'off'>;

/**
 * Resolves once Node-RED's flows run ('started'), or once it says they will not (missing node
 * types, safe mode: 'stopped'), or after `timeoutMs` ('timeout'). Call before RED.start(): its
 * promise resolves before the flows file is even loaded.
 */
export function whenFlowsRun(events: NodeRedEvents, timeoutMs: number): Promise<'started' | 'stopped' | 'timeout'> {
  return new Promise((resolve) => {
    const done = (state: 'started' | 'stopped' | 'timeout') => {
      clearTimeout(timer);
      events.off('flows:started', onStarted);
      events.off('runtime-event', onRuntimeEvent);
      resolve(state);
    };
    const onStarted = () => done('started');
    const onRuntimeEvent = (e: { id?: string; payload?: { state?: string } }) => {
      if (e?.id === 'runtime-state' && (e.payload?.state === 'stop' || e.payload?.state === 'safe')) done('stopped');
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    events.on('flows:started', onStarted);
    events.on('runtime-event', onRuntimeEvent);
  });
}
