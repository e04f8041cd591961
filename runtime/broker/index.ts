import net from 'node:net';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { Aedes, AedesPublishPacket, Client, ConnectPacket, PublishPacket, Subscription, AuthenticateError } from 'aedes' with { 'resolution-mode': 'import' };
import { Errors, isFieldflowError } from '../errors';
import { isStorageError } from '../store/data-file';
import type { Logger } from '../log';
import type { PlatformOptions } from '../options';
import type { DeviceRegistry } from '../devices/registry';
import type { ChannelService } from '../channels/service';
import type { TagService } from '../tags/service';
import type { EventBus } from '../events';
import { PUBLISH_ACL, SUBSCRIBE_ACL, authorize, type AclMatch } from './acl';
import { guardPackets, type PacketViolation } from './packet-guard';
import { flagSessionPresent } from './session-present';
import { PersistentSessions } from './sessions';
import { ProtocolLevelRefusals } from './protocol-level';
import { Presence } from './presence';
import { parseMessageId, type MessageDedupe } from './dedupe';
import type { IngestMeter } from '../metrics/ingest';

/** Answer a WebSocket upgrade that cannot be taken now (while starting or stopping): 503, try again in a few seconds. */
export function refuseUpgrade(socket: Duplex): void {
  socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
}

/** Where device reports on OTA updates go (`devices/{id}/ota/status`). */
export interface OtaReports {
  /** Resolves when the report is applied; rejects with a catalog error when it is refused. */
  report(deviceId: string, payload: Buffer): Promise<void>;
}

/** Where a publish that was acknowledged but refused goes: no client can subscribe to `$` topics. */
const DROPPED_TOPIC = '$fieldflow/dropped';
/** Room for the fixed header, topic and packet id on top of the largest payload. */
const PACKET_OVERHEAD = 64 * 1024;
/** MQTT 3.1.1's protocol level, the only one served [MQTT-3.1.2-2]. */
const PROTOCOL_LEVEL = 4;
/** CONNACK return codes, MQTT 3.1.1 table 3.1. */
const IDENTIFIER_REJECTED = 2;
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;

interface Session {
  deviceId: string;
  tokenHash: string;
  /** Set when the device is deleted or its token rotated, so nothing more is accepted from it. */
  revoked: boolean;
  /** QoS 2 packets being stored, by packet id: a retransmission waits for the same store. */
  qos2InFlight: Map<number, Promise<void>>;
  /** The connection resumed a persistent session: CONNACK says so [MQTT-3.2.2-2]. */
  resumed: boolean;
}

/** What a CONNECT asked for, kept from preConnect for the hooks that run after it. */
interface ConnectRequest {
  clientId: string;
  clean: boolean;
}

export interface BrokerDeps {
  devices: DeviceRegistry;
  channels: ChannelService;
  tags: TagService;
  ota: OtaReports;
  dedupe: MessageDedupe;
  events: EventBus;
  /** Counts stored and refused device publishes. */
  meter: IngestMeter;
  options: PlatformOptions;
  log: Logger;
  now: () => number;
}

/**
 * The embedded Aedes broker: device authentication, the ACL table, and routing of device
 * publishes into ingestion. Aedes 1.x is an ES module, so it is loaded by the async factory.
 */
export class Broker {
  private readonly sessions = new WeakMap<Client, Session>();
  private readonly connects = new WeakMap<Client, ConnectRequest>();
  private readonly persistentSessions = new PersistentSessions();
  private readonly clientsByDevice = new Map<string, Set<Client>>();
  /** Device publishes being stored: close() waits for them, so what they remember is flushed after. */
  private readonly storing = new Set<Promise<unknown>>();
  private readonly presence: Presence;
  private readonly protocolRefusals: ProtocolLevelRefusals;
  private tcp: net.Server | null = null;
  private wss: WebSocketServer | null = null;
  /** False once the launcher stops: new connections are refused. */
  private accepting = true;
  private readonly maxPacketBytes: number;

  private constructor(
    readonly aedes: Aedes,
    private readonly deps: BrokerDeps,
  ) {
    this.maxPacketBytes = deps.options.ingest.maxPayloadBytes + PACKET_OVERHEAD;
    this.presence = new Presence({ ...deps, publish: (topic, payload) => this.publishRetained(topic, payload) });
    this.protocolRefusals = new ProtocolLevelRefusals(deps.log);
    aedes.on('clientReady', (client) => this.onClientReady(client));
    aedes.on('clientDisconnect', (client) => this.onClientGone(client));
    aedes.on('clientError', (client, err) => deps.log.debug('mqtt client error', { client: client.id, error: err.message }));
    aedes.on('connectionError', (_client, err) => deps.log.debug('mqtt connection error', { error: err.message }));
    deps.devices.onRevoke((deviceId, reason) => {
      this.disconnectDevice(deviceId);
      if (reason === 'deleted') this.persistentSessions.forget(deviceId);
    });
  }

  static async create(deps: BrokerDeps): Promise<Broker> {
    const { Aedes } = await import('aedes');
    let broker: Broker | undefined;
    const aedes = await Aedes.createBroker({
      preConnect: (client, packet, cb) => broker!.admitConnect(client, packet, cb),
      authenticate: (client, username, password, cb) => broker!.authenticateDevice(client, username, password, cb),
      authorizePublish: (client, packet, cb) => broker!.authorizeDevicePublish(client, packet, cb),
      authorizeSubscribe: (client, sub, cb) => broker!.authorizeDeviceSubscribe(client, sub, cb),
      authorizeForward: (client, packet) => broker!.forwardToOwnNamespace(client, packet),
    });
    broker = new Broker(aedes, deps);
    broker.persistOnlyAuthorizedSubscriptions();
    return broker;
  }

  /** Start the TCP listener, if one is configured. Resolves with the bound port. */
  async listen(): Promise<number | null> {
    const { port, host } = this.deps.options.mqtt;
    if (port === null) return null;
    // No Nagle: PUBACKs are small and latency-sensitive.
    const tcp = net.createServer({ noDelay: true }, (socket) => this.handle(socket));
    this.tcp = tcp;
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(port, host, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    // Accept errors (out of file descriptors, say) must not take the process down.
    tcp.on('error', (err) => this.deps.log.error('mqtt listener error', { error: err.message }));
    return (tcp.address() as net.AddressInfo).port;
  }

  /** Serve MQTT over WebSocket on `path` of an HTTP server, next to whatever else upgrades there. */
  attachWebSocket(server: http.Server, path: string): void {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.maxPacketBytes });
    server.on('upgrade', (req, socket, head) => {
      const pathname = (req.url ?? '').split('?')[0];
      // Other paths belong to Node-RED (its comms and websocket nodes); leave them alone.
      if (pathname !== path) return;
      if (!this.accepting) {
        refuseUpgrade(socket);
        return;
      }
      this.wss!.handleUpgrade(req, socket, head, (ws) => {
        const stream = createWebSocketStream(ws);
        stream.on('error', () => undefined);
        this.handle(stream, req);
      });
    });
  }

  /**
   * Take no new connections (TCP or WebSocket) from now on; live ones go on until close(). The
   * launcher calls this first when it stops, so no device connects while the flows shut down.
   */
  stopAccepting(): void {
    this.accepting = false;
    this.tcp?.close();
  }

  /** Devices with at least one live connection. */
  connectedDevices(): number {
    return this.clientsByDevice.size;
  }

  /** Close every live connection of a device (its token was rotated or it was deleted). */
  disconnectDevice(deviceId: string): void {
    for (const client of this.clientsByDevice.get(deviceId) ?? []) {
      const session = this.sessions.get(client);
      if (session) session.revoked = true;
      client.close();
    }
  }

  /** Close every connection, then wait for the publishes already taken in to be stored or refused. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
    if (this.wss) this.wss.close();
    if (this.tcp?.listening) await new Promise<void>((resolve) => this.tcp!.close(() => resolve()));
    await Promise.allSettled([...this.storing]);
  }

  private handle(stream: Duplex, req?: http.IncomingMessage): void {
    let client: Client | undefined;
    guardPackets(stream, this.maxPacketBytes, (violation) => this.closedForViolation(client, violation));
    flagSessionPresent(stream, () => (client ? this.sessions.get(client)?.resumed === true : false));
    client = this.aedes.handle(stream, req);
  }

  private closedForViolation(client: Client | undefined, violation: PacketViolation): void {
    if (violation.kind === 'too-large') {
      this.deps.meter.refused('mqtt', Errors.MQTT_PACKET_TOO_LARGE.code);
      this.deps.log.warn('closed an MQTT connection that sent an oversized packet', {
        code: Errors.MQTT_PACKET_TOO_LARGE.code,
        declaredBytes: violation.declared,
        limit: this.maxPacketBytes,
      });
      return;
    }
    this.deps.meter.refused('mqtt', Errors.MQTT_INVALID_TOPIC.code);
    const session = client ? this.sessions.get(client) : undefined;
    if (session) this.deps.devices.recordIngestError(session.deviceId, Errors.MQTT_INVALID_TOPIC.code);
    this.deps.log.warn('closed an MQTT connection that sent an invalid topic name', {
      code: Errors.MQTT_INVALID_TOPIC.code,
      device: session?.deviceId,
      reason: violation.reason,
    });
  }

  /** The preConnect hook: keep what the CONNECT asked for, and refuse protocol levels other than 3.1.1. */
  private admitConnect(client: Client, packet: ConnectPacket, cb: (err: Error | null, ok: boolean) => void): void {
    this.connects.set(client, { clientId: packet.clientId ?? '', clean: packet.clean !== false });
    if (packet.protocolVersion === PROTOCOL_LEVEL) return cb(null, true);
    this.protocolRefusals.refuse(client, packet, cb);
  }

  private authenticateDevice(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    cb: (err: AuthenticateError | null, ok: boolean | null) => void,
  ): void {
    const refuse = (returnCode: number, why: string) => {
      this.deps.log.warn('mqtt connection refused', { reason: why, username: username?.slice(0, 64), returnCode });
      const err = new Error(why) as AuthenticateError;
      err.returnCode = returnCode;
      cb(err, null);
    };
    const connect = this.connects.get(client) ?? { clientId: '', clean: true };
    // [MQTT-3.1.3-8] a session without a name could never be resumed; Aedes would make one up.
    if (connect.clientId === '' && !connect.clean) {
      return refuse(IDENTIFIER_REJECTED, `${Errors.MQTT_CLIENT_ID_REJECTED.code}: an empty client id needs clean session 1`);
    }
    if (!username || !password || password.length === 0) return refuse(NOT_AUTHORIZED, 'missing credentials');
    const device = this.deps.devices.authenticate(username, password.toString('utf8'));
    if (!device) return refuse(BAD_USERNAME_OR_PASSWORD, 'wrong credentials');
    // A client id names a session; a device must not take over (or read) another device's.
    const requested = connect.clientId;
    if (requested !== '' && requested !== device.id && !requested.startsWith(device.id + ':')) {
      return refuse(IDENTIFIER_REJECTED, `${Errors.MQTT_CLIENT_ID_REJECTED.code}: client id must be the device id or "<device id>:<suffix>"`);
    }
    const resumed = !connect.clean && this.persistentSessions.has(device.id, client.id);
    this.sessions.set(client, { deviceId: device.id, tokenHash: device.tokenHash, revoked: false, qos2InFlight: new Map(), resumed });
    cb(null, true);
  }

  private authorizeDevicePublish(client: Client | null, packet: PublishPacket, cb: (err?: Error | null) => void): void {
    const session = client ? this.sessions.get(client) : undefined;
    if (!session || session.revoked) return cb(Errors.AUTH_INVALID('session is no longer authorized'));
    const match = authorize(PUBLISH_ACL, packet.topic, session);
    if (!match) {
      this.deps.devices.recordIngestError(session.deviceId, Errors.MQTT_TOPIC_DENIED.code);
      this.deps.meter.refused('mqtt', Errors.MQTT_TOPIC_DENIED.code);
      this.deps.log.warn('mqtt publish denied', { device: session.deviceId, topic: packet.topic.slice(0, 256) });
      // [MQTT-3.3.5-2] no negative ack in 3.1.1: closing the connection is the refusal.
      return cb(Errors.MQTT_TOPIC_DENIED(`publish to ${packet.topic.slice(0, 256)}`));
    }
    // Every message id is a new topic: a retained copy of each would pile up in the broker's memory for good.
    if (match.params.messageId !== undefined || match.rule.route === 'otaStatus') packet.retain = false;
    // [MQTT-3.3.1-10] a zero-byte retained publish removes the topic's retained message. It is an
    // instruction to the broker, not a message: nothing is stored and Aedes clears the topic.
    if (packet.retain && (packet.payload as Buffer).length === 0) return cb(null);
    this.ingest(client!, session, match, packet, cb);
  }

  private ingest(client: Client, session: Session, match: AclMatch, packet: PublishPacket, cb: (err?: Error | null) => void): void {
    if (packet.qos !== 2 || packet.messageId === undefined) {
      this.store(session, match, packet).then(() => cb(null), cb);
      return;
    }
    // [MQTT-4.3.3-2] a retransmitted QoS 2 PUBLISH must not be stored twice, and its PUBREC must
    // not go out before the first copy is stored.
    const id = packet.messageId;
    const inFlight = session.qos2InFlight.get(id);
    if (inFlight) {
      inFlight.then(() => cb(null), cb);
      return;
    }
    const persistence = (this.aedes as Aedes & { persistence: { incomingGetPacket(c: Client, p: PublishPacket): Promise<unknown> } }).persistence;
    const stored = (packet.dup ? persistence.incomingGetPacket(client, packet).then(() => true, () => false) : Promise.resolve(false))
      .then((seen) => (seen ? undefined : this.store(session, match, packet)))
      .finally(() => session.qos2InFlight.delete(id));
    session.qos2InFlight.set(id, stored);
    stored.then(() => cb(null), cb);
  }

  /** Store a device publish. Resolves when it is stored or refused for good; rejects when it should be resent. */
  private store(session: Session, match: AclMatch, packet: PublishPacket): Promise<void> {
    const { deviceId } = session;
    const payload = packet.payload as Buffer;
    const { route } = match.rule;
    const channel = route === 'tags' ? `tags/${match.params.appKey}` : route === 'otaStatus' ? 'ota/status' : match.params.channel;
    const { meter } = this.deps;
    // Counted as stored only if this publish was written: a resend of a message already stored is not a second message.
    let written = false;
    const write = (): Promise<unknown> => {
      written = true;
      return route === 'tags' ? this.deps.tags.commitRaw(deviceId, match.params.appKey, payload) : route === 'otaStatus' ? this.deps.ota.report(deviceId, payload) : this.deps.channels.publishRaw(deviceId, channel, payload);
    };
    let stored: Promise<unknown>;
    try {
      const messageId = match.params.messageId;
      stored = messageId === undefined ? write() : this.deps.dedupe.once(deviceId, parseMessageId(messageId), () => write().then(() => undefined));
    } catch (err) {
      stored = Promise.reject(err);
    }
    this.storing.add(stored);
    void stored.then(
      () => this.storing.delete(stored),
      () => this.storing.delete(stored),
    );
    return stored.then(
      () => {
        if (written) meter.stored('mqtt');
      },
      (err: Error) => {
        if (isFieldflowError(err) && err.status < 500) {
          // [MQTT-3.3.5-2] acknowledge and drop: the client must not resend a message that will
          // never be accepted. It is counted on the device and logged without its payload.
          this.deps.devices.recordIngestError(session.deviceId, err.code, channel);
          meter.refused('mqtt', err.code);
          this.deps.log.warn('dropped an MQTT message', {
            device: session.deviceId,
            channel: channel.slice(0, 80),
            code: err.code,
            bytes: payload.length,
          });
          packet.topic = DROPPED_TOPIC;
          packet.retain = false;
          return;
        }
        // Not stored: no PUBACK, the connection closes, and the device resends after reconnecting.
        meter.refused('mqtt', isFieldflowError(err) ? err.code : Errors.INTERNAL.code);
        // A failing disk is logged once per run by write health, not once per message.
        if (!isStorageError(err)) this.deps.log.error('mqtt ingest failed', { device: session.deviceId, error: err.message });
        throw err;
      },
    );
  }

  private authorizeDeviceSubscribe(client: Client, sub: Subscription, cb: (err: Error | null, sub?: Subscription | null) => void): void {
    const session = this.sessions.get(client);
    if (session && !session.revoked && authorize(SUBSCRIBE_ACL, sub.topic, session)) return cb(null, sub);
    this.deps.log.warn('mqtt subscribe denied', { device: session?.deviceId, topic: sub.topic.slice(0, 256) });
    // A null subscription is a failure return code (0x80) in the SUBACK [MQTT-3.9.3-2]; the connection stays.
    cb(null, null);
  }

  /**
   * Deliver a packet to a client only if it is under the client's own namespace. The subscribe ACL
   * already refuses wider filters; this also covers what Aedes queued for a persistent session
   * and replays on reconnect, which is not checked against the subscribe hook again.
   */
  private forwardToOwnNamespace(client: Client, packet: AedesPublishPacket): AedesPublishPacket | null {
    const session = this.sessions.get(client);
    if (!session || session.revoked) return null;
    const own = `devices/${session.deviceId}`;
    return packet.topic === own || packet.topic.startsWith(own + '/') ? packet : null;
  }

  /**
   * Aedes saves every filter of a SUBSCRIBE packet for a persistent session, the refused ones
   * included (and queues messages for them while the device is away). Only authorized filters
   * may reach its persistence.
   */
  private persistOnlyAuthorizedSubscriptions(): void {
    type Persistence = { addSubscriptions(client: Client, subs: Subscription[]): Promise<void> };
    const persistence = (this.aedes as Aedes & { persistence: Persistence }).persistence;
    const addSubscriptions = persistence.addSubscriptions.bind(persistence);
    persistence.addSubscriptions = (client, subs) => {
      const session = this.sessions.get(client);
      return addSubscriptions(client, session ? subs.filter((s) => authorize(SUBSCRIBE_ACL, s.topic, session)) : []);
    };
  }

  private onClientReady(client: Client): void {
    const session = this.sessions.get(client);
    if (!session) return;
    // Aedes has resumed or discarded the stored session by now.
    this.persistentSessions.connected(session.deviceId, client.id, this.connects.get(client)?.clean !== false);
    const device = this.deps.devices.get(session.deviceId);
    // Deleted or rotated while this connection was being set up.
    if (!device || device.tokenHash !== session.tokenHash) {
      session.revoked = true;
      client.close();
      return;
    }
    let clients = this.clientsByDevice.get(device.id);
    if (!clients) this.clientsByDevice.set(device.id, (clients = new Set()));
    clients.add(client);
    this.deps.log.debug('mqtt client ready', { device: device.id, client: client.id, connections: clients.size });
    if (clients.size === 1) this.presence.online(device);
  }

  private onClientGone(client: Client): void {
    const session = this.sessions.get(client);
    if (!session) return;
    const clients = this.clientsByDevice.get(session.deviceId);
    if (!clients || !clients.delete(client)) return;
    this.deps.log.debug('mqtt client gone', { device: session.deviceId, client: client.id, connections: clients.size });
    if (clients.size > 0) return;
    this.clientsByDevice.delete(session.deviceId);
    this.presence.offline(session.deviceId);
  }

  private publishRetained(topic: string, payload: string): void {
    this.aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: true, dup: false }, () => undefined);
  }

  /**
   * Publish to a device's own namespace (`devices/{id}/<subtopic>`): offers, config, commands.
   * An empty retained payload removes the retained message [MQTT-3.3.1-10].
   */
  publishToDevice(deviceId: string, subtopic: string, payload: string, options: { retain: boolean; qos: 0 | 1 }): Promise<void> {
    const packet = { cmd: 'publish' as const, topic: `devices/${deviceId}/${subtopic}`, payload: Buffer.from(payload), qos: options.qos, retain: options.retain, dup: false };
    return new Promise((resolve, reject) => this.aedes.publish(packet, (err) => (err ? reject(err) : resolve())));
  }
}
