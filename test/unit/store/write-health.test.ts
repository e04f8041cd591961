import assert from 'node:assert/strict';
import { createWriteHealth } from '../../../runtime/store/write-health';
import { createLogger } from '../../../runtime/log';
import { storageError } from '../../../runtime/store/data-file';

describe('write health', () => {
  const enospc = () => storageError(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));

  it('warns once per run of failures of a source, counts them, and logs the recovery once', () => {
    const lines: string[] = [];
    const health = createWriteHealth(createLogger('debug', (l) => lines.push(l)));
    assert.deepEqual(health.failing(), []);
    health.ok('messages');
    const start = Date.now();
    for (let i = 0; i < 5; i++) health.failed('messages', enospc());
    const [run] = health.failing();
    assert.equal(run.source, 'messages');
    assert.equal(run.code, 'FF_STORAGE_FULL');
    assert.equal(run.message, 'ENOSPC: no space left on device, write');
    assert.equal(run.count, 5);
    assert.ok(run.since >= start && run.since <= Date.now());
    assert.equal(lines.filter((l) => l.includes('[warn]')).length, 1);
    assert.match(lines[0], /file system of the data directory is full/);

    health.ok('messages');
    health.ok('messages');
    assert.deepEqual(health.failing(), []);
    assert.equal(lines.filter((l) => l.includes('storage writes succeed again')).length, 1);

    health.failed('messages', enospc());
    assert.equal(health.failing()[0].count, 1, 'a new run starts from one');
    assert.equal(lines.filter((l) => l.includes('[warn]')).length, 2);
  });

  it('keeps sources apart, and reports other failures under their own code', () => {
    const health = createWriteHealth(createLogger('silent'));
    health.failed('notify:outbox', enospc());
    health.failed('versioned:trigger_states', Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }));
    health.ok('notify:outbox');
    assert.deepEqual(health.failing().map((f) => [f.source, f.code, f.count]), [['versioned:trigger_states', 'EIO', 1]]);
    // What failing() returns is a copy: changing it changes nothing.
    health.failing()[0].count = 99;
    assert.equal(health.failing()[0].count, 1);
  });
});
