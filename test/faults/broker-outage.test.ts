/**
 * Fault: the broker goes away (as this heater sees it: a proxy cuts its connection while the
 * observer stays connected), and comes back. Kept: the decision until the room value goes stale,
 * the energy counter (counts on, published after the reconnect), the events raised meanwhile —
 * queued in memory, bounded (200, oldest non-critical dropped first, the count reported) and
 * published in order, with their own times, after the reconnect. Reported: `offline` by the last
 * will at once, `online` again after.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EVENT_QUEUE_MAX } from '../../agent/runtime/event-queue.js';
import { connectProbe, type ProbeMessage } from '../helpers/mqtt-probe.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { uniqueBase } from '../runtime/agent-harness.js';
import { BROKER, clearRetained, json, since, sleep, startFaultAgent, trv } from './fault-kit.js';

describe('fault: broker outage', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it('events wait (bounded) and follow in order after the reconnect; energy goes on', async () => {
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: 1883 });
    cleanups.push(() => proxy.close());
    const probe = await connectProbe(BROKER);
    cleanups.push(() => probe.end());
    const base = uniqueBase();
    const node = `${base}/h1`;
    await probe.subscribe(`${base}/#`);
    const a = await startFaultAgent({
      base,
      url: proxy.url,
      config: { mqtt: { reconnect: { min_s: 0.2, max_s: 0.5 } }, inputs: { room_temperature: { max_age_s: 2 } } },
    });
    cleanups.push(async () => {
      await a.cleanup();
      await clearRetained(probe, node);
    });
    const status = (text: string, ref?: ProbeMessage) => probe.next(`${node}/status`, (m) => m.text === text && (!ref || since(probe, ref)(m)), 8000);
    const online = await status('online');

    await probe.publish(a.roomTopic, trv(18));
    const heating = await probe.next(`${node}/state`, (m) => json(m).action === 'heating', 5000);
    const energyBefore = a.agent.energy.energyKwh;

    // Outage 1: the decision stands until the room value is stale; the events raised are kept.
    const cutAt = Date.now();
    proxy.cut();
    const will = await status('offline', online);
    assert.equal(will.retain, false, 'the last will, published live by the broker');
    await sleep(300);
    assert.equal(a.agent.decision?.action, 'heating', 'the decision stands while the value is fresh');
    await waitFor(() => a.agent.decision?.safeMode === true, { what: 'safe mode once the room value is stale', timeoutMs: 5000 });
    await waitFor(() => a.agent.eventQueueStats().queued >= 2, { what: 'events queued while offline' });
    const queued = a.agent.eventQueueStats().queued;
    assert.ok(a.agent.energy.energyKwh > energyBefore, 'energy counted through the outage');
    proxy.restore();
    const back = await status('online', will);
    const stale = await probe.next(`${node}/event`, since(probe, back, (m) => json(m).type === 'input_stale'), 8000);
    const ts = Date.parse(json(stale).ts as string);
    assert.ok(ts > cutAt && probe.messages.indexOf(stale) > probe.messages.indexOf(back), 'raised during the outage, published after the reconnect');
    const safe = await probe.next(`${node}/event`, since(probe, back, (m) => json(m).type === 'safe_mode_entered'), 3000);
    assert.ok(probe.messages.indexOf(safe) > probe.messages.indexOf(stale), 'in order');
    const s = await probe.next(`${node}/state`, since(probe, back, (m) => json(m).safe_mode === true), 5000);
    assert.ok((json(s).energy_kwh as number) >= (json(heating).energy_kwh as number), 'energy reported after the reconnect, not lower');
    assert.equal(a.agent.eventQueueStats().queued, 0);
    assert.ok(a.agent.eventQueueStats().flushed >= queued);

    // Outage 2: more events than the queue holds — the oldest non-critical ones go, the count is reported.
    assert.equal(a.agent.eventQueueStats().queued, 0);
    proxy.cut();
    const will2 = await status('offline', back);
    // The agent may see its socket close a moment after the broker does: wait until an event queues.
    await waitFor(
      () => {
        if (a.agent.eventQueueStats().queued === 0) a.agent.emitEvent('fault_marker', 'error', {});
        return a.agent.eventQueueStats().queued === 1;
      },
      { what: 'the agent offline (an event queued)' },
    );
    const critical = 5;
    const info = EVENT_QUEUE_MAX + 45;
    for (let i = 0; i < critical; i++) a.agent.emitEvent(`fault_critical_${i}`, 'error', { i });
    for (let i = 0; i < info; i++) a.agent.emitEvent(`fault_info_${i}`, 'info', { i });
    assert.equal(a.agent.eventQueueStats().queued, EVENT_QUEUE_MAX, 'bounded');
    const expectDropped = 1 + critical + info - EVENT_QUEUE_MAX; // the marker is critical too: only info events go
    proxy.restore();
    const dropped = await probe.next(`${node}/event`, since(probe, will2, (m) => json(m).type === 'events_dropped'), 8000);
    assert.equal(json(dropped).count, expectDropped);
    await waitFor(() => probe.received(`${node}/event`).filter((m) => /^fault_(info|critical)_/.test(String(json(m).type))).length >= EVENT_QUEUE_MAX - 1, {
      what: `${EVENT_QUEUE_MAX} queued events published`,
      timeoutMs: 8000,
    });
    const got = probe.received(`${node}/event`).map(json).filter((e) => /^fault_(info|critical)_/.test(String(e.type)));
    assert.equal(got.length, EVENT_QUEUE_MAX - 1);
    assert.deepEqual(got.filter((e) => e.severity === 'error').map((e) => e.i), [0, 1, 2, 3, 4], 'critical events are kept');
    const infos = got.filter((e) => e.severity === 'info').map((e) => e.i as number);
    assert.equal(infos[0], expectDropped, 'the oldest non-critical ones were dropped');
    assert.deepEqual(infos, [...infos].sort((x, y) => x - y), 'in order');
    assert.ok(probe.messages.indexOf(dropped) < probe.messages.indexOf(probe.received(`${node}/event`).find((m) => json(m).type === 'fault_critical_0')!), 'the drop count comes first');
  });
});

