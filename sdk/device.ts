import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { ConnectionRefusedError, DeviceClosedError, InvalidArgumentError, MessageDroppedError, ProtocolError, TimeoutError } from './errors';
import { assertAppKey, assertChannel, assertTags, type TagValue } from './names';
import { OfflineQueue, type QueueOptions, type QueuedMessage } from './queue';
import { httpBaseFromMqtt, topicMatches } from './topics';
import { OtaAgent, type OtaAgentOptions } from './ota-agent';

/** Options of {@link FieldflowDevice}. */
export interface FieldflowDeviceOptions {
  /** Broker URL: `mqtt://host:1883`, `mqtts://...`, `ws://host:1880/mqtt` or `wss://...`. */
  url: string;
  /** The device id (MQTT username and client id). */
  deviceId: string;
  /** The device token (MQTT password, and bearer token for OTA downloads). */
  token: string;
  /** Connect with client id `<device id>:<suffix>`, for a second connection of the same device. */
  clientIdSuffix?: string;
  /**
   * HTTP base URL of the server (`http://host:1880`), for OTA offers whose `url` is a path.
   * Default: the same host and port for a `ws(s)://` URL, else `http://<mqtt host>:1880`.
   */
  httpUrl?: string;
  /** The offline queue. Give it a `dir` to keep unsent messages across restarts. */
  queue?: QueueOptions;
  /** Messages sent and not yet acknowledged at one time (default 16). */
  maxInFlight?: number;
  /** Largest payload accepted by publish (default 256 KiB, the server's default limit). */
  maxPayloadBytes?: number;
  /** Wait between reconnection attempts (default 1000 ms). */
  reconnectPeriodMs?: number;
  /** Time allowed for one connection attempt (default 10,000 ms). */
  connectTimeoutMs?: number;
  /** MQTT keepalive (default 30 s). */
  keepaliveSeconds?: number;
  /**
   * Use a persistent MQTT session (clean session off): commands sent while the device is offline are
   * delivered when it reconnects. Default false.
   */
  persistentSession?: boolean;
  /** Extra options for `mqtt.connect` (TLS `ca`, `rejectUnauthorized`...). Identity options are ignored. */
  mqtt?: IClientOptions;
}

/** A command from `POST /api/v1/devices/{id}/commands/{name}`. */
export interface DeviceCommand {
  /** The command name (the last topic level). */
  name: string;
  /** Id assigned by the server; a command redelivered with the same id is reported once. */
  id: string;
  args: Record<string, unknown>;
  /** When the server sent it (ISO 8601), if it said. */
  sentAt?: string;
}

/** The device configuration, a JSON object (`PUT /api/v1/devices/{id}/config`). */
export type DeviceConfig = Record<string, unknown>;

/** What a publish resolves with, once the server acknowledged (and stored) it. */
export interface PublishReceipt {
  /** `<producer>-<seq>`, the id the server de-duplicates on. */
  messageId: string;
  seq: number;
}

/** Counters of a device. */
export interface DeviceStats {
  /** Messages not yet acknowledged (queued or in flight). */
  queued: number;
  /** Payload bytes not yet acknowledged. */
  queuedBytes: number;
  /** Messages sent and awaiting their PUBACK. */
  inFlight: number;
  /** Messages acknowledged by the server since the device was created. */
  acked: number;
  /** Messages dropped unsent because the queue was full (over the life of the queue directory). */
  dropped: number;
  /** The queue's producer id. */
  producer: string | null;
}

/** Events of {@link FieldflowDevice}. */
export interface DeviceEvents {
  /** Connected (first time or after a reconnect); queued messages are being sent. */
  connect: [];
  /** The connection was lost (or the first attempt failed); the device keeps retrying. */
  offline: [];
  /** A reconnection attempt starts. */
  reconnect: [];
  /** close() finished. */
  close: [];
  /**
   * A problem: a refused connection ({@link ConnectionRefusedError}), a network error, a malformed
   * message from the server ({@link ProtocolError}), a queue write error. Emitted only when something
   * listens, so an unhandled `error` does not crash the process.
   */
  error: [error: Error];
  /** The configuration, on connect (it is retained) and whenever it changes. Repeats of the same config are not emitted. */
  config: [config: DeviceConfig];
  /** A command. */
  command: [command: DeviceCommand];
  /** A message was written to the queue (on disk with a queue directory): it will be delivered even if the process restarts. */
  queued: [message: QueuedMessage];
  /** A queued message was dropped to make room (its publish promise rejects with MessageDroppedError). */
  dropped: [message: QueuedMessage];
}

/** Receives messages on topics under `devices/{id}/`; `subtopic` is the part after that prefix. */
export type TopicHandler = (subtopic: string, payload: Buffer, retained: boolean) => void;

interface Pending {
  resolve: (r: PublishReceipt) => void;
  reject: (err: Error) => void;
}

const DEFAULT_MAX_PAYLOAD = 256 * 1024;

/**
 * A Fieldflow device: an MQTT connection with the device's credentials, automatic reconnects,
 * publishing through an offline queue (every message carries a message id the server
 * de-duplicates on), the device's configuration and commands, and an OTA agent.
 *
 * ```ts
 * const device = new FieldflowDevice({ url: 'mqtt://localhost:1883', deviceId, token, queue: { dir: './queue' } });
 * device.on('config', (c) => apply(c));
 * device.on('command', (c) => run(c.name, c.args));
 * await device.connect();
 * await device.publish('telemetry', { temp: 21.5 }); // resolves once the server stored it
 * ```
 */
export class FieldflowDevice extends EventEmitter<DeviceEvents> {
  /** The device id. */
  readonly deviceId: string;
  /** The HTTP base URL used for relative OTA download URLs. */
  readonly httpUrl: string;
  private readonly options: FieldflowDeviceOptions;
  private readonly prefix: string;
  private client: MqttClient | null = null;
  private queue: OfflineQueue | null = null;
  private opening: Promise<void> | null = null;
  private isConnected = false;
  private everConnected = false;
  private offlineReported = false;
  private closed = false;
  private refused: ConnectionRefusedError | null = null;
  private inFlight = 0;
  private ackedCount = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly handlers: Array<{ filter: string; handler: TopicHandler }> = [];
  private lastConfig: DeviceConfig | null = null;
  private lastConfigJson: string | null = null;
  private readonly recentCommands: string[] = [];
  private readonly agents = new Set<OtaAgent>();
  private readonly maxInFlight: number;
  private readonly maxPayloadBytes: number;

  constructor(options: FieldflowDeviceOptions) {
    super();
    if (!options || typeof options.url !== 'string') throw new InvalidArgumentError('url is required (mqtt://host:1883 or ws://host:1880/mqtt)');
    if (typeof options.deviceId !== 'string' || options.deviceId === '' || /[/+#]/.test(options.deviceId)) throw new InvalidArgumentError('deviceId is required and cannot hold / + or #');
    if (typeof options.token !== 'string' || options.token === '') throw new InvalidArgumentError('token is required');
    try {
      new URL(options.url);
    } catch {
      throw new InvalidArgumentError(`url is not a URL: ${options.url}`);
    }
    this.options = options;
    this.deviceId = options.deviceId;
    this.prefix = `devices/${options.deviceId}/`;
    this.httpUrl = (options.httpUrl ?? httpBaseFromMqtt(options.url)).replace(/\/+$/, '');
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 16);
    this.maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD;
  }

  /** True while the MQTT connection is up. */
  get connected(): boolean {
    return this.isConnected;
  }

  /** The last configuration received, or null. */
  get config(): DeviceConfig | null {
    return this.lastConfig;
  }

  /** The device token (for HTTP calls such as OTA downloads). */
  get token(): string {
    return this.options.token;
  }

  /** Counters: queued, in flight, acknowledged, dropped. */
  get stats(): DeviceStats {
    return {
      queued: this.queue?.size ?? 0,
      queuedBytes: this.queue?.bytes ?? 0,
      inFlight: this.inFlight,
      acked: this.ackedCount,
      dropped: this.queue?.dropped ?? 0,
      producer: this.queue?.producer ?? null,
    };
  }

  /**
   * Open the offline queue (loading what a previous process left) and start connecting in the
   * background. Resolves without waiting for the connection: publishes are queued meanwhile.
   * Rejects with {@link QueueLockedError} if another live process uses the queue directory.
   */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(new DeviceClosedError());
    this.opening ??= this.open();
    return this.opening;
  }

  /**
   * {@link start}, then wait for the first connection. Rejects with {@link ConnectionRefusedError}
   * when the broker refuses the credentials, {@link TimeoutError} after `timeoutMs` (default 30 s;
   * the device keeps trying in the background).
   */
  async connect(timeoutMs = 30_000): Promise<void> {
    await this.start();
    await this.waitFor(() => this.isConnected, timeoutMs, `no connection to ${this.options.url} within ${timeoutMs} ms`);
  }

  /**
   * Publish a JSON value to a channel. The message goes through the offline queue: it is written
   * (to disk with a queue directory) before it is sent, sent in order, resent after a reconnect or a
   * restart until acknowledged, and stored once by the server. Resolves when the server
   * acknowledged it, which may be much later if the device is offline.
   *
   * Rejects with {@link InvalidArgumentError} (bad channel, not JSON, too large),
   * {@link MessageDroppedError} (dropped from a full queue) or {@link DeviceClosedError}.
   */
  publish(channel: string, data: unknown): Promise<PublishReceipt> {
    try {
      assertChannel(channel);
      return this.enqueue(`channels/${channel}`, this.serialize(data));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Commit tags (`{name: value}`, `null` deletes) under an app key (default `device`). Goes through
   * the offline queue like {@link publish}.
   */
  commitTags(tags: Record<string, TagValue | null>, appKey = 'device'): Promise<PublishReceipt> {
    try {
      assertAppKey(appKey);
      assertTags(tags);
      return this.enqueue(`tags/${appKey}`, this.serialize(tags));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Publish outside the offline queue, without a message id, to `devices/{id}/<subtopic>`. For
   * reports whose sender repeats them by its own logic (OTA status). QoS 1 resolves on PUBACK; while
   * offline the message waits in memory and is sent on reconnect.
   */
  async publishDirect(subtopic: string, payload: string | Buffer, options: { qos?: 0 | 1 } = {}): Promise<void> {
    if (this.closed) throw new DeviceClosedError();
    await this.start();
    const client = this.client!;
    await new Promise<void>((resolve, reject) => client.publish(this.prefix + subtopic, payload, { qos: options.qos ?? 1 }, (err) => (err ? reject(err) : resolve())));
  }

  /**
   * Receive messages on `devices/{id}/<filter>` (MQTT wildcards allowed), now and after every
   * reconnect. Returns a function that removes the handler (the subscription stays).
   */
  subscribe(filter: string, handler: TopicHandler): () => void {
    const entry = { filter, handler };
    this.handlers.push(entry);
    if (this.isConnected) this.client!.subscribe(this.prefix + filter, { qos: 1 }, (err) => err && this.fail(err));
    return () => {
      const i = this.handlers.indexOf(entry);
      if (i >= 0) this.handlers.splice(i, 1);
    };
  }

  /** Start an OTA agent for this device (see {@link OtaAgent}); close() stops it. */
  ota(options: OtaAgentOptions): OtaAgent {
    const agent = new OtaAgent(this, options);
    this.agents.add(agent);
    agent.start();
    return agent;
  }

  /**
   * Wait until every queued message is acknowledged. Rejects with {@link TimeoutError} after
   * `timeoutMs` (default 30 s).
   */
  async flush(timeoutMs = 30_000): Promise<void> {
    await this.start();
    await this.waitFor(() => (this.queue?.size ?? 0) === 0, timeoutMs, `${this.queue?.size} messages still unacknowledged after ${timeoutMs} ms`);
  }

  /**
   * Stop the OTA agents, disconnect and release the queue. With `drainMs` (default 2000) it first waits that long for
   * queued messages to be acknowledged; what is left stays in the queue directory for the next start.
   * Publishes still pending reject with {@link DeviceClosedError}.
   */
  async close(options: { drainMs?: number } = {}): Promise<void> {
    if (this.closed) return;
    // A download in progress stops and keeps its partial file for the next start.
    for (const agent of this.agents) agent.stop();
    this.agents.clear();
    const drainMs = options.drainMs ?? 2000;
    if (this.opening && drainMs > 0 && this.isConnected) await this.flush(drainMs).catch(() => undefined);
    this.closed = true;
    await this.opening?.catch(() => undefined);
    const client = this.client;
    if (client) await new Promise<void>((resolve) => client.end(!this.isConnected, {}, () => resolve()));
    this.isConnected = false;
    await this.queue?.close();
    for (const p of this.pending.values()) p.reject(new DeviceClosedError('the device was closed before the message was acknowledged; it stays queued for the next start'));
    this.pending.clear();
    this.emit('close');
  }

  private async open(): Promise<void> {
    const queue = await OfflineQueue.open(this.options.queue);
    if (this.closed) {
      await queue.close();
      throw new DeviceClosedError();
    }
    this.queue = queue;
    queue.onReady = () => this.drain();
    queue.onDrop = (m) => {
      this.pending.get(m.seq)?.reject(new MessageDroppedError(m.messageId));
      this.pending.delete(m.seq);
      this.emit('dropped', m);
    };
    const clientId = this.options.clientIdSuffix ? `${this.deviceId}:${this.options.clientIdSuffix}` : this.deviceId;
    const client = mqtt.connect(this.options.url, {
      ...this.options.mqtt,
      protocolVersion: 4,
      clientId,
      username: this.deviceId,
      password: this.options.token,
      clean: !this.options.persistentSession,
      reconnectPeriod: this.options.reconnectPeriodMs ?? 1000,
      connectTimeout: this.options.connectTimeoutMs ?? 10_000,
      keepalive: this.options.keepaliveSeconds ?? 30,
      // Subscriptions are made on every connect by onConnect; mqtt.js must not repeat them.
      resubscribe: false,
    });
    this.client = client;
    client.on('connect', () => this.onConnect());
    client.on('close', () => this.onClose());
    client.on('reconnect', () => this.emit('reconnect'));
    client.on('error', (err) => this.onError(err));
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet.retain));
  }

  private onConnect(): void {
    if (this.closed) return;
    this.isConnected = true;
    this.everConnected = true;
    this.offlineReported = false;
    const filters = ['config', 'commands/+', ...this.handlers.map((h) => h.filter)];
    this.client!.subscribe([...new Set(filters)].map((f) => this.prefix + f), { qos: 1 }, (err) => err && this.fail(err));
    this.emit('connect');
    this.drain();
  }

  private onClose(): void {
    const was = this.isConnected;
    this.isConnected = false;
    if (this.closed) return;
    if (was || (!this.everConnected && !this.offlineReported)) {
      this.offlineReported = true;
      this.emit('offline');
    }
  }

  private onError(err: Error & { code?: unknown }): void {
    const code = typeof err.code === 'number' ? err.code : undefined;
    if (code !== undefined && code > 0 && !this.refused) {
      const why: Record<number, string> = { 2: 'identifier rejected (the client id must be the device id or <device id>:<suffix>)', 4: 'bad user name or password (wrong or revoked token, unknown device)', 5: 'not authorized' };
      this.refused = new ConnectionRefusedError(code, `the broker refused the connection: ${why[code] ?? `return code ${code}`}`);
      // The same credentials cannot succeed: stop retrying.
      this.client?.end(true);
      this.fail(this.refused);
      return;
    }
    this.fail(err);
  }

  private fail(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  private onMessage(topic: string, payload: Buffer, retained: boolean): void {
    if (!topic.startsWith(this.prefix)) return;
    const sub = topic.slice(this.prefix.length);
    if (sub === 'config') this.onConfig(payload);
    else if (sub.startsWith('commands/')) this.onCommand(sub.slice('commands/'.length), payload);
    for (const h of [...this.handlers]) {
      if (!topicMatches(h.filter, sub)) continue;
      try {
        h.handler(sub, payload, retained);
      } catch (err) {
        this.fail(err as Error);
      }
    }
  }

  private onConfig(payload: Buffer): void {
    let config: unknown = {};
    if (payload.length > 0) {
      try {
        config = JSON.parse(payload.toString('utf8'));
      } catch {
        return this.fail(new ProtocolError(this.prefix + 'config', 'the configuration is not JSON'));
      }
    }
    if (typeof config !== 'object' || config === null || Array.isArray(config)) return this.fail(new ProtocolError(this.prefix + 'config', 'the configuration is not a JSON object'));
    const json = JSON.stringify(config);
    if (json === this.lastConfigJson) return;
    this.lastConfigJson = json;
    this.lastConfig = config as DeviceConfig;
    this.emit('config', this.lastConfig);
  }

  private onCommand(name: string, payload: Buffer): void {
    let body: { id?: unknown; args?: unknown; sentAt?: unknown };
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch {
      return this.fail(new ProtocolError(this.prefix + 'commands/' + name, 'the command is not JSON'));
    }
    if (typeof body !== 'object' || body === null || typeof body.id !== 'string') return this.fail(new ProtocolError(this.prefix + 'commands/' + name, 'a command is {"id","args","sentAt"}'));
    // QoS 1 is at least once: a redelivered command is not run twice.
    if (this.recentCommands.includes(body.id)) return;
    this.recentCommands.push(body.id);
    if (this.recentCommands.length > 256) this.recentCommands.shift();
    const args = typeof body.args === 'object' && body.args !== null && !Array.isArray(body.args) ? (body.args as Record<string, unknown>) : {};
    this.emit('command', { name, id: body.id, args, sentAt: typeof body.sentAt === 'string' ? body.sentAt : undefined });
  }

  private serialize(data: unknown): string {
    let payload: string | undefined;
    try {
      payload = JSON.stringify(data);
    } catch (err) {
      throw new InvalidArgumentError(`the payload cannot be serialized to JSON: ${(err as Error).message}`);
    }
    if (payload === undefined) throw new InvalidArgumentError('the payload must be a JSON value');
    const bytes = Buffer.byteLength(payload);
    if (bytes > this.maxPayloadBytes) throw new InvalidArgumentError(`the payload has ${bytes} bytes; at most ${this.maxPayloadBytes} are allowed (maxPayloadBytes)`);
    return payload;
  }

  private async enqueue(topic: string, payload: string): Promise<PublishReceipt> {
    if (this.closed) throw new DeviceClosedError();
    await this.start();
    if (this.closed) throw new DeviceClosedError();
    const { message, written } = this.queue!.add(topic, payload);
    return new Promise<PublishReceipt>((resolve, reject) => {
      this.pending.set(message.seq, { resolve, reject });
      written.then(
        () => {
          this.emit('queued', message);
          this.drain();
        },
        (err: Error) => {
          this.pending.delete(message.seq);
          reject(err);
        },
      );
    });
  }

  /** Send queued messages in order, up to maxInFlight unacknowledged. */
  private drain(): void {
    const client = this.client;
    const queue = this.queue;
    if (!client || !queue || !this.isConnected || this.closed) return;
    while (this.inFlight < this.maxInFlight) {
      const m = queue.takeNext();
      if (!m) return;
      this.inFlight++;
      // mqtt.js keeps an unacknowledged QoS 1 packet and resends it after a reconnect, so the
      // callback comes once the server has it, whichever connection carried it.
      client.publish(`${this.prefix}${m.topic}/${m.messageId}`, m.payload, { qos: 1 }, (err) => {
        this.inFlight--;
        if (err) {
          if (!this.closed) queue.unsend(m.seq);
        } else if (queue.ack(m.seq)) {
          this.ackedCount++;
          const p = this.pending.get(m.seq);
          this.pending.delete(m.seq);
          p?.resolve({ messageId: m.messageId, seq: m.seq });
        }
        this.drain();
      });
    }
  }

  private waitFor(ok: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const settle = (err?: Error) => {
        clearTimeout(timer);
        clearInterval(poll);
        if (err) reject(err);
        else resolve();
      };
      const check = () => {
        if (this.refused) settle(this.refused);
        else if (this.closed) settle(new DeviceClosedError());
        else if (ok()) settle();
      };
      const timer = setTimeout(() => settle(new TimeoutError(what)), timeoutMs);
      const poll = setInterval(check, 20);
      setImmediate(check);
    });
  }
}
