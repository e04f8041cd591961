import type { Duplex } from 'node:stream';

/** CONNACK: packet type 2 with no flags, [MQTT-3.2.1]. */
const CONNACK = 0x20;
/** The acknowledge flags follow the type byte and the remaining length, which is always 2. */
const FLAGS_AT = 2;
const SESSION_PRESENT = 0x01;

/**
 * Set the session-present flag of the CONNACK written to `conn` when `present()` says the client
 * resumed a persistent session [MQTT-3.2.2-2]. Aedes sets the flag only for a session that holds
 * subscriptions, but a session exists from its first connection with clean session 0, with
 * subscriptions or without.
 *
 * The first packet a server sends is the CONNACK [MQTT-3.2.0-1], so this looks at the first three
 * bytes written, however they are split into writes, and then steps aside. `present()` is read only
 * for an accepted connection's CONNACK: it is false until authentication has passed.
 */
export function flagSessionPresent(conn: Duplex, present: () => boolean): void {
  const write = conn.write;
  let written = 0;
  let connack = false;
  conn.write = function flaggedWrite(this: Duplex, chunk: unknown, ...rest: unknown[]): boolean {
    let out = chunk;
    if (chunk instanceof Uint8Array && chunk.length > 0) {
      if (written === 0) connack = chunk[0] === CONNACK;
      const at = FLAGS_AT - written;
      if (connack && at >= 0 && at < chunk.length && present()) {
        // A copy: mqtt-packet writes shared constant buffers for the flags.
        const flagged = Buffer.from(chunk);
        flagged[at] |= SESSION_PRESENT;
        out = flagged;
      }
      written += chunk.length;
      if (written > FLAGS_AT) conn.write = write;
    }
    return (write as (...args: unknown[]) => boolean).apply(this, [out, ...rest]);
  } as Duplex['write'];
}
