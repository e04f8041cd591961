import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import mqttPacket from 'mqtt-packet';
import { guardPacketSize } from '../../../runtime/broker/packet-guard';

function publish(size: number): Buffer {
  return mqttPacket.generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(size), qos: 0, dup: false, retain: false });
}

function drain(stream: PassThrough): Buffer[] {
  const chunks: Buffer[] = [];
  let c: Buffer | null;
  while ((c = stream.read()) !== null) chunks.push(c);
  return chunks;
}

describe('the MQTT packet size guard', () => {
  it('passes packets under the limit through untouched, across chunk boundaries', () => {
    const stream = new PassThrough();
    let violated = false;
    guardPacketSize(stream, 1000, () => (violated = true));
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
    guardPacketSize(stream, 1000, (n) => (declared = n));
    const big = publish(5000);
    stream.write(Buffer.concat([publish(10), big.subarray(0, 4)]));
    drain(stream);
    assert.ok(declared > 1000, 'violation not reported');
    assert.ok(stream.destroyed);
  });

  it('treats a remaining length of more than four bytes as a violation [MQTT-2.2.3]', () => {
    const stream = new PassThrough();
    let declared = 0;
    guardPacketSize(stream, 1 << 30, (n) => (declared = n));
    stream.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
    drain(stream);
    assert.equal(declared, Infinity);
  });
});
