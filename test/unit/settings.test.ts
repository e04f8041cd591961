import assert from 'node:assert/strict';
import { loadSettings } from '../../settings';

describe('settings from the environment', () => {
  it('leaves fsync off unless FIELDFLOW_FSYNC=batch, and refuses other values naming the variable', () => {
    assert.equal(loadSettings({}).platform.store?.fsync, 'off');
    assert.equal(loadSettings({ FIELDFLOW_FSYNC: 'batch' }).platform.store?.fsync, 'batch');
    assert.throws(() => loadSettings({ FIELDFLOW_FSYNC: 'always' }), /FIELDFLOW_FSYNC must be one of off, batch; got "always"/);
  });
});
