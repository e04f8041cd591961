import { Errors } from '../errors';
import type { EventBus } from '../events';
import type { Logger } from '../log';
import type { PlatformOptions } from '../options';
import type { Collection, Store } from '../store';
import type { LogRecord, MessageLog } from '../store/message-log';
import { SnowflakeGenerator, idToTime } from '../ids/snowflake';
import { deviceRef, type Device, type DeviceRegistry } from '../devices/registry';
import { assertChannelName, assertWritable, splitStreamKey, streamKey } from './names';
import { mergePatch } from './merge-patch';
import { parsePayload, serializeData, type ParsedPayload } from './payload';
import { CheckpointStore, type Aggregate } from './checkpoints';
import { resolveBound, type Bound } from './bounds';
import { RetentionTrimmer, type Retention, type RetentionOverrides } from './retention';
import { MemoryGuard } from './memory-guard';
import type { MemoryUsage } from '../store/memory-model';

export type { Aggregate } from './checkpoints';
export type { Retention, RetentionOverrides } from './retention';
export type { MemoryUsage } from '../store/memory-model';

export interface PublishResult {
  id: string;
  /** Server time in ms since the Unix epoch, decoded from the id. */
  ts: number;
  /** The channel's aggregate right after this message was merged. */
  aggregate: Aggregate;
}

export interface MessageItem {
  id: string;
  ts: number;
  data: unknown;
}

export interface HistoryQuery {
  /** Exclusive lower bound: a message id (decimal string), or a time (ISO string, Date, ms number) inclusive. */
  after?: Bound;
  /** Exclusive upper bound: a message id, or a time (exclusive). */
  before?: Bound;
  limit?: number;
  order?: 'asc' | 'desc';
}

export interface HistoryPage {
  items: MessageItem[];
  /** Pass as `after` (asc) or `before` (desc) for the next page; null on the last page. */
  next: string | null;
}

export interface ChannelInfo {
  device: string;
  name: string;
  messageCount: number;
  firstMessageAt: number | null;
  lastMessageAt: number | null;
  /** The retention in force: the channel's overrides over the global defaults. */
  retention: Retention;
  /** Only what was set on this channel. */
  retentionOverrides: RetentionOverrides;
}

export const HISTORY_MAX_LIMIT = 1000;
/** Messages per read when scanning a whole range. */
const SCAN_PAGE = 5000;
export const HISTORY_DEFAULT_LIMIT = 100;

/** One device's channel, as held in memory. */
interface Stream {
  key: string;
  deviceId: string;
  channel: string;
  retention: RetentionOverrides;
  aggregate: Aggregate | null;
  /** Appends submitted and not yet finished. */
  pending: number;
  /** Size of the aggregate as JSON when last measured, plus every patch merged since: an upper bound. */
  aggregateBytes: number;
}

interface ChannelDoc {
  _id: string;
  retention: RetentionOverrides;
}

export interface ChannelServiceDeps {
  store: Store;
  devices: DeviceRegistry;
  events: EventBus;
  ids: SnowflakeGenerator;
  options: PlatformOptions;
  log: Logger;
  now: () => number;
}

/**
 * Channels: ingestion into the message log, the aggregates, history and retention.
 * Every way in (MQTT, HTTP, a flow) ends in append(), so there is one write path.
 */
export class ChannelService {
  private readonly streams = new Map<string, Stream>();
  private readonly byDevice = new Map<string, Map<string, Stream>>();
  /** Streams that have a document in the `channels` collection. */
  private readonly configured = new Set<string>();
  private readonly checkpoints = new CheckpointStore();
  private readonly log: MessageLog;
  private readonly limits: PlatformOptions['ingest'];
  private readonly trimmer: RetentionTrimmer;
  private readonly memory: MemoryGuard;
  private configs!: Collection<ChannelDoc>;
  private checkpointTimer: NodeJS.Timeout | null = null;
  /** Set by refuse(): messages from outside are refused rather than lost in a closing store. */
  private stopping = false;
  private appended = 0;
  /** Set by stop(): every append is refused. */
  private closed = false;

  constructor(private readonly deps: ChannelServiceDeps) {
    this.log = deps.store.messages;
    this.limits = deps.options.ingest;
    this.trimmer = new RetentionTrimmer({
      log: this.log,
      checkpoints: this.checkpoints,
      retentionOf: (key) => this.retentionOf(this.streams.get(key)),
      logger: deps.log,
      now: deps.now,
      intervalSeconds: deps.options.retention.intervalSeconds,
    });
    this.memory = new MemoryGuard({ log: this.log, trimmer: this.trimmer, logger: deps.log });
  }

  async start(): Promise<void> {
    this.configs = await this.deps.store.collection<ChannelDoc>('channels');
    for (const doc of await this.configs.all()) {
      this.stream(doc._id).retention = doc.retention;
      this.configured.add(doc._id);
    }
    const aggregates = await this.checkpoints.load(this.deps.store);
    for (const [key, aggregate] of aggregates) this.stream(key).aggregate = aggregate;
    await this.recover();
    const newest = this.log.maxId();
    if (newest) this.deps.ids.observe(newest);
    this.checkpointTimer = setInterval(() => {
      // A failure is reported to write health (and logged there once per run); the next tick retries.
      this.checkpoints.flush().catch(() => undefined);
    }, this.deps.options.store.checkpointIntervalMs);
    this.checkpointTimer.unref();
    this.trimmer.start();
    // A history loaded a little over its budget (the process stopped before a trim) is trimmed now.
    this.memory.check();
  }

  /** Refuse messages from outside (devices, REST, flows) from now on; platform services may still write. */
  refuse(): void {
    this.stopping = true;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.closed = true;
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    await this.trimmer.stop();
    await this.log.flush();
    try {
      await this.checkpoints.flush();
    } catch (err) {
      // Nothing acknowledged is lost: the log is the checkpoints' write-ahead log, replayed on start.
      this.deps.log.warn('aggregate checkpoints could not be written at stop; the next start rebuilds them from the message log', { error: (err as Error).message });
    }
  }

  /** Ingest a raw payload (MQTT, HTTP): parse, check and append it. */
  async publishRaw(deviceId: string, channel: string, payload: Buffer | string): Promise<PublishResult> {
    const device = this.deps.devices.require(deviceId);
    assertWritable(channel);
    return this.append(device, channel, parsePayload(payload, this.limits));
  }

  /** Append data that is already a value (a flow, an aggregate patch). */
  async publish(deviceId: string, channel: string, data: unknown): Promise<PublishResult> {
    const device = this.deps.devices.require(deviceId);
    assertWritable(channel);
    return this.append(device, channel, serializeData(data, this.limits));
  }

  /**
   * Append for a platform service: to a channel it owns (the tag service to `tag_values`), or
   * its own record (trigger fires on `events`). Unless `whileStopping` is false (writes that come
   * from outside, such as tag commits), still accepted after refuse(), so services can finish their
   * work while the platform stops.
   */
  async publishInternal(deviceId: string, channel: string, data: unknown, options: { whileStopping?: boolean } = {}): Promise<PublishResult> {
    const device = this.deps.devices.require(deviceId);
    assertChannelName(channel);
    return this.append(device, channel, serializeData(data, this.limits), options.whileStopping !== false);
  }

  /**
   * Visit every stored message of a channel between two bounds, oldest first, in large pages.
   * For whole-history work (backtests) where the REST page size would be the bottleneck.
   * A channel with no data is visited as empty.
   */
  async scan(deviceId: string, channel: string, range: { after?: Bound; before?: Bound }, visit: (item: LogRecord) => void): Promise<number> {
    this.deps.devices.require(deviceId);
    assertChannelName(channel);
    const key = streamKey(deviceId, channel);
    let after = resolveBound(range.after, 'after');
    const before = resolveBound(range.before, 'before');
    let count = 0;
    for (;;) {
      const page = await this.log.read(key, { after, before, limit: SCAN_PAGE, order: 'asc' });
      for (const record of page) visit(record);
      count += page.length;
      if (page.length < SCAN_PAGE) return count;
      after = page[page.length - 1].id;
    }
  }

  /** The newest message before a bound, or null. */
  async lastBefore(deviceId: string, channel: string, before: Bound): Promise<LogRecord | null> {
    const [record] = await this.log.read(streamKey(deviceId, channel), { before: resolveBound(before, 'before'), limit: 1, order: 'desc' });
    return record ?? null;
  }

  /** Names of a device's channels that hold messages (no checks: for internal callers). */
  channelNames(deviceId: string): string[] {
    return [...(this.byDevice.get(deviceId)?.values() ?? [])].filter((s) => this.log.stats(s.key).count > 0).map((s) => s.channel);
  }

  /** Time of the newest stored message of a channel, or null. */
  lastMessageTime(deviceId: string, channel: string): number | null {
    const last = this.log.stats(streamKey(deviceId, channel)).lastId;
    return last ? idToTime(last) : null;
  }

  async history(deviceId: string, channel: string, query: HistoryQuery = {}): Promise<HistoryPage> {
    const stream = this.requireStream(deviceId, channel);
    const limit = query.limit ?? HISTORY_DEFAULT_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > HISTORY_MAX_LIMIT) {
      throw Errors.INVALID_QUERY(`limit must be an integer from 1 to ${HISTORY_MAX_LIMIT}`, {
        errors: [{ path: '/limit', message: `must be an integer from 1 to ${HISTORY_MAX_LIMIT}` }],
      });
    }
    const order = query.order ?? 'desc';
    if (order !== 'asc' && order !== 'desc') {
      throw Errors.INVALID_QUERY('order must be "asc" or "desc"', { errors: [{ path: '/order', message: 'must be asc or desc' }] });
    }
    const records = await this.log.read(stream.key, {
      after: resolveBound(query.after, 'after'),
      before: resolveBound(query.before, 'before'),
      limit: limit + 1,
      order,
    });
    const more = records.length > limit;
    const items = (more ? records.slice(0, limit) : records).map((r) => ({ id: r.id, ts: idToTime(r.id), data: JSON.parse(r.json) }));
    return { items, next: more ? items[items.length - 1].id : null };
  }

  aggregate(deviceId: string, channel: string): Aggregate | { data: null; updatedAt: null; lastMessageId: null } {
    const stream = this.requireStream(deviceId, channel);
    return stream.aggregate ?? { data: null, updatedAt: null, lastMessageId: null };
  }

  list(deviceId: string): ChannelInfo[] {
    this.deps.devices.require(deviceId);
    const channels = [...(this.byDevice.get(deviceId)?.values() ?? [])].filter((s) => this.visible(s));
    return channels.sort((a, b) => (a.channel < b.channel ? -1 : 1)).map((s) => this.info(s));
  }

  get(deviceId: string, channel: string): ChannelInfo {
    return this.info(this.requireStream(deviceId, channel));
  }

  /** Set or clear (null) a channel's retention overrides. Creates the channel if needed. */
  async setRetention(deviceId: string, channel: string, patch: RetentionOverrides | { [K in keyof RetentionOverrides]: number | null }): Promise<ChannelInfo> {
    const device = this.deps.devices.require(deviceId);
    assertChannelName(channel);
    const stream = this.ensureStream(device, channel);
    const retention: RetentionOverrides = { ...stream.retention };
    for (const [key, value] of Object.entries(patch) as Array<[keyof RetentionOverrides, number | null | undefined]>) {
      if (value === null) delete retention[key];
      else if (value !== undefined) retention[key] = value;
    }
    const doc = { _id: stream.key, retention };
    if (this.configured.has(stream.key)) await this.configs.replace(doc);
    else await this.configs.insert(doc);
    this.configured.add(stream.key);
    stream.retention = retention;
    this.trimmer.nudge(stream.key, this.retentionOf(stream).maxCount);
    return this.info(stream);
  }

  /** Apply retention to every channel now, rather than at the next background sweep. */
  enforceRetention(): Promise<void> {
    return this.trimmer.sweep();
  }

  /** Remove every channel of a device that no longer exists. */
  async dropDevice(deviceId: string): Promise<void> {
    // The device is gone from the registry, so nothing new starts; wait for appends in flight.
    await this.log.flush();
    const channels = this.byDevice.get(deviceId);
    this.byDevice.delete(deviceId);
    for (const stream of channels?.values() ?? []) await this.dropStream(stream.key);
  }

  /**
   * The message history's memory against its budget (FIELDFLOW_MEMORY_BUDGET_MB): `state` is `warn` from 80% and
   * `full` from 100%, where the oldest messages are being trimmed. Cheap: for readiness checks and metrics.
   */
  memoryUsage(): MemoryUsage {
    return this.memory.usage();
  }

  /** Messages stored since start: a cheap measure of ingestion that other services can sample. */
  get appendedCount(): number {
    return this.appended;
  }

  private async append(device: Device, channel: string, payload: ParsedPayload, internal = false): Promise<PublishResult> {
    if (this.closed || (this.stopping && !internal)) throw Errors.UNAVAILABLE('Fieldflow is stopping; send the message again after it restarts');
    const stream = this.ensureStream(device, channel);
    this.checkAggregateSize(stream, payload);
    const { id, ms: ts } = this.deps.ids.nextWithTime();
    stream.pending++;
    try {
      await this.log.append(stream.key, id, payload.json);
    } catch (err) {
      // A channel whose first message failed must not linger as an empty one (unless another
      // message to it is still on its way).
      if (--stream.pending === 0 && !this.visible(stream)) this.forgetStream(stream);
      throw err;
    }
    stream.pending--;
    this.appended++;
    stream.aggregateBytes += payload.json.length;
    // Continuations run in commit order, so merges happen in id order.
    const aggregate: Aggregate = { data: mergePatch(stream.aggregate?.data, payload.data), updatedAt: ts, lastMessageId: id };
    stream.aggregate = aggregate;
    this.checkpoints.markDirty(stream.key, aggregate);
    this.deps.devices.markSeen(device);
    this.trimmer.nudge(stream.key, stream.retention.maxCount ?? this.deps.options.retention.maxCount);
    this.memory.check();
    const { events } = this.deps;
    const onMessage = events.has('MessageCreate');
    const onAggregate = events.has('AggregateUpdate');
    if (onMessage || onAggregate) {
      const ref = deviceRef(device);
      if (onMessage) events.emit({ type: 'MessageCreate', device: ref, channel, messageId: id, ts, data: payload.data, json: payload.json });
      if (onAggregate) events.emit({ type: 'AggregateUpdate', device: ref, channel, messageId: id, ts, data: aggregate.data });
    }
    return { id, ts, aggregate };
  }

  /**
   * Refuse a message that would grow the aggregate past its limit. The exact size is measured only
   * when the running upper bound says it might be over, so the common case costs an addition.
   */
  private checkAggregateSize(stream: Stream, payload: ParsedPayload): void {
    const limit = this.limits.maxAggregateBytes;
    if (stream.aggregateBytes + payload.json.length <= limit) return;
    const merged = JSON.stringify(mergePatch(stream.aggregate?.data, payload.data)) ?? '';
    stream.aggregateBytes = JSON.stringify(stream.aggregate?.data ?? null).length;
    if (merged.length > limit) {
      throw Errors.AGGREGATE_TOO_LARGE(`Merging this message would make the aggregate ${merged.length} bytes; the limit is ${limit}. Delete keys with null, or send a non-object to replace it.`);
    }
  }

  /** Rebuild state the log has but the checkpoints do not: streams, and merges after the last checkpoint. */
  private async recover(): Promise<void> {
    // Leftovers of a device whose deletion was interrupted: finish deleting them.
    const orphans = new Set([...this.log.streams(), ...this.streams.keys()].filter((key) => !this.deps.devices.get(splitStreamKey(key).deviceId)));
    for (const key of orphans) {
      this.deps.log.warn('removing the channel of a deleted device', { stream: key });
      await this.dropStream(key).catch((err) => this.deps.log.error('could not remove the channel of a deleted device', { stream: key, error: (err as Error).message }));
    }
    for (const key of [...this.log.streams()]) {
      if (orphans.has(key)) continue;
      const stream = this.stream(key);
      let after = stream.aggregate?.lastMessageId;
      let replayed = 0;
      for (;;) {
        const page = await this.log.read(key, { after, limit: 1000, order: 'asc' });
        if (page.length === 0) break;
        for (const record of page) {
          stream.aggregate = {
            data: mergePatch(stream.aggregate?.data, JSON.parse(record.json)),
            updatedAt: idToTime(record.id),
            lastMessageId: record.id,
          };
        }
        replayed += page.length;
        after = page[page.length - 1].id;
      }
      if (replayed > 0 && stream.aggregate) this.checkpoints.markDirty(key, stream.aggregate);
    }
    for (const stream of this.streams.values()) stream.aggregateBytes = JSON.stringify(stream.aggregate?.data ?? null).length;
    await this.checkpoints.flush();
  }

  private ensureStream(device: Device, channel: string): Stream {
    const existing = this.byDevice.get(device.id)?.get(channel);
    if (existing) return existing;
    const count = this.byDevice.get(device.id)?.size ?? 0;
    if (count >= this.limits.maxChannelsPerDevice) {
      throw Errors.CHANNEL_LIMIT(`Device ${device.id} already has ${count} channels; the limit is ${this.limits.maxChannelsPerDevice}`);
    }
    return this.stream(streamKey(device.id, channel));
  }

  /** The in-memory stream for a key, created empty if new. */
  private stream(key: string): Stream {
    let stream = this.streams.get(key);
    if (stream) return stream;
    const { deviceId, channel } = splitStreamKey(key);
    stream = { key, deviceId, channel, retention: {}, aggregate: null, pending: 0, aggregateBytes: 0 };
    this.streams.set(key, stream);
    let channels = this.byDevice.get(deviceId);
    if (!channels) this.byDevice.set(deviceId, (channels = new Map()));
    channels.set(channel, stream);
    return stream;
  }

  private requireStream(deviceId: string, channel: string): Stream {
    this.deps.devices.require(deviceId);
    assertChannelName(channel);
    const stream = this.byDevice.get(deviceId)?.get(channel);
    if (!stream || !this.visible(stream)) throw Errors.CHANNEL_NOT_FOUND(`Device ${deviceId} has no channel "${channel}"`);
    return stream;
  }

  /**
   * A channel exists for readers once it holds something: a stored message, an aggregate or
   * settings. Until its first message commits it is only a reservation against the channel limit.
   */
  private visible(stream: Stream): boolean {
    return stream.aggregate !== null || this.configured.has(stream.key) || this.log.stats(stream.key).count > 0;
  }

  private forgetStream(stream: Stream): void {
    this.streams.delete(stream.key);
    this.byDevice.get(stream.deviceId)?.delete(stream.channel);
  }

  /** Delete a channel's messages, checkpoint and settings. What fails is retried by recover() on the next start. */
  private async dropStream(key: string): Promise<void> {
    const stream = this.streams.get(key);
    if (stream) this.forgetStream(stream);
    await this.log.drop(key);
    await this.checkpoints.forget(key);
    if (this.configured.has(key)) {
      await this.configs.remove(key);
      this.configured.delete(key);
    }
  }

  private retentionOf(stream: Stream | undefined): Retention {
    const d = this.deps.options.retention;
    return {
      maxAgeSeconds: stream?.retention.maxAgeSeconds ?? d.maxAgeSeconds,
      maxCount: stream?.retention.maxCount ?? d.maxCount,
    };
  }

  private info(stream: Stream): ChannelInfo {
    const stats = this.log.stats(stream.key);
    return {
      device: stream.deviceId,
      name: stream.channel,
      messageCount: stats.count,
      firstMessageAt: stats.firstId ? idToTime(stats.firstId) : null,
      lastMessageAt: stats.lastId ? idToTime(stats.lastId) : null,
      retention: this.retentionOf(stream),
      retentionOverrides: { ...stream.retention },
    };
  }
}
