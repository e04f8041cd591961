import { Errors } from './errors';
import type { FlowNode, FlowsPort } from './packs/flows-port';

/** Types that are part of flow JSON without being palette nodes. */
const STRUCTURAL = ['tab', 'subflow', 'group', 'junction'];

interface NodeRedRuntime {
  flows: {
    getFlows(opts: object): Promise<{ rev: string; flows: FlowNode[] }>;
    setFlows(opts: { flows: { flows: FlowNode[]; rev: string }; deploymentType: string }): Promise<{ rev: string }>;
  };
  nodes: { getNodeList(opts: object): Promise<Array<{ types: string[]; enabled: boolean }>> };
}

/** The pack service's view of Node-RED, over its runtime API (what the editor's deploy uses too). */
export function nodeRedFlows(runtime: NodeRedRuntime): FlowsPort {
  return {
    async getFlows() {
      const { rev, flows } = await runtime.flows.getFlows({});
      return { rev, flows };
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
