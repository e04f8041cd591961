/** A node of Node-RED flow JSON: tabs, subflows, groups, config nodes and flow nodes alike. */
export interface FlowNode {
  id: string;
  type: string;
  z?: string;
  [key: string]: unknown;
}

/**
 * How the pack service reaches Node-RED's flows. runtime/ never imports Node-RED: the launcher
 * (runtime/server.ts) attaches an implementation over Node-RED's runtime API.
 */
export interface FlowsPort {
  /** The deployed flows and their revision. */
  getFlows(): Promise<{ rev: string; flows: FlowNode[] }>;
  /**
   * Deploy a whole new flow configuration (a full deploy), only if the revision is still `rev`;
   * resolves with the new revision. A concurrent deploy makes it reject (Node-RED's version_mismatch).
   */
  setFlows(flows: FlowNode[], rev: string): Promise<string>;
  /** Every node type installed in the palette, plus the structural types (tab, subflow, group, junction). */
  nodeTypes(): Promise<Set<string>>;
}
