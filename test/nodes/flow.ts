import { helper } from '../support/node-helper';
import type { Platform, PartialPlatformOptions } from '../../runtime';
import { startPlatform } from '../support/platform';

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

export interface Palette {
  platform: Platform;
  /** Device ids: north-1 (site=north) and south-1 (site=south). */
  north: string;
  south: string;
}

/**
 * Per test: a real platform with two devices, given to Node-RED as its settings, and the test
 * helper's server. Call inside a describe; the returned object is filled before each test.
 */
export function usePalette(overrides: PartialPlatformOptions = {}): Palette {
  const p = {} as Palette;
  beforeEach(async () => {
    p.platform = await startPlatform({ ...overrides, mqtt: { port: 0, host: '127.0.0.1' } });
    helper.settings({ fieldflow: p.platform });
    p.north = (await p.platform.devices.create({ name: 'north-1', labels: { site: 'north' } })).device.id;
    p.south = (await p.platform.devices.create({ name: 'south-1', labels: { site: 'south' } })).device.id;
    await new Promise<void>((r) => helper.startServer(r));
  });
  afterEach(async () => {
    await helper.unload();
    await new Promise<void>((r) => helper.stopServer(r));
    await p.platform.stop();
  });
  return p;
}
