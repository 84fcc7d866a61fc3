import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AgentError } from '../../agent/errors.js';
import { silentLogger } from '../../agent/log.js';
import { StorageHealth, classifyStorageError } from '../../agent/runtime/storage-health.js';

const errno = (code: string) => Object.assign(new Error(`${code}: boom`), { code });

describe('storage health', () => {
  it('classifies failed writes as the operator needs them', () => {
    const table: Array<[unknown, string]> = [
      [new AgentError('state_disk_full', 'cannot write', { errno: 'ENOSPC' }), 'state_disk_full'],
      [new AgentError('state_write_failed', 'cannot write', { errno: 'EDQUOT' }), 'state_disk_full'],
      [new AgentError('state_write_failed', 'cannot write', { errno: 'EROFS' }), 'state_dir_unwritable'],
      [new AgentError('state_write_failed', 'cannot write', { errno: 'ENOTDIR' }), 'state_dir_unwritable'],
      [new AgentError('state_dir_unwritable', 'cannot create state directory'), 'state_dir_unwritable'],
      [errno('EACCES'), 'state_dir_unwritable'],
      [errno('ENOSPC'), 'state_disk_full'],
      [new Error('ENOSPC: no space left on device, write'), 'state_disk_full'],
      [new AgentError('state_write_failed', 'cannot write', { errno: 'EIO' }), 'state_write_failed'],
      ['a string', 'state_write_failed'],
      [null, 'state_write_failed'],
    ];
    for (const [err, want] of table) assert.equal(classifyStorageError(err), want, String((err as Error)?.message ?? err));
  });

  it('one event per streak, the reason while it lasts, one event when it ends', () => {
    const events: Array<[string, string, Record<string, unknown>]> = [];
    let now = Date.parse('2026-01-01T00:00:00Z');
    const h = new StorageHealth({ log: silentLogger(), now: () => now, emit: (t, s, f) => events.push([t, s, f]) });
    const snap = { reasons: ['below_setpoint'], x: 1 };
    assert.equal(h.annotate(snap), snap, 'nothing added while writable');
    h.failed('counters.json', new AgentError('state_disk_full', 'no space', { errno: 'ENOSPC' }));
    now += 10_000;
    h.failed('operator.json', new AgentError('state_disk_full', 'no space', { errno: 'ENOSPC' }));
    h.failed('counters.json', new AgentError('state_disk_full', 'no space', { errno: 'ENOSPC' }));
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]!.slice(0, 2), ['state_write_failed', 'error']);
    assert.equal(events[0]![2].code, 'state_disk_full');
    assert.equal(events[0]![2].file, 'counters.json');
    assert.deepEqual(h.annotate(snap).reasons, ['below_setpoint', 'state_disk_full']);
    assert.deepEqual(snap.reasons, ['below_setpoint'], 'the input snapshot is not changed');
    assert.equal(h.status().failures, 3);
    assert.equal(h.failing, true);
    h.succeeded('counters.json');
    h.succeeded('counters.json');
    assert.equal(events.length, 2);
    assert.deepEqual(events[1]!.slice(0, 2), ['state_write_restored', 'info']);
    assert.equal(events[1]![2].failures, 3);
    assert.equal(events[1]![2].since, '2026-01-01T00:00:00.000Z');
    assert.deepEqual(h.annotate(snap).reasons, ['below_setpoint']);
    assert.equal(h.status().ok, true);
    assert.equal(h.status().totalFailures, 3);
    assert.equal(h.status().last?.reason, 'state_disk_full');
    // A new streak raises a new event.
    h.failed('operator.json', errno('EROFS'));
    assert.equal(events.length, 3);
    assert.equal(events[2]![2].code, 'state_dir_unwritable');
  });
});
