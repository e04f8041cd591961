import assert from 'node:assert/strict';
import net from 'node:net';
import type { Api } from '../../support/http';

/**
 * A TCP proxy in front of a real server, to cut connections on purpose: after some bytes from
 * the server (a download cut mid-way, a PUBACK lost), or all at once (a flaky link), or by refusing
 * connections for a while (the server is unreachable).
 */
export class CuttingProxy {
  private readonly sockets = new Set<net.Socket>();
  private cuts: number[] = [];
  private stalls: number[] = [];
  private refusing = false;
  /** Connections accepted so far. */
  connections = 0;
  /** Bytes sent from the server to clients, over all connections. */
  downstreamBytes = 0;
  /** Sees what each connection (numbered from 1) sends to the server. */
  tap?: (connection: number, chunk: Buffer) => void;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<CuttingProxy> {
    let proxy: CuttingProxy;
    const server = net.createServer((client) => proxy.accept(client, targetPort, targetHost));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    proxy = new CuttingProxy(server, (server.address() as net.AddressInfo).port);
    return proxy;
  }

  /** The next connection (and the ones after it, one value each) is cut once the server has sent it this many bytes. */
  cutAfter(...downstreamBytes: number[]): void {
    this.cuts.push(...downstreamBytes);
  }

  /** The next connection stops passing the server's bytes (without closing) once it has passed this many. */
  stallAfter(downstreamBytes: number): void {
    this.stalls.push(downstreamBytes);
  }

  /** Cut every open connection now. */
  cutAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  /** While set, connections are closed as soon as they are accepted. */
  refuse(on: boolean): void {
    this.refusing = on;
    if (on) this.cutAll();
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise((r) => this.server.close(r));
  }

  private accept(client: net.Socket, port: number, host: string): void {
    const n = ++this.connections;
    if (this.refusing) {
      client.destroy();
      return;
    }
    const limit = this.cuts.shift();
    const stall = this.stalls.shift();
    const upstream = net.connect(port, host);
    this.sockets.add(client);
    this.sockets.add(upstream);
    let sent = 0;
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.on('data', (d: Buffer) => {
      this.tap?.(n, d);
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (stall !== undefined && sent + d.length >= stall) {
        const part = d.subarray(0, Math.max(0, stall - sent));
        this.downstreamBytes += part.length;
        client.write(part);
        sent = stall;
        upstream.pause();
        return;
      }
      if (limit !== undefined && sent + d.length >= limit) {
        const part = d.subarray(0, Math.max(0, limit - sent));
        this.downstreamBytes += part.length;
        client.write(part, () => close());
        sent = limit;
        upstream.pause();
        return;
      }
      sent += d.length;
      this.downstreamBytes += d.length;
      client.write(d);
    });
  }
}

/** Create a device over REST; returns its id and token. */
export async function createDevice(api: Api, name: string, extra: Record<string, unknown> = {}): Promise<{ id: string; token: string }> {
  const r = await api.post('/devices', { name, ...extra });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return { id: r.body.id, token: r.body.token };
}

/** Every message of a channel, oldest first, over REST. */
export async function channelMessages(api: Api, deviceId: string, channel: string): Promise<Array<{ id: string; data: any }>> {
  const items: Array<{ id: string; data: any }> = [];
  let after = '';
  for (;;) {
    const r = await api.get(`/devices/${deviceId}/channels/${channel}/messages?order=asc&limit=1000${after ? `&after=${after}` : ''}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    items.push(...r.body.items);
    if (!r.body.next) return items;
    after = r.body.next;
  }
}

/** 1..n */
export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
