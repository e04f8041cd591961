import type { NodeAPI } from 'node-red';

/**
 * The parts of node-red-node-test-helper these tests use. Its community typings only accept core
 * node properties in test flows, so this states the shape directly.
 */
export interface TestNode {
  on(event: string, listener: (...args: any[]) => void): TestNode;
  once(event: string, listener: (...args: any[]) => void): TestNode;
  receive(msg: Record<string, unknown>): void;
}

export interface NodeTestHelper {
  init(nodeRedPath: string, settings?: Record<string, unknown>): void;
  settings(settings: Record<string, unknown>): Record<string, unknown>;
  load(nodes: ((RED: NodeAPI) => void) | Array<(RED: NodeAPI) => void>, flow: Array<Record<string, unknown>>): Promise<void>;
  unload(): Promise<void>;
  getNode(id: string): TestNode;
  startServer(done: () => void): void;
  stopServer(done: () => void): void;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const helper: NodeTestHelper = require('node-red-node-test-helper');
