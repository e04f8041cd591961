import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import mqttPacket from 'mqtt-packet';
import { guardPackets, type PacketViolation } from '../../../runtime/broker/packet-guard';

function publish(size: number, topic: string | Buffer = 't'): Buffer {
  return mqttPacket.generate({ cmd: 'publish', topic: topic as string, payload: Buffer.alloc(size), qos: 0, dup: false, retain: false });
}

/** Feed `bytes` in pieces of `step` bytes; what Aedes would have read, and the violation if any. */
function feed(bytes: Buffer, step: number, maxBytes = 1 << 20): { received: Buffer; violation: PacketViolation | null; destroyed: boolean } {
  const stream = new PassThrough();
  let violation: PacketViolation | null = null;
  guardPackets(stream, maxBytes, (v) => (violation = v));
  const received: Buffer[] = [];
  for (let i = 0; i < bytes.length && !stream.destroyed; i += step) {
    stream.write(bytes.subarray(i, i + step));
    received.push(...drain(stream));
  }
  return { received: Buffer.concat(received), violation, destroyed: stream.destroyed };
}

function drain(stream: PassThrough): Buffer[] {
  const chunks: Buffer[] = [];
  let c: Buffer | null;
  while ((c = stream.read()) !== null) chunks.push(c);
  return chunks;
}

describe('the MQTT packet guard', () => {
  it('passes packets under the limit through untouched, across chunk boundaries', () => {
    const stream = new PassThrough();
    let violated = false;
    guardPackets(stream, 1000, () => (violated = true));
    const bytes = Buffer.concat([publish(10), publish(500), mqttPacket.generate({ cmd: 'pingreq' }), publish(990)]);
    const received: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 7) {
      stream.write(bytes.subarray(i, i + 7));
      received.push(...drain(stream));
    }
    assert.equal(violated, false);
    assert.deepEqual(Buffer.concat(received), bytes);
  });

  it('destroys the connection as soon as a header declares an oversized packet', () => {
    const stream = new PassThrough();
    let declared = 0;
    guardPackets(stream, 1000, (v) => (declared = v.kind === 'too-large' ? v.declared : -1));
    const big = publish(5000);
    stream.write(Buffer.concat([publish(10), big.subarray(0, 4)]));
    drain(stream);
    assert.ok(declared > 1000, 'violation not reported');
    assert.ok(stream.destroyed);
  });

  it('treats a remaining length of more than four bytes as a violation [MQTT-2.2.3]', () => {
    const stream = new PassThrough();
    let declared = 0;
    guardPackets(stream, 1 << 30, (v) => (declared = v.kind === 'too-large' ? v.declared : -1));
    stream.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
    drain(stream);
    assert.equal(declared, Infinity);
  });

  it('passes well-formed topic names through, whole or split over reads, multi-byte characters included', () => {
    const bytes = Buffer.concat([publish(3, 'devices/d/channels/température'), publish(0, 'a/😀/b'), mqttPacket.generate({ cmd: 'pingreq' }), publish(2, 'x'.repeat(300))]);
    for (const step of [1, 2, 5, 64, bytes.length]) {
      const r = feed(bytes, step);
      assert.equal(r.violation, null, `step ${step}`);
      assert.deepEqual(r.received, bytes);
    }
  });

  it('closes the connection on a PUBLISH topic that is not well-formed UTF-8 [MQTT-1.5.3-1]', () => {
    const bad = [
      [0xc3, 0x28], // a lead byte without its continuation
      [0xc0, 0xaf], // an overlong '/'
      [0xed, 0xa0, 0x80], // an encoded surrogate, U+D800
      [0xf4, 0x90, 0x80, 0x80], // beyond U+10FFFF
      [0xff],
    ];
    for (const seq of bad) {
      const topic = Buffer.concat([Buffer.from('devices/d/channels/'), Buffer.from(seq)]);
      for (const step of [1, 3, 1000]) {
        const r = feed(Buffer.concat([publish(4), publish(4, topic)]), step);
        assert.deepEqual(r.violation, { kind: 'bad-topic', reason: 'not well-formed UTF-8' }, `${Buffer.from(seq).toString('hex')} step ${step}`);
        assert.ok(r.destroyed);
      }
    }
  });

  it('closes the connection on a PUBLISH topic that holds U+0000 [MQTT-1.5.3-2]', () => {
    const r = feed(publish(4, 'devices/d/channels/a\u0000b'), 7);
    assert.deepEqual(r.violation, { kind: 'bad-topic', reason: 'contains U+0000' });
    assert.ok(r.destroyed);
  });

  it('reads topics only in PUBLISH packets: other packets may carry any bytes', () => {
    const subscribe = mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'devices/d/#', qos: 1 }] });
    const withZeros = Buffer.concat([subscribe, mqttPacket.generate({ cmd: 'publish', topic: 't', payload: Buffer.from([0, 0xff, 0xc3]), qos: 0, dup: false, retain: false })]);
    const r = feed(withZeros, 1);
    assert.equal(r.violation, null);
    assert.deepEqual(r.received, withZeros);
  });
});
