import assert from 'node:assert/strict';
import { loadSettings } from '../../settings';

describe('settings', () => {
  it('reads FIELDFLOW_TRUST_PROXY as Express trust-proxy values: off by default, true, a hop count or a list of proxies', () => {
    const trust = (value?: string) => loadSettings(value === undefined ? {} : { FIELDFLOW_TRUST_PROXY: value }).trustProxy;
    assert.equal(trust(), false);
    assert.equal(trust('false'), false);
    assert.equal(trust('true'), true);
    assert.equal(trust('2'), 2);
    assert.equal(trust('loopback'), 'loopback');
    assert.equal(trust(' 10.0.0.0/8, loopback ,fd00::/8,192.168.1.10, 172.16.0.0/255.240.0.0'), '10.0.0.0/8,loopback,fd00::/8,192.168.1.10,172.16.0.0/255.240.0.0');
  });

  it('refuses a FIELDFLOW_TRUST_PROXY that Express would not understand, naming the variable', () => {
    for (const value of ['yes please', '10.0.0.0/33', 'proxy.example.com', '::1/200', '10.0.0.1,', '-1']) {
      assert.throws(() => loadSettings({ FIELDFLOW_TRUST_PROXY: value }), /FIELDFLOW_TRUST_PROXY/, value);
    }
  });

  it('reads FIELDFLOW_NOTIFY_ALLOW_PRIVATE as a list of addresses and subnets, empty by default, and refuses anything else', () => {
    assert.deepEqual(loadSettings({}).platform.notify?.allowPrivate, []);
    assert.deepEqual(loadSettings({ FIELDFLOW_NOTIFY_ALLOW_PRIVATE: '127.0.0.1, 10.0.0.0/8,fd00::/8' }).platform.notify?.allowPrivate, ['127.0.0.1', '10.0.0.0/8', 'fd00::/8']);
    for (const value of ['localhost', '10.0.0.0/33', '10.0.0.0/8,', 'all']) {
      assert.throws(() => loadSettings({ FIELDFLOW_NOTIFY_ALLOW_PRIVATE: value }), /FIELDFLOW_NOTIFY_ALLOW_PRIVATE/, value);
    }
  });

  it('leaves fsync off unless FIELDFLOW_FSYNC=batch, and refuses other values naming the variable', () => {
    assert.equal(loadSettings({}).platform.store?.fsync, 'off');
    assert.equal(loadSettings({ FIELDFLOW_FSYNC: 'batch' }).platform.store?.fsync, 'batch');
    assert.throws(() => loadSettings({ FIELDFLOW_FSYNC: 'always' }), /FIELDFLOW_FSYNC must be one of off, batch; got "always"/);
  });
});
