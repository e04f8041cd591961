import assert from 'node:assert/strict';
import { PUBLISH_ACL, SUBSCRIBE_ACL, authorize } from '../../../runtime/broker/acl';

const me = { deviceId: 'aaaa-1' };

describe('the MQTT ACL table', () => {
  it('lets a device publish to its own channels and routes them to ingestion', () => {
    const m = authorize(PUBLISH_ACL, 'devices/aaaa-1/channels/telemetry', me);
    assert.equal(m?.rule.route, 'channel');
    assert.equal(m?.params.channel, 'telemetry');
  });

  it("denies publishing to another device's topics or outside the namespace", () => {
    for (const topic of ['devices/bbbb-2/channels/telemetry', 'devices/aaaa-1/status', 'devices/aaaa-1/channels/a/b/c', 'devices/aaaa-1/ota', 'devices/aaaa-1/ota/rejected', 'devices/aaaa-1', 'other', '$SYS/x', 'devices//channels/x']) {
      assert.equal(authorize(PUBLISH_ACL, topic, me), null, topic);
    }
  });

  it('routes a publish with a client message id to ingestion with that id, and OTA reports to OTA', () => {
    const m = authorize(PUBLISH_ACL, 'devices/aaaa-1/channels/telemetry/p1-42', me);
    assert.deepEqual([m?.rule.route, m?.params.channel, m?.params.messageId], ['channel', 'telemetry', 'p1-42']);
    const t = authorize(PUBLISH_ACL, 'devices/aaaa-1/tags/device/p1-43', me);
    assert.deepEqual([t?.rule.route, t?.params.appKey, t?.params.messageId], ['tags', 'device', 'p1-43']);
    assert.equal(authorize(PUBLISH_ACL, 'devices/aaaa-1/ota/status', me)?.rule.route, 'otaStatus');
    assert.equal(authorize(PUBLISH_ACL, 'devices/bbbb-2/ota/status', me), null);
  });

  it('lets a device subscribe anywhere under its own id, wildcards included', () => {
    for (const filter of ['devices/aaaa-1/#', 'devices/aaaa-1/status', 'devices/aaaa-1/+/x', 'devices/aaaa-1']) {
      assert.ok(authorize(SUBSCRIBE_ACL, filter, me), filter);
    }
  });

  it('denies subscriptions that could match other devices', () => {
    for (const filter of ['#', 'devices/#', 'devices/+/status', 'devices/+/#', 'devices/bbbb-2/#', '$SYS/#', '+/aaaa-1/#']) {
      assert.equal(authorize(SUBSCRIBE_ACL, filter, me), null, filter);
    }
  });
});
