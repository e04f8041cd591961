import assert from 'node:assert/strict';
import { helper } from '../support/node-helper';
import type { Platform } from '../../runtime';
import { waitFor } from '../support/mqtt';
import { flowTriggerId } from '../../runtime/triggers/service';
import { validateTrigger } from '../../runtime/triggers/model';
import { triggerSpec, type TriggerSettings } from '../../nodes/device-trigger/spec';
import tagNode from '../../nodes/tag/tag';
import deviceTrigger from '../../nodes/device-trigger/device-trigger';
import alarmNode from '../../nodes/alarm/alarm';
import alarmIn from '../../nodes/alarm-in/alarm-in';
import scheduleNode from '../../nodes/schedule/schedule';
import { calls, failures, inject, received, type Msg, usePalette } from './flow';

helper.init(require.resolve('node-red'));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lastStatus = (id: string) => calls(id, 'status').at(-1)?.[0] as { fill?: string; shape?: string; text?: string } | undefined;
/** Parts of the test helper its typings (test/support/node-helper.ts) leave out: deploying a changed flow as the editor does, and supertest on httpAdmin. */
const more = helper as unknown as {
  setFlows(flow: unknown[], type: string): Promise<void>;
  request(): { post(url: string): { send(body: unknown): { expect(status: number): Promise<{ body: Msg }> } } };
};
const setFlows = (flow: Array<Record<string, unknown>>) => more.setFlows(flow, 'full');

describe('the alerting palette in Node-RED', () => {
  let platform: Platform;
  let north: string;
  let south: string;

  const fixture = usePalette();
  beforeEach(() => ({ platform, north, south } = fixture));

  describe('tag', () => {
    it('sets one tag, commits several as one message and reads them back, whole or one at a time', async () => {
      await helper.load(tagNode, [
        { id: 'setter', type: 'tag', action: 'set', device: north, appKey: 'pump', tag: 'speed', wires: [['out']] },
        { id: 'committer', type: 'tag', action: 'commit', device: '', appKey: '', tag: '', wires: [['out']] },
        { id: 'any', type: 'tag', action: 'msg', device: north, appKey: 'pump', tag: '', wires: [['out']] },
        { id: 'out', type: 'helper' },
      ]);
      const msgs = received('out');
      await inject('setter', { payload: 50 });
      await inject('committer', { payload: { mode: 'auto', on: true }, device: { id: north }, appKey: 'pump' });
      await inject('any', { action: 'get' });
      await inject('any', { action: 'get', tag: 'mode' });
      await inject('any', { action: 'get', tag: 'missing' });
      await waitFor('five results', () => msgs.length === 5);
      assert.deepEqual(msgs[0].payload, { speed: 50 });
      assert.match(msgs[0].messageId, /^[0-9]+$/);
      assert.deepEqual(msgs[1].payload, { speed: 50, mode: 'auto', on: true });
      assert.notEqual(msgs[1].messageId, msgs[0].messageId);
      assert.deepEqual(msgs[2].payload, { speed: 50, mode: 'auto', on: true });
      assert.equal(msgs[2].messageId, undefined);
      assert.equal(msgs[3].payload, 'auto');
      assert.equal(msgs[4].payload, null);
      assert.equal((await platform.channels.history(north, 'tag_values', {})).items.length, 2);
    });

    it('passes a value of the wrong type to done(err) as FF_TAG_TYPE_MISMATCH, shows the code and stores nothing', async () => {
      await platform.tags.declare('pump', { speed: 'number' });
      await helper.load(tagNode, [
        { id: 'setter', type: 'tag', action: 'set', device: north, appKey: 'pump', tag: 'speed', wires: [['out']] },
        { id: 'committer', type: 'tag', action: 'commit', device: north, appKey: 'pump', tag: '', wires: [['out']] },
        { id: 'out', type: 'helper' },
      ]);
      const msgs = received('out');
      const setErrors = failures('setter');
      const commitErrors = failures('committer');
      await inject('setter', { payload: 'fast' });
      await inject('committer', { payload: { mode: 'auto', speed: true } });
      await waitFor('two errors', () => setErrors.length === 1 && commitErrors.length === 1);
      for (const err of [...setErrors, ...commitErrors]) assert.equal((err as { code?: string }).code, 'FF_TAG_TYPE_MISMATCH');
      assert.match(String(setErrors[0]), /\/pump\/speed is declared number; got string/);
      assert.deepEqual(lastStatus('setter'), { fill: 'red', shape: 'ring', text: 'FF_TAG_TYPE_MISMATCH' });
      assert.equal(msgs.length, 0);
      assert.deepEqual(platform.tags.get(north, 'pump').values, {});
    });
  });

  describe('device trigger', () => {
    const overheat = (device: string) => ({
      id: 'trig',
      type: 'device trigger',
      name: 'overheat',
      deviceMode: 'id',
      device,
      source: 'channel',
      channel: 'telemetry',
      path: 'temp',
      kind: 'cross',
      threshold: '30',
      direction: 'rising',
      deadband: '',
      forSeconds: '',
      alarm: true,
      alarmType: 'overheat',
      alarmSeverity: 'critical',
      alarmMessage: '',
      alarmClear: true,
      wires: [['out']],
    });

    it('sends a msg when a stored value crosses the threshold, raises its alarm and clears it when the value falls back', async () => {
      await helper.load(deviceTrigger, [overheat(north), { id: 'out', type: 'helper' }]);
      await waitFor('the trigger running', () => platform.triggers.isRunning(flowTriggerId('trig')));
      const msgs = received('out');
      await platform.channels.publish(north, 'telemetry', { temp: 20 });
      const hot = await platform.channels.publish(north, 'telemetry', { temp: 35 });
      await platform.channels.publish(south, 'telemetry', { temp: 10 });
      await platform.channels.publish(south, 'telemetry', { temp: 50 });
      await waitFor('a fire', () => msgs.length === 1);
      const m = msgs[0];
      assert.equal(m.topic, `devices/${north}/events`);
      assert.equal(m.event, 'TriggerFired');
      assert.deepEqual(m.device, { id: north, name: 'north-1', labels: { site: 'north' } });
      assert.deepEqual(
        { trigger: m.payload.trigger, edge: m.payload.edge, value: m.payload.value, previous: m.payload.previous, channel: m.payload.channel, path: m.payload.path, messageId: m.payload.messageId },
        { trigger: { id: flowTriggerId('trig'), name: 'overheat', kind: 'cross' }, edge: 'rising', value: 35, previous: 20, channel: 'telemetry', path: 'temp', messageId: hot.id },
      );
      const alarm = await waitFor('the alarm', () => platform.alarms.findOpen(north, 'overheat'));
      assert.equal(alarm.severity, 'critical');
      await platform.channels.publish(north, 'telemetry', { temp: 25 });
      await waitFor('the alarm cleared', () => platform.alarms.findOpen(north, 'overheat') === undefined);
      await sleep(50);
      assert.equal(msgs.length, 1, 'falling back is not a rising fire');
    });

    it('takes ${NAME} settings from the env variables of its tab, typed as numbers or as text', async () => {
      await helper.load(deviceTrigger, [
        {
          id: 'tab',
          type: 'tab',
          env: [
            { name: 'THRESHOLD', value: '30', type: 'num' },
            { name: 'DEADBAND', value: '2', type: 'str' },
            { name: 'CHANNEL', value: 'telemetry', type: 'str' },
            { name: 'SELECTOR', value: 'site=north', type: 'str' },
          ],
        },
        { ...overheat(''), z: 'tab', deviceMode: 'selector', selector: '${SELECTOR}', channel: '${CHANNEL}', threshold: '${THRESHOLD}', deadband: '${DEADBAND}' },
        { id: 'out', type: 'helper', z: 'tab' },
      ]);
      await waitFor('the trigger running', () => platform.triggers.isRunning(flowTriggerId('trig')));
      const trigger = platform.triggers.get(flowTriggerId('trig'));
      assert.deepEqual([trigger.selector, trigger.channel, trigger.threshold, trigger.deadband], ['site=north', 'telemetry', 30, 2]);
      const msgs = received('out');
      await platform.channels.publish(north, 'telemetry', { temp: 20 });
      await platform.channels.publish(north, 'telemetry', { temp: 31 });
      await waitFor('a fire', () => msgs.length === 1);
      assert.equal(msgs[0].payload.value, 31);
      const everyDevice = triggerSpec({ ...overheat(''), deviceMode: 'selector', selector: '' } as TriggerSettings);
      assert.equal('selector' in everyDevice, false, 'a selector left empty by its env variable watches every device');
      validateTrigger(everyDevice);
    });

    it('reports an invalid definition as a node error with FF_INVALID_TRIGGER and a red status, and registers no trigger', async () => {
      await helper.load(deviceTrigger, [{ ...overheat(north), threshold: '', path: '' }, { id: 'out', type: 'helper' }]);
      await waitFor('the error', () => calls('trig', 'error').length === 1);
      assert.match(String(calls('trig', 'error')[0][0]), /\/path must NOT have fewer than 1 characters|\/path is required/);
      assert.deepEqual(lastStatus('trig'), { fill: 'red', shape: 'ring', text: 'FF_INVALID_TRIGGER' });
      assert.deepEqual(platform.triggers.list(), []);
      assert.equal(platform.triggers.isRunning(flowTriggerId('trig')), false);
      assert.equal(platform.events.has('TriggerFired'), false);
    });

    it('keeps its trigger and state across a redeploy, so a crossing that straddles it fires, and deletes it with the node', async () => {
      const flow = [overheat(north), { id: 'out', type: 'helper' }];
      await helper.load(deviceTrigger, flow);
      await waitFor('the trigger running', () => platform.triggers.isRunning(flowTriggerId('trig')));
      await platform.channels.publish(north, 'telemetry', { temp: 20 });
      const before = helper.getNode('trig');
      await setFlows(flow);
      assert.notEqual(helper.getNode('trig'), before, 'a full deploy restarts the node');
      await waitFor('the trigger running again', () => platform.triggers.isRunning(flowTriggerId('trig')));
      const msgs = received('out');
      await platform.channels.publish(north, 'telemetry', { temp: 35 });
      await waitFor('a fire', () => msgs.length === 1);
      assert.deepEqual([msgs[0].payload.previous, msgs[0].payload.value], [20, 35]);
      await setFlows([{ id: 'out', type: 'helper' }]);
      await waitFor('the trigger deleted', () => platform.triggers.list().length === 0);
    });

    it('turns dialog settings of each kind into a definition the platform accepts, with only the fields the kind uses', () => {
      const common: TriggerSettings = { deviceMode: 'selector', device: north, selector: 'site=north', source: 'channel', channel: 'level', path: 'tank.pct', threshold: '80', direction: 'both', deadband: '5',
        low: '10', high: '20', on: 'leave', from: 'off', fromType: 'str', to: '1.5', toType: 'num', durationSeconds: '600', forSeconds: '30', alarm: false };
      const specs = {
        cross: triggerSpec({ ...common, kind: 'cross' }),
        range: triggerSpec({ ...common, kind: 'range', forSeconds: '' }),
        change: triggerSpec({ ...common, kind: 'change', source: 'tag', appKey: 'meta', tagName: 'mode', alarm: true, alarmType: '', alarmSeverity: 'minor', alarmClear: false }),
        nodata: triggerSpec({ ...common, kind: 'nodata', deviceMode: 'all', channel: '+' }),
      };
      assert.deepEqual(specs, {
        cross: { name: 'level.tank.pct cross', kind: 'cross', selector: 'site=north', channel: 'level', path: 'tank.pct', threshold: 80, direction: 'both', deadband: 5, forSeconds: 30 },
        range: { name: 'level.tank.pct range', kind: 'range', selector: 'site=north', channel: 'level', path: 'tank.pct', low: 10, high: 20, on: 'leave', deadband: 5 },
        change: { name: 'meta.mode change', kind: 'change', selector: 'site=north', tag: { appKey: 'meta', name: 'mode' }, from: 'off', to: 1.5, forSeconds: 30, alarm: { severity: 'minor', clear: false } },
        nodata: { name: '+ nodata', kind: 'nodata', channel: '+', durationSeconds: 600 },
      });
      for (const spec of Object.values(specs)) validateTrigger(spec);
      assert.throws(() => triggerSpec({ ...common, kind: 'change', fromType: 'num', from: 'abc' }), { code: 'FF_INVALID_TRIGGER', message: '/from must be a number' });
    });

    describe('backtest endpoint', () => {
      const settings = (extra: Record<string, unknown> = {}) => {
        const { id: _id, type: _type, wires: _wires, ...rest } = overheat(north);
        return { ...rest, deviceMode: 'all', alarm: false, ...extra };
      };

      it('answers with the fires that stored history would have produced for unsaved settings', async () => {
        for (const temp of [20, 35, 25, 40]) await platform.channels.publish(north, 'telemetry', { temp });
        for (const temp of [10, 31]) await platform.channels.publish(south, 'telemetry', { temp });
        await helper.load(deviceTrigger, []);
        const all = await more.request().post('/fieldflow/triggers/backtest').send({ settings: settings(), range: '24h' }).expect(200);
        assert.equal(all.body.count, 3);
        assert.equal(all.body.devices, 2);
        assert.equal(all.body.truncated, false);
        assert.deepEqual(
          all.body.fires.map((f: Msg) => [f.device, f.edge, f.value, f.previous]),
          [
            [north, 'rising', 35, 20],
            [north, 'rising', 40, 25],
            [south, 'rising', 31, 10],
          ],
        );
        assert.ok(all.body.fires.every((f: Msg) => !Number.isNaN(Date.parse(f.ts)) && f.ts.endsWith('Z')));
        const one = await more.request().post('/fieldflow/triggers/backtest').send({ settings: settings(), range: '7d', device: south }).expect(200);
        assert.deepEqual(one.body.fires.map((f: Msg) => f.value), [31]);
        assert.equal(platform.triggers.list().length, 0, 'a backtest registers nothing');
      });

      it('answers an invalid definition with 400, FF_INVALID_TRIGGER and the failing fields', async () => {
        await helper.load(deviceTrigger, []);
        const res = await more.request().post('/fieldflow/triggers/backtest').send({ settings: settings({ kind: 'range', low: '', high: 'hot' }), range: '7d' }).expect(400);
        assert.equal(res.body.code, 'FF_INVALID_TRIGGER');
        assert.deepEqual(res.body.errors.map((e: Msg) => e.path).sort(), ['/high']);
        const missing = await more.request().post('/fieldflow/triggers/backtest').send({ settings: settings({ kind: 'range' }), range: '7d' }).expect(400);
        assert.deepEqual(missing.body.errors.map((e: Msg) => e.path).sort(), ['/high', '/low']);
        const range = await more.request().post('/fieldflow/triggers/backtest').send({ settings: settings(), range: '1y' }).expect(400);
        assert.equal(range.body.code, 'FF_VALIDATION');
      });
    });
  });

  describe('alarm', () => {
    it('raises, acknowledges and clears an alarm, recording the flow as source and actor', async () => {
      await helper.load(alarmNode, [
        { id: 'al', type: 'alarm', action: 'msg', device: north, alarmType: 'door', severity: '', message: '', wires: [['out']] },
        { id: 'out', type: 'helper' },
      ]);
      const msgs = received('out');
      await inject('al', { action: 'raise', payload: 'Door open', severity: 'minor', details: { door: 2 } });
      await inject('al', { action: 'raise', payload: 'Door still open', severity: 'minor' });
      await inject('al', { action: 'ack', comment: 'seen' });
      await inject('al', { action: 'clear' });
      await waitFor('four results', () => msgs.length === 4);
      const [raised, again, acked, cleared] = msgs.map((m) => m.payload);
      assert.deepEqual(
        { type: raised.type, device: raised.device, severity: raised.severity, message: raised.message, details: raised.details, status: raised.status, count: raised.count, source: raised.source },
        { type: 'door', device: north, severity: 'minor', message: 'Door open', details: { door: 2 }, status: 'active', count: 1, source: { kind: 'flow', id: 'al' } },
      );
      assert.equal(again.id, raised.id);
      assert.equal(again.count, 2);
      assert.equal(again.message, 'Door still open');
      assert.deepEqual([acked.acknowledged, acked.ackedBy, acked.ackComment, acked.status], [true, 'flow:al', 'seen', 'active']);
      assert.deepEqual([cleared.status, cleared.clearedBy, cleared.id], ['cleared', 'flow:al', raised.id]);
      assert.equal(platform.alarms.findOpen(north, 'door'), undefined);
    });

    it('clears an alarm by msg.alarmId on any device', async () => {
      const { alarm } = await platform.alarms.raise({ device: south, type: 'leak', severity: 'critical' });
      await helper.load(alarmNode, [
        { id: 'al', type: 'alarm', action: 'clear', device: '', alarmType: '', severity: '', message: '', wires: [['out']] },
        { id: 'out', type: 'helper' },
      ]);
      const msgs = received('out');
      await inject('al', { alarmId: alarm.id, comment: 'fixed' });
      await waitFor('a result', () => msgs.length === 1);
      assert.deepEqual([msgs[0].payload.id, msgs[0].payload.status, msgs[0].payload.clearComment], [alarm.id, 'cleared', 'fixed']);
      assert.equal(typeof msgs[0].payload.clearedAt, 'string');
    });

    it('passes clearing an alarm that is not open, or an unknown id, to done(err) as FF_ALARM_NOT_FOUND', async () => {
      await helper.load(alarmNode, [
        { id: 'al', type: 'alarm', action: 'clear', device: north, alarmType: 'door', severity: '', message: '', wires: [['out']] },
        { id: 'out', type: 'helper' },
      ]);
      const msgs = received('out');
      const errs = failures('al');
      await inject('al', {});
      await inject('al', { alarmId: '00000000-0000-0000-0000-000000000000' });
      await waitFor('two errors', () => errs.length === 2);
      assert.deepEqual(errs.map((e) => (e as { code?: string }).code), ['FF_ALARM_NOT_FOUND', 'FF_ALARM_NOT_FOUND']);
      assert.match(String(errs[0]), /no open alarm of type "door"/);
      assert.deepEqual(lastStatus('al'), { fill: 'red', shape: 'ring', text: 'FF_ALARM_NOT_FOUND' });
      assert.equal(msgs.length, 0);
    });
  });

  describe('alarm in', () => {
    it('emits only the chosen events of matching devices, types and severities', async () => {
      await helper.load(alarmIn, [
        { id: 'north', type: 'alarm in', deviceMode: 'selector', selector: 'site=north', onRaised: true, onUpdated: false, onAcked: false, onCleared: true, alarmType: '', minSeverity: 'major', wires: [['out']] },
        { id: 'leaks', type: 'alarm in', deviceMode: 'all', onRaised: true, onUpdated: true, onAcked: true, onCleared: true, alarmType: 'leak', minSeverity: '', wires: [['leaks-out']] },
        { id: 'out', type: 'helper' },
        { id: 'leaks-out', type: 'helper' },
      ]);
      const msgs = received('out');
      const leaks = received('leaks-out');
      const { alarm: hot } = await platform.alarms.raise({ device: north, type: 'overheat', severity: 'critical' });
      await platform.alarms.raise({ device: north, type: 'door', severity: 'minor' });
      await platform.alarms.raise({ device: south, type: 'overheat', severity: 'critical' });
      await platform.alarms.raise({ device: north, type: 'overheat', severity: 'critical' });
      await platform.alarms.ack(hot.id, { by: 'ops' });
      await platform.alarms.clear(hot.id, { by: 'ops' });
      const { alarm: leak } = await platform.alarms.raise({ device: south, type: 'leak', severity: 'info' });
      await platform.alarms.ack(leak.id, { by: 'ops' });
      await waitFor('the events', () => msgs.length === 2 && leaks.length === 2);
      await sleep(50);
      assert.deepEqual(
        msgs.map((m) => [m.event, m.topic, m.device.id, m.payload.id, m.payload.status]),
        [
          ['AlarmRaised', 'alarms/overheat', north, hot.id, 'active'],
          ['AlarmCleared', 'alarms/overheat', north, hot.id, 'cleared'],
        ],
      );
      assert.deepEqual(
        leaks.map((m) => [m.event, m.device.id, m.payload.acknowledged]),
        [
          ['AlarmRaised', south, false],
          ['AlarmAcked', south, true],
        ],
      );
      msgs[0].payload.details.changed = true;
      assert.deepEqual(platform.alarms.get(hot.id).details, {});
    });

    it('reports an invalid selector as a node error and listens to nothing', async () => {
      await helper.load(alarmIn, [{ id: 'in', type: 'alarm in', deviceMode: 'selector', selector: 'site===north', onRaised: true, wires: [] }]);
      assert.equal(calls('in', 'error').length, 1);
      assert.equal(lastStatus('in')?.text, 'FF_INVALID_SELECTOR');
      assert.equal(platform.events.has('AlarmRaised'), false);
    });
  });

  describe('schedule', () => {
    it('emits on a six-field cron expression with the due time, or the node payload, and shows the next run', async () => {
      await helper.load(scheduleNode, [
        { id: 'ticker', type: 'schedule', name: 'tick', mode: 'cron', cron: '*/1 * * * * *', timezone: 'Europe/Berlin', payload: '', payloadType: 'date', wires: [['out']] },
        { id: 'fixed', type: 'schedule', name: '', mode: 'cron', cron: '* * * * * *', timezone: '', payload: '{"reset":true}', payloadType: 'json', wires: [['fixed-out']] },
        { id: 'out', type: 'helper' },
        { id: 'fixed-out', type: 'helper' },
      ]);
      const msgs = received('out');
      const json = received('fixed-out');
      await waitFor('a run of each', () => msgs.length >= 1 && json.length >= 1, 2500);
      const m = msgs[0];
      assert.equal(m.payload, m.ts);
      assert.equal(m.ts % 1000, 0);
      assert.ok(Math.abs(Date.now() - m.ts) < 1500);
      assert.deepEqual([m.topic, m.event, m.schedule], ['tick', 'Schedule', { name: 'tick', cron: '*/1 * * * * *', timezone: 'Europe/Berlin' }]);
      assert.deepEqual([json[0].payload, json[0].topic, json[0].schedule.timezone], [{ reset: true }, '* * * * * *', 'UTC']);
      assert.match(lastStatus('ticker')?.text ?? '', /^next \d{4}-\d\d-\d\d \d\d:\d\d:\d\d Europe\/Berlin$/);
    });

    it('shows a red FF_INVALID_CRON status for an invalid expression or timezone, reports it and never runs', async () => {
      await helper.load(scheduleNode, [
        { id: 'expr', type: 'schedule', mode: 'cron', cron: '61 * * * *', timezone: 'UTC', payload: '', payloadType: 'date', wires: [['out']] },
        { id: 'zone', type: 'schedule', mode: 'cron', cron: '* * * * * *', timezone: 'Mars/Olympus_Mons', payload: '', payloadType: 'date', wires: [['out']] },
        { id: 'out', type: 'helper' },
      ]);
      const msgs = received('out');
      for (const id of ['expr', 'zone']) {
        assert.deepEqual(lastStatus(id), { fill: 'red', shape: 'ring', text: 'FF_INVALID_CRON' });
        assert.equal(calls(id, 'error').length, 1);
      }
      assert.match(String(calls('zone', 'error')[0][0]), /"Mars\/Olympus_Mons" is not an IANA timezone/);
      await sleep(1200);
      assert.equal(msgs.length, 0);
    });

    it('emits each run of the stored schedule it names, with that schedule and its payload', async () => {
      const nightly = await platform.schedules.create({ name: 'nightly', cron: '* * * * * *', payload: { report: 'daily' } });
      await platform.schedules.create({ name: 'other', cron: '* * * * * *' });
      await helper.load(scheduleNode, [
        { id: 's', type: 'schedule', mode: 'stored', scheduleName: 'nightly', wires: [['out']] },
        { id: 'out', type: 'helper' },
      ]);
      const msgs = received('out');
      await waitFor('a run', () => msgs.length >= 1, 2500);
      await sleep(1100);
      assert.ok(msgs.every((m) => m.topic === 'nightly'));
      assert.deepEqual([msgs[0].payload, msgs[0].event, msgs[0].schedule], [{ report: 'daily' }, 'Schedule', { id: nightly.id, name: 'nightly', cron: '* * * * * *', timezone: 'UTC' }]);
    });
  });
});
