import type { Client, ConnectPacket } from 'aedes' with { 'resolution-mode': 'import' };
import type { Logger } from '../log';

/** CONNACK 1, unacceptable protocol version, in MQTT 3.1.1's form, which MQTT 3.1 and 5 clients read too. */
const CONNACK_UNACCEPTABLE_PROTOCOL = Buffer.from([0x20, 0x02, 0x00, 0x01]);
/** Clients whose refusal was logged at info; later ones of the same client go to debug. */
const REMEMBERED_CLIENTS = 1024;
const ACTION = 'connect with MQTT 3.1.1 (protocol level 4; mqtt.js: protocolVersion: 4; Paho: MQTTv311)';

function describe(level: number): { protocol: string; reason: string } {
  if (level === 5) return { protocol: 'MQTT 5', reason: 'MQTT 5 is not supported; the broker speaks MQTT 3.1.1' };
  if (level === 3) {
    return { protocol: 'MQTT 3.1', reason: 'MQTT 3.1 is not supported; it limits client ids to 23 characters, and a device id is 36' };
  }
  return { protocol: `protocol level ${level}`, reason: 'only MQTT 3.1.1 is supported' };
}

/**
 * Refuses CONNECTs of protocol levels other than MQTT 3.1.1 with CONNACK 1, and says why in the log
 * once per client: a device retrying every few seconds would otherwise fill the log with one line.
 */
export class ProtocolLevelRefusals {
  private readonly logged = new Set<string>();

  constructor(private readonly log: Logger) {}

  /** Answer CONNACK 1 and fail the connect, which closes the connection [MQTT-3.1.2-2]. */
  refuse(client: Client, packet: ConnectPacket, cb: (err: Error | null, ok: boolean) => void): void {
    const level = packet.protocolVersion ?? 0;
    const { protocol, reason } = describe(level);
    const clientId = (packet.clientId ?? '').slice(0, 64);
    const username = packet.username?.slice(0, 64);
    const key = `${level}\n${username ?? ''}\n${clientId}`;
    const first = !this.logged.has(key);
    if (first) {
      if (this.logged.size >= REMEMBERED_CLIENTS) this.logged.delete(this.logged.values().next().value as string);
      this.logged.add(key);
    }
    this.log[first ? 'info' : 'debug']('mqtt connection refused: unsupported protocol version', { protocol, clientId, username, reason, action: ACTION });
    // Aedes answers level 5 itself but would accept 3.1; answering here treats both alike.
    client.conn.write(CONNACK_UNACCEPTABLE_PROTOCOL, () => cb(new Error(reason), false));
  }
}
