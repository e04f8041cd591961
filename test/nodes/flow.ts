import { helper } from '../support/node-helper';

export type Msg = Record<string, any>;

/** Collect what a helper node receives. */
export function received(id: string): Msg[] {
  const msgs: Msg[] = [];
  helper.getNode(id).on('input', (msg: Msg) => msgs.push(msg));
  return msgs;
}

/** Collect what a node reports with node.error() or done(err) (what Catch nodes would receive). */
export function failures(id: string): unknown[] {
  const list: unknown[] = [];
  helper.getNode(id).on('call:error', (call: { args: unknown[] }) => list.push(call.args[0]));
  return list;
}

/** failures() as text. */
export function errors(id: string): string[] {
  const list: string[] = [];
  helper.getNode(id).on('call:error', (call: { args: unknown[] }) => list.push(String(call.args[0])));
  return list;
}

/**
 * The arguments of every call a node has made to one of its methods so far, including calls made
 * while the flow started (before a test could listen). The test helper spies on Node's methods.
 */
export function calls(id: string, method: 'error' | 'status' | 'send'): unknown[][] {
  const node = helper.getNode(id) as unknown as Record<string, { getCalls(): Array<{ thisValue: unknown; args: unknown[] }> }>;
  return node[method]
    .getCalls()
    .filter((c) => c.thisValue === node)
    .map((c) => c.args);
}

/** Send a msg into a node and wait until it sends a result or reports an error. */
export async function inject(id: string, msg: Msg): Promise<void> {
  const node = helper.getNode(id);
  const finished = new Promise<void>((resolve) => node.once('call:error', () => resolve()).once('call:send', () => resolve()));
  node.receive(msg);
  await finished;
}
