import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CommandRateLimiter } from '../../agent/ops/command-rate-limiter.js';

describe('command rate limiter', () => {
  it('a burst, then one per refill period, per command', () => {
    const l = new CommandRateLimiter({ mode: { burst: 2, refillS: 10 } }, { burst: 1, refillS: 1 });
    assert.deepEqual(l.take('mode', 0), { ok: true });
    assert.deepEqual(l.take('mode', 0), { ok: true });
    assert.deepEqual(l.take('mode', 1), { ok: false, retryInS: 9 });
    assert.deepEqual(l.take('preset', 1), { ok: true }, 'another command has its own bucket (the fallback rate)');
    assert.equal(l.take('preset', 1.5).ok, false);
    assert.deepEqual(l.take('mode', 10), { ok: true }, 'one token back after refillS');
    assert.equal(l.take('mode', 10).ok, false);
    assert.deepEqual(l.take('mode', 100), { ok: true });
    assert.deepEqual(l.take('mode', 100), { ok: true }, 'refill caps at the burst');
    assert.equal(l.take('mode', 100).ok, false);
  });
});
