import { isUtf8 } from 'node:buffer';
import type { Duplex } from 'node:stream';

/** Why the guard closed a connection. */
export type PacketViolation =
  | { kind: 'too-large'; declared: number }
  | { kind: 'bad-topic'; reason: 'not well-formed UTF-8' | 'contains U+0000' };

/** MQTT control packet type of PUBLISH, [MQTT-2.2.1]. */
const PUBLISH = 3;

const enum Phase {
  Type,
  Length,
  TopicLength,
  Topic,
  Skip,
}

/**
 * What is wrong with the topic in `bytes[start, end)`, if anything. Topics are nearly always ASCII,
 * which a loop here clears without a call into C++ or a view of the buffer; only other bytes go to
 * isUtf8, which also refuses overlong forms and encoded surrogates (U+D800-U+DFFF) [MQTT-1.5.3-1].
 */
function topicProblem(bytes: Buffer, start: number, end: number): Extract<PacketViolation, { kind: 'bad-topic' }>['reason'] | null {
  let ascii = true;
  for (let j = start; j < end; j++) {
    const byte = bytes[j];
    if (byte === 0) return 'contains U+0000'; // [MQTT-1.5.3-2]
    if (byte > 0x7f) ascii = false;
  }
  return ascii || isUtf8(bytes.subarray(start, end)) ? null : 'not well-formed UTF-8';
}

/**
 * Close a connection whose next MQTT packet declares a length over `maxBytes`, or whose PUBLISH
 * topic name is not well-formed UTF-8 or holds U+0000.
 *
 * Aedes' parser buffers a packet until it is complete, and MQTT allows 256 MB packets, so one
 * unauthenticated connection could make the broker buffer that much. This reads only the fixed
 * headers (type byte + variable-length "remaining length", [MQTT-2.2.3]) of the bytes Aedes
 * takes from the stream, and counts through the bodies, so it costs no copy.
 *
 * The parser decodes topic names leniently (bad bytes become U+FFFD), so ill-formed UTF-8 can only
 * be seen here, in the bytes. The spec requires closing the connection for it [MQTT-1.5.3-1].
 */
export function guardPackets(conn: Duplex, maxBytes: number, onViolation: (violation: PacketViolation) => void): void {
  const read = conn.read.bind(conn);
  let phase = Phase.Type;
  let type = 0;
  let skip = 0;
  let length = 0;
  let multiplier = 1;
  let lengthBytes = 0;
  /** Bytes of the current PUBLISH after its fixed header that are not read yet. */
  let remaining = 0;
  let topicLength = 0;
  let topicLengthBytes = 0;
  /** A topic split over reads is gathered here (at most 65535 bytes). */
  let topic: Buffer | null = null;
  let topicFilled = 0;
  let violated = false;

  const violate = (violation: PacketViolation): null => {
    violated = true;
    onViolation(violation);
    conn.destroy();
    return null;
  };
  const afterTopic = () => {
    skip = remaining;
    phase = skip > 0 ? Phase.Skip : Phase.Type;
  };

  conn.read = function guardedRead(size?: number) {
    const chunk = read(size);
    if (chunk === null || violated) return violated ? null : chunk;
    const buf: Buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let i = 0;
    while (i < buf.length) {
      switch (phase) {
        case Phase.Skip: {
          const n = Math.min(skip, buf.length - i);
          skip -= n;
          i += n;
          if (skip === 0) phase = Phase.Type;
          break;
        }
        case Phase.Type:
          type = buf[i++] >> 4;
          phase = Phase.Length;
          length = 0;
          multiplier = 1;
          lengthBytes = 0;
          break;
        case Phase.Length: {
          const byte = buf[i++];
          length += (byte & 0x7f) * multiplier;
          multiplier *= 128;
          lengthBytes++;
          if (byte & 0x80) {
            if (lengthBytes < 4) continue;
            length = Infinity; // [MQTT-2.2.3] at most four length bytes
          }
          if (length > maxBytes) return violate({ kind: 'too-large', declared: length });
          if (type === PUBLISH && length >= 2) {
            remaining = length;
            topicLength = 0;
            topicLengthBytes = 0;
            phase = Phase.TopicLength;
          } else {
            skip = length;
            phase = skip > 0 ? Phase.Skip : Phase.Type;
          }
          break;
        }
        case Phase.TopicLength:
          topicLength = topicLength * 256 + buf[i++];
          remaining--;
          if (++topicLengthBytes < 2) break;
          // An empty topic, or one longer than the packet, is Aedes' or the parser's error to report.
          if (topicLength === 0 || topicLength > remaining) {
            afterTopic();
          } else {
            topic = null;
            topicFilled = 0;
            phase = Phase.Topic;
          }
          break;
        case Phase.Topic: {
          const n = Math.min(topicLength - topicFilled, buf.length - i);
          let reason: ReturnType<typeof topicProblem> | undefined;
          if (topicFilled === 0 && n === topicLength) {
            reason = topicProblem(buf, i, i + n);
          } else {
            topic ??= Buffer.allocUnsafe(topicLength);
            buf.copy(topic, topicFilled, i, i + n);
            if (topicFilled + n === topicLength) reason = topicProblem(topic, 0, topicLength);
          }
          topicFilled += n;
          remaining -= n;
          i += n;
          if (reason !== undefined) {
            topic = null;
            if (reason) return violate({ kind: 'bad-topic', reason });
            afterTopic();
          }
          break;
        }
      }
    }
    return chunk;
  };
}
