import assert from 'node:assert/strict';
import { PersistentSessions } from '../../../runtime/broker/sessions';

describe('persistent MQTT sessions', () => {
  it('exist from a connection with clean session 0 until one with clean session 1', () => {
    const s = new PersistentSessions();
    assert.equal(s.has('d', 'd'), false);
    s.connected('d', 'd', false);
    assert.equal(s.has('d', 'd'), true);
    assert.equal(s.has('d', 'd:gw'), false);
    assert.equal(s.has('e', 'd'), false);
    s.connected('d', 'd', true);
    assert.equal(s.has('d', 'd'), false);
  });

  it('keep at most 100 per device, forgetting the least recently connected', () => {
    const s = new PersistentSessions();
    for (let i = 0; i < 100; i++) s.connected('d', `d:${i}`, false);
    s.connected('d', 'd:0', false);
    s.connected('d', 'd:new', false);
    assert.equal(s.has('d', 'd:0'), true, 'reconnected, so not the least recent');
    assert.equal(s.has('d', 'd:1'), false);
    assert.equal(s.has('d', 'd:new'), true);
    s.connected('other', 'other', false);
    assert.equal(s.has('other', 'other'), true);
  });

  it("forget a deleted device's sessions and no one else's", () => {
    const s = new PersistentSessions();
    s.connected('d', 'd', false);
    s.connected('d', 'd:gw', false);
    s.connected('e', 'e', false);
    s.forget('d');
    assert.deepEqual([s.has('d', 'd'), s.has('d', 'd:gw'), s.has('e', 'e')], [false, false, true]);
  });
});
