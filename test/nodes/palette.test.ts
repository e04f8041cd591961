import assert from 'node:assert/strict';
import { helper } from '../support/node-helper';
import type { Platform } from '../../runtime';
import { connect, waitFor } from '../support/mqtt';
import channelIn from '../../nodes/channel-in/channel-in';
import channelOut from '../../nodes/channel-out/channel-out';
import aggregateNode from '../../nodes/aggregate/aggregate';
import historyNode from '../../nodes/history/history';
import deviceStatus from '../../nodes/device-status/device-status';
import { errors, failures, inject, received, type Msg, usePalette } from './flow';

helper.init(require.resolve('node-red'));

describe('the Fieldflow palette in Node-RED', () => {
  let platform: Platform;
  let north: string;
  let south: string;

  const fixture = usePalette();
  beforeEach(() => ({ platform, north, south } = fixture));

  describe('channel in', () => {
    it('emits stored messages of matching devices and channels with payload, topic, device, channel, messageId and ts', async () => {
      await helper.load(channelIn, [
        { id: 'in', type: 'channel in', deviceMode: 'selector', selector: 'site=north', channel: 'temp', onMessage: true, wires: [['out']] },
        { id: 'out', type: 'helper' },
      ]);
      const msgs = received('out');
      const r = await platform.channels.publish(north, 'temp', { c: 21 });
      await platform.channels.publish(south, 'temp', { c: 5 });
      await platform.channels.publish(north, 'other', { c: 1 });
      await waitFor('one message', () => msgs.length === 1);
      await new Promise((res) => setTimeout(res, 50));
      assert.equal(msgs.length, 1);
      const m = msgs[0];
      assert.deepEqual(m.payload, { c: 21 });
      assert.equal(m.topic, `devices/${north}/channels/temp`);
      assert.deepEqual(m.device, { id: north, name: 'north-1', labels: { site: 'north' } });
      assert.equal(m.channel, 'temp');
      assert.equal(m.messageId, r.id);
      assert.equal(m.ts, r.ts);
      assert.equal(m.event, 'MessageCreate');
    });

    it('emits aggregate updates with the whole merged state when asked, for any channel with +', async () => {
      await helper.load(channelIn, [
        { id: 'in', type: 'channel in', deviceMode: 'id', device: north, channel: '+', onMessage: false, onAggregate: true, wires: [['out']] },
        { id: 'out', type: 'helper' },
      ]);
      const msgs = received('out');
      await platform.channels.publish(north, 'a', { x: 1 });
      await platform.channels.publish(north, 'a', { y: 2 });
      await platform.channels.publish(north, 'b', 'scalar');
      await platform.channels.publish(south, 'a', { z: 3 });
      await waitFor('three updates', () => msgs.length === 3);
      assert.deepEqual(msgs.map((m) => [m.channel, m.payload, m.event]), [
        ['a', { x: 1 }, 'AggregateUpdate'],
        ['a', { x: 1, y: 2 }, 'AggregateUpdate'],
        ['b', 'scalar', 'AggregateUpdate'],
      ]);
    });

    it("gives the flow its own copy of the data, so changing msg.payload cannot change the platform's aggregate", async () => {
      await helper.load(channelIn, [
        { id: 'in', type: 'channel in', deviceMode: 'all', channel: 'state', onAggregate: true, onMessage: false, wires: [['out']] },
        { id: 'out', type: 'helper' },
      ]);
      const msgs = received('out');
      await platform.channels.publish(north, 'state', { list: [1, 2], nested: { a: 1 } });
      await waitFor('an update', () => msgs.length === 1);
      msgs[0].payload.list.push(3);
      msgs[0].payload.nested.a = 'changed';
      msgs[0].device.labels.site = 'hacked';
      assert.deepEqual(platform.channels.aggregate(north, 'state').data, { list: [1, 2], nested: { a: 1 } });
      assert.equal(platform.devices.require(north).labels.site, 'north');
    });

    it('reports an invalid selector as a node error and listens to nothing', async () => {
      await helper.load(channelIn, [
        { id: 'in', type: 'channel in', deviceMode: 'selector', selector: 'site===north', channel: '+', wires: [['out']] },
        { id: 'out', type: 'helper' },
      ]);
      assert.equal(platform.events.has('MessageCreate'), false);
    });

    it('stops listening when the flow is stopped', async () => {
      await helper.load(channelIn, [{ id: 'in', type: 'channel in', deviceMode: 'all', channel: '+', wires: [] }]);
      assert.equal(platform.events.has('MessageCreate'), true);
      await helper.unload();
      assert.equal(platform.events.has('MessageCreate'), false);
    });
  });

  describe('channel out', () => {
    it("stores msg.payload on the node's device and channel, or on msg.device.id and msg.channel", async () => {
      await helper.load(channelOut, [
        { id: 'fixed', type: 'channel out', device: north, channel: 'cmd', wires: [] },
        { id: 'dynamic', type: 'channel out', device: '', channel: '', wires: [] },
      ]);
      // channel out has no output: its effect is the stored message.
      helper.getNode('fixed').receive({ payload: { on: true } });
      helper.getNode('dynamic').receive({ payload: [1, 2], device: { id: south }, channel: 'arr' });
      helper.getNode('dynamic').receive({ payload: 7, deviceId: north, channel: 'num' });
      await waitFor('stored', () => platform.channels.list(north).length === 2 && platform.channels.list(south).length === 1);
      // A channel is listed only once its first message is stored, so its aggregate is there too.
      assert.deepEqual(platform.channels.aggregate(north, 'cmd').data, { on: true });
      assert.deepEqual(platform.channels.aggregate(south, 'arr').data, [1, 2]);
      assert.equal(platform.channels.aggregate(north, 'num').data, 7);
    });

    it('passes errors to Catch nodes with their code and stores nothing', async () => {
      await helper.load(channelOut, [{ id: 'out', type: 'channel out', device: '', channel: '', wires: [] }]);
      const errs = errors('out');
      await inject('out', { payload: 1, deviceId: '00000000-0000-0000-0000-000000000000', channel: 'x' });
      await inject('out', { payload: 1, deviceId: north });
      await inject('out', { payload: 1, deviceId: north, channel: 'bad name' });
      await inject('out', { payload: undefined, deviceId: north, channel: 'x' });
      await waitFor('four errors', () => errs.length === 4);
      assert.match(errs[0], /No device/);
      assert.match(errs[1], /No channel/);
      assert.match(errs[2], /Channel names/);
      assert.match(errs[3], /JSON value/);
      assert.deepEqual(platform.channels.list(north), []);
    });
  });

  describe('aggregate', () => {
    it('reads the aggregate and merge-patches it, recording the patch as a message', async () => {
      await platform.channels.publish(north, 'state', { mode: 'auto', limits: { hi: 80, lo: 10 } });
      await helper.load(aggregateNode, [
        { id: 'reader', type: 'aggregate', action: 'get', device: north, channel: 'state', wires: [['out']] },
        { id: 'patcher', type: 'aggregate', action: 'patch', device: '', channel: 'state', wires: [['out']] },
        { id: 'out', type: 'helper' },
      ]);
      const msgs = received('out');
      await inject('patcher', { payload: { limits: { lo: null } }, device: { id: north } });
      await inject('reader', {});
      await waitFor('two results', () => msgs.length === 2);
      assert.deepEqual(msgs[0].payload, { mode: 'auto', limits: { hi: 80 } });
      assert.match(msgs[0].messageId, /^[0-9]+$/);
      assert.deepEqual(msgs[1].payload, { mode: 'auto', limits: { hi: 80 } });
      assert.equal(msgs[1].aggregate.lastMessageId, msgs[0].messageId);
      assert.equal((await platform.channels.history(north, 'state')).items.length, 2);
    });

    it('reports an unknown channel to Catch nodes', async () => {
      await helper.load(aggregateNode, [{ id: 'reader', type: 'aggregate', action: 'get', device: north, channel: 'nope', wires: [] }]);
      const errs = errors('reader');
      await inject('reader', {});
      await waitFor('an error', () => errs.length === 1);
      assert.match(errs[0], /no channel "nope"/);
    });
  });

  describe('history', () => {
    it('queries messages with msg.limit, msg.order and msg.after overriding the node, and returns the next cursor', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await platform.channels.publish(north, 't', { i })).id);
      await helper.load(historyNode, [
        { id: 'h', type: 'history', device: north, channel: 't', range: '1', rangeUnit: 'hours', limit: '100', order: 'desc', wires: [['out']] },
        { id: 'out', type: 'helper' },
      ]);
      const msgs = received('out');
      await inject('h', {});
      await inject('h', { limit: 2, order: 'asc', after: ids[1] });
      await waitFor('two pages', () => msgs.length === 2);
      assert.deepEqual(msgs[0].payload.map((m: Msg) => m.data.i), [4, 3, 2, 1, 0]);
      assert.equal(msgs[0].next, null);
      assert.deepEqual(msgs[1].payload.map((m: Msg) => m.id), [ids[2], ids[3]]);
      assert.equal(msgs[1].next, ids[3]);
      assert.equal(typeof msgs[1].payload[0].ts, 'number');
    });

    it('reads the channel of every device matching a selector as one page in id order, and pages through all of them with next', async () => {
      const east = (await platform.devices.create({ name: 'east-1', labels: { site: 'north' } })).device.id;
      await platform.devices.create({ name: 'quiet-1', labels: { site: 'north' } });
      const sent: Array<[string, number]> = [];
      for (let i = 0; i < 5; i++) {
        for (const [device, name] of [[north, 'north-1'], [east, 'east-1'], [south, 'south-1']]) {
          await platform.channels.publish(device, 't', { i });
          if (device !== south) sent.push([name, i]);
        }
      }
      await helper.load(historyNode, [
        { id: 'h', type: 'history', deviceMode: 'selector', device: '', selector: 'site=north', channel: 't', range: '', limit: '4', order: 'asc', wires: [['out']] },
        { id: 'every', type: 'history', deviceMode: 'selector', device: '', selector: '', channel: 't', range: '', limit: '100', order: 'asc', wires: [['all']] },
        { id: 'out', type: 'helper' },
        { id: 'all', type: 'helper' },
      ]);
      const msgs = received('out');
      const pages: Msg[][] = [];
      let after: string | undefined;
      do {
        await inject('h', after ? { after } : {});
        await waitFor('a page', () => msgs.length === pages.length + 1);
        pages.push(msgs.at(-1)!.payload);
        after = msgs.at(-1)!.next ?? undefined;
      } while (after && pages.length < 10);
      assert.deepEqual(pages.map((p) => p.length), [4, 4, 2]);
      const all = pages.flat();
      assert.deepEqual(all.map((m) => [m.device.name, m.data.i]), sent, 'both north devices, in the order sent; south and the quiet device add nothing');
      assert.deepEqual(all.map((m) => m.id), [...all.map((m) => m.id)].sort((a, b) => a.length - b.length || (a < b ? -1 : 1)));
      await inject('h', { order: 'desc', limit: 1 });
      await waitFor('newest first', () => msgs.length === 4);
      assert.deepEqual(msgs[3].payload.map((m: Msg) => [m.device.id, m.data.i]), [[east, 4]]);
      assert.equal(msgs[3].next, msgs[3].payload[0].id);
      const every = received('all');
      await inject('every', {});
      await waitFor('every device', () => every.length === 1);
      assert.equal(every[0].payload.length, 15, 'an empty selector reads every device');
      assert.equal(every[0].next, null);
    });

    it('reports an invalid selector to Catch nodes as FF_INVALID_QUERY', async () => {
      await helper.load(historyNode, [{ id: 'h', type: 'history', deviceMode: 'selector', device: '', selector: 'site in (', channel: 't', range: '', limit: '100', order: 'desc', wires: [] }]);
      const errs = failures('h');
      await inject('h', {});
      await waitFor('an error', () => errs.length === 1);
      assert.equal((errs[0] as { code?: string }).code, 'FF_INVALID_QUERY');
    });

    it('reports a limit out of range to Catch nodes', async () => {
      await platform.channels.publish(north, 't', 1);
      await helper.load(historyNode, [{ id: 'h', type: 'history', device: north, channel: 't', range: '', limit: '100', order: 'desc', wires: [] }]);
      const errs = errors('h');
      await inject('h', { limit: 5000 });
      await waitFor('an error', () => errs.length === 1);
      assert.match(errs[0], /limit must be an integer from 1 to 1000/);
    });
  });

  describe('device status', () => {
    it('emits when a matching device connects over MQTT and when its last connection closes', async () => {
      await helper.load(deviceStatus, [
        { id: 's', type: 'device status', deviceMode: 'selector', selector: 'site=north', wires: [['out']] },
        { id: 'out', type: 'helper' },
      ]);
      const msgs = received('out');
      const port = await platform.broker.listen();
      const token = await platform.devices.rotateToken(north);
      const other = await platform.devices.rotateToken(south);
      const a = await connect(`mqtt://127.0.0.1:${port}`, { clientId: north, username: north, password: token });
      const b = await connect(`mqtt://127.0.0.1:${port}`, { clientId: `${north}:2`, username: north, password: token });
      const c = await connect(`mqtt://127.0.0.1:${port}`, { clientId: south, username: south, password: other });
      await waitFor('connect', () => msgs.length === 1);
      await a.endAsync();
      await c.endAsync();
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(msgs.length, 1, 'one of two connections closing is not a disconnect');
      await b.endAsync();
      await waitFor('disconnect', () => msgs.length === 2);
      assert.deepEqual(msgs.map((m) => [m.event, m.payload.online, m.device.id, m.topic]), [
        ['DeviceConnect', true, north, `devices/${north}/status`],
        ['DeviceDisconnect', false, north, `devices/${north}/status`],
      ]);
      assert.equal(platform.devices.require(north).online, false);
      assert.equal(platform.devices.require(north).lastSeen, msgs[1].payload.lastSeen);
    });
  });
});
