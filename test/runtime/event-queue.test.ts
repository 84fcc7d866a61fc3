import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AgentError } from '../../agent/errors.js';
import { silentLogger } from '../../agent/log.js';
import { EventQueue } from '../../agent/runtime/event-queue.js';

function rig(max = 3) {
  const sent: Array<Record<string, unknown>> = [];
  const state = { connected: false, fail: null as null | (() => Error) };
  const q = new EventQueue({
    publish: async (p) => {
      if (state.fail) throw state.fail();
      sent.push(p);
    },
    connected: () => state.connected,
    now: () => Date.parse('2026-01-01T00:00:00Z'),
    log: silentLogger(),
    maxQueued: max,
  });
  const ev = (n: number, severity = 'info') => ({ ts: `t${n}`, type: `e${n}`, severity });
  const flushed = () => new Promise((r) => setImmediate(r));
  return { q, sent, state, ev, flushed };
}

describe('event queue (broker outage)', () => {
  it('connected: an event goes out at once', async () => {
    const { q, sent, state, ev, flushed } = rig();
    state.connected = true;
    q.send(ev(1));
    await flushed();
    assert.deepEqual(sent.map((e) => e.type), ['e1']);
    assert.deepEqual(q.stats(), { queued: 0, dropped: 0, flushed: 0 });
  });

  it('offline: events wait, then go out in order after the reconnect', async () => {
    const { q, sent, state, ev, flushed } = rig();
    q.send(ev(1));
    q.send(ev(2));
    await flushed();
    assert.equal(sent.length, 0);
    assert.equal(q.stats().queued, 2);
    state.connected = true;
    q.flush();
    q.send(ev(3));
    await flushed();
    assert.deepEqual(sent.map((e) => e.type), ['e1', 'e2', 'e3']);
    assert.deepEqual(sent.map((e) => e.ts), ['t1', 't2', 't3'], 'queued events keep their own time');
    assert.deepEqual(q.stats(), { queued: 0, dropped: 0, flushed: 2 });
  });

  it('bounded: the oldest non-critical events are dropped first, and the count is reported first after the reconnect', async () => {
    const { q, sent, state, ev, flushed } = rig(3);
    q.send(ev(1, 'error'));
    q.send(ev(2));
    q.send(ev(3));
    q.send(ev(4)); // drops e2
    q.send(ev(5)); // drops e3
    assert.equal(q.stats().queued, 3);
    assert.equal(q.stats().dropped, 2);
    state.connected = true;
    q.flush();
    await flushed();
    assert.deepEqual(sent.map((e) => e.type), ['events_dropped', 'e1', 'e4', 'e5']);
    assert.equal(sent[0]!.count, 2);
    assert.equal(sent[0]!.first_dropped_ts, 't2');
    assert.equal(sent[0]!.last_dropped_ts, 't3');
    assert.equal(sent[0]!.severity, 'warning');
  });

  it('when every queued event is critical, the oldest goes', async () => {
    const { q, sent, state, ev, flushed } = rig(2);
    for (const n of [1, 2, 3]) q.send(ev(n, 'error'));
    state.connected = true;
    q.flush();
    await flushed();
    assert.deepEqual(sent.map((e) => e.type), ['events_dropped', 'e2', 'e3']);
  });

  it('a publish lost with the connection is queued again; one the broker refuses is not', async () => {
    const { q, sent, state, ev, flushed } = rig();
    state.connected = true;
    state.fail = () => {
      state.connected = false;
      return new AgentError('mqtt_publish_failed', 'connection closed');
    };
    q.send(ev(1));
    await flushed();
    assert.equal(q.stats().queued, 1);
    state.fail = null;
    state.connected = true;
    q.flush();
    await flushed();
    assert.deepEqual(sent.map((e) => e.type), ['e1']);
    state.fail = () => new AgentError('mqtt_publish_refused', 'not authorised');
    q.send(ev(2));
    await flushed();
    assert.equal(q.stats().queued, 0);
  });

  it('stays bounded over a long outage', () => {
    const { q, ev } = rig(200);
    for (let n = 0; n < 10_000; n++) q.send(ev(n, n % 7 === 0 ? 'error' : 'info'));
    assert.equal(q.stats().queued, 200);
    assert.equal(q.stats().dropped, 9_800);
  });
});
