import type { Duplex } from 'node:stream';

/**
 * Close a connection whose next MQTT packet declares a length over `maxBytes`.
 *
 * Aedes' parser buffers a packet until it is complete, and MQTT allows 256 MB packets, so one
 * unauthenticated connection could make the broker buffer that much. This reads only the fixed
 * headers (type byte + variable-length "remaining length", [MQTT-2.2.3]) of the bytes Aedes
 * takes from the stream, and counts through the bodies, so it costs no copy.
 */
export function guardPacketSize(conn: Duplex, maxBytes: number, onViolation: (declared: number) => void): void {
  const read = conn.read.bind(conn);
  let skip = 0;
  let inLength = false;
  let length = 0;
  let multiplier = 1;
  let lengthBytes = 0;
  let violated = false;

  conn.read = function guardedRead(size?: number) {
    const chunk = read(size);
    if (chunk === null || violated) return violated ? null : chunk;
    const buf: Buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let i = 0;
    while (i < buf.length) {
      if (skip > 0) {
        const n = Math.min(skip, buf.length - i);
        skip -= n;
        i += n;
      } else if (!inLength) {
        i++; // packet type and flags
        inLength = true;
        length = 0;
        multiplier = 1;
        lengthBytes = 0;
      } else {
        const byte = buf[i++];
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        lengthBytes++;
        if (byte & 0x80) {
          if (lengthBytes < 4) continue;
          length = Infinity; // [MQTT-2.2.3] at most four length bytes
        }
        if (length > maxBytes) {
          violated = true;
          onViolation(length);
          conn.destroy();
          return null;
        }
        skip = length;
        inLength = false;
      }
    }
    return chunk;
  };
}
