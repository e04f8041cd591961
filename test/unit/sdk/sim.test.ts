import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, UsageError } from '../../../sdk/sim/args';
import { defaultStateFile, stateFolder } from '../../../sdk/sim/paths';
import { PROFILES, profileFor, seededRng } from '../../../sdk/sim/profiles';
import { assignFailures } from '../../../sdk/sim/simulation';

describe('fieldflow-sim options and telemetry', () => {
  it('takes options from flags and the environment, flags winning', () => {
    const o = parseArgs(['--url', 'http://h:8080/', '--count=3', '--labels', 'site=north, tier=canary', '--fail', 'checksum=2,install=1,rollback=1'], {
      FIELDFLOW_ADMIN_PASSWORD: 'secret',
      FIELDFLOW_SIM_COUNT: '9',
      FIELDFLOW_SIM_MODEL: 'pump-v2',
      FIELDFLOW_SIM_INTERVAL: '0.5',
    });
    assert.equal(o.url, 'http://h:8080');
    assert.equal(o.mqttUrl, 'mqtt://h:1883', 'the broker defaults to the server host');
    assert.equal(o.password, 'secret');
    assert.equal(o.count, 3);
    assert.equal(o.model, 'pump-v2');
    assert.equal(o.namePrefix, 'pump-v2-');
    assert.equal(o.intervalSeconds, 0.5);
    assert.deepEqual(o.labels, { site: 'north', tier: 'canary' });
    assert.deepEqual(o.fail, { checksum: 2, install: 1, rollback: 1 });
    assert.equal(o.stateFile, defaultStateFile(new URL('http://h:8080'), { env: {}, platform: process.platform, home: os.homedir() }));
    assert.equal(o.stateFileChosen, false);
    assert.equal(o.dataDir, `${o.stateFile}.d`);
    const chosen = parseArgs(['--state-file', 'sim.json'], {});
    assert.deepEqual([chosen.stateFile, chosen.stateFileChosen, chosen.dataDir], [path.resolve('sim.json'), true, path.resolve('sim.json.d')]);
    assert.equal(o.help, false);
  });

  it('keeps state files per user and per server, never in the current directory', () => {
    const home = '/home/ada';
    const linux = { env: {}, platform: 'linux' as const, home };
    assert.equal(stateFolder(linux), '/home/ada/.local/state/fieldflow/sim');
    assert.equal(stateFolder({ ...linux, env: { XDG_STATE_HOME: '/var/state' } }), '/var/state/fieldflow/sim');
    assert.equal(stateFolder({ ...linux, env: { XDG_STATE_HOME: 'relative' } }), '/home/ada/.local/state/fieldflow/sim', 'the XDG spec ignores a relative path');
    assert.equal(stateFolder({ env: {}, platform: 'darwin', home }), '/home/ada/Library/Application Support/fieldflow/sim');
    assert.equal(stateFolder({ env: { LOCALAPPDATA: 'C:\\Users\\ada\\AppData\\Local' }, platform: 'win32', home }), path.join('C:\\Users\\ada\\AppData\\Local', 'fieldflow', 'sim'));
    assert.equal(defaultStateFile(new URL('http://localhost:1880'), linux), '/home/ada/.local/state/fieldflow/sim/localhost-1880.json');
    assert.equal(defaultStateFile(new URL('https://iot.example.com/ff'), linux), '/home/ada/.local/state/fieldflow/sim/iot.example.com-443_ff.json');
    assert.equal(defaultStateFile(new URL('http://[::1]:8080'), linux), '/home/ada/.local/state/fieldflow/sim/_1_-8080.json');
    const o = parseArgs(['--url', 'http://127.0.0.1:4000'], { XDG_STATE_HOME: '/var/state' });
    if (process.platform === 'linux') assert.equal(o.stateFile, '/var/state/fieldflow/sim/127.0.0.1-4000.json');
  });

  it('refuses unknown options and bad values with a message naming them', () => {
    const bad: Array<[string[], RegExp]> = [
      [['--bogus'], /unknown option --bogus/],
      [['--count', '0'], /--count/],
      [['--count', '2.5'], /--count must be a whole number/],
      [['--interval', 'fast'], /--interval/],
      [['--labels', 'site'], /key=value/],
      [['--fail', 'network=1'], /checksum, install and rollback/],
      [['--fail', 'install=x'], /whole number/],
      [['--profile', 'toaster'], /--profile must be one of/],
      [['--url', 'not a url'], /--url is not a URL/],
      [['--count'], /needs a value/],
    ];
    for (const [argv, message] of bad) assert.throws(() => parseArgs(argv, {}), (err: Error) => err instanceof UsageError && message.test(err.message), argv.join(' '));
  });

  it('hands out the planned failures to devices in order', () => {
    assert.deepEqual(assignFailures(6, { checksum: 2, install: 1, rollback: 1 }), ['checksum', 'checksum', 'install', 'rollback', undefined, undefined]);
    assert.deepEqual(assignFailures(2, { checksum: 0, install: 3, rollback: 0 }), ['install', 'install']);
  });

  it('picks a profile from the model name', () => {
    assert.equal(profileFor(undefined, 'pump-v2').name, 'pump');
    assert.equal(profileFor(undefined, 'gps-tracker').name, 'tracker');
    assert.equal(profileFor(undefined, 'energy-meter').name, 'meter');
    assert.equal(profileFor(undefined, 'anything').name, 'env-sensor');
    assert.equal(profileFor('meter', 'pump').name, 'meter');
  });

  it('produces plausible readings that stay in range over a simulated week, the same for the same seed', () => {
    const ranges: Record<string, Record<string, [number, number]>> = {
      'env-sensor': { temperature: [0, 40], humidity: [5, 100], battery: [0, 100] },
      pump: { rpm: [0, 1700], pressure: [0, 5], flow: [0, 60], motorTemp: [10, 90] },
      tracker: { lat: [-90, 90], lon: [-180, 180], speed: [0, 130], heading: [0, 360], battery: [0, 100] },
      meter: { power: [50, 6000], voltage: [215, 245] },
    };
    for (const profile of PROFILES) {
      const a = profile.create(seededRng('device-1'));
      const b = profile.create(seededRng('device-1'));
      let t = Date.parse('2026-01-05T00:00:00Z');
      let lastEnergy = -1;
      for (let i = 0; i < 7 * 24 * 60; i++) {
        t += 60_000;
        const r = a.next(60, new Date(t));
        assert.deepEqual(b.next(60, new Date(t)), r, `${profile.name} is deterministic`);
        for (const [field, [lo, hi]] of Object.entries(ranges[profile.name])) {
          const v = r[field] as number;
          assert.ok(typeof v === 'number' && v >= lo && v <= hi, `${profile.name}.${field} = ${v} at minute ${i}`);
        }
        if (profile.name === 'meter') {
          assert.ok((r.energy as number) >= lastEnergy, 'energy only grows');
          lastEnergy = r.energy as number;
        }
      }
    }
  });
});
