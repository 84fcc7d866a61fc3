import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nodeTopics } from '../../agent/adapters/mqtt/topics.js';
import { silentLogger } from '../../agent/log.js';
import { RequestRouter } from '../../agent/ops/request-router.js';
import type { BusMessage, BusPublishOptions, MessageBus } from '../../agent/ports/bus.js';
import { FakeOpsPort } from '../fakes/ops-port.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers read loosely in assertions
type Loose = any;

interface Sent {
  topic: string;
  body: Loose;
  opts: BusPublishOptions;
}

/** A bus that records publishes and lets the test deliver messages. */
function fakeBus() {
  const handlers: Array<(m: BusMessage) => void> = [];
  const sent: Sent[] = [];
  const subscribed: string[] = [];
  const waiters: Array<() => void> = [];
  const bus: MessageBus = {
    connected: true,
    async publish(topic, payload, opts) {
      sent.push({ topic, body: JSON.parse(String(payload)) as Loose, opts });
      for (const w of waiters.splice(0)) w();
    },
    async subscribe(filter) {
      subscribed.push(filter);
      return { granted: true };
    },
    async unsubscribe() {},
    onMessage(h) {
      handlers.push(h);
      return () => handlers.splice(handlers.indexOf(h), 1);
    },
    onConnect: () => () => undefined,
    onDisconnect: () => () => undefined,
  };
  return {
    bus,
    sent,
    subscribed,
    deliver(topic: string, payload: string, extra: Partial<BusMessage> = {}) {
      for (const h of [...handlers]) h({ topic, payload: Buffer.from(payload), retain: false, qos: 1, ...extra });
    },
    /** Resolves once `n` answers were published. */
    async answers(n: number, timeoutMs = 2000): Promise<Sent[]> {
      const deadline = Date.now() + timeoutMs;
      while (sent.length < n) {
        if (Date.now() > deadline) throw new Error(`expected ${n} answers, got ${sent.length}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 20);
        });
      }
      return sent;
    },
  };
}

function setup(o: { random?: () => number; staggerMaxS?: number } = {}) {
  const b = fakeBus();
  const port = new FakeOpsPort();
  const events: Array<{ type: string; fields: Record<string, unknown> }> = [];
  const topics = nodeTopics('b', 'h1');
  let now = 0;
  const router = new RequestRouter({
    bus: b.bus,
    topics,
    port,
    log: silentLogger(),
    emitEvent: (type, _s, fields) => events.push({ type, fields }),
    monoS: () => now,
    random: o.random ?? (() => 0),
    staggerMaxS: o.staggerMaxS,
  });
  return { ...b, port, events, router, topics, advance: (s: number) => (now += s) };
}

describe('request router (fake bus)', () => {
  it('subscribes to the node and fleet request topics', async () => {
    const s = setup();
    await s.router.start();
    assert.deepEqual(s.subscribed, ['b/h1/request/+', 'b/all/request/+']);
  });

  it('answers with the envelope and audits; retained requests and other topics are ignored', async () => {
    const s = setup();
    await s.router.start();
    s.deliver('b/h1/request/mode', JSON.stringify({ transaction: 'r', mode: 'heat' }), { retain: true });
    s.deliver('b/h2/request/mode', JSON.stringify({ transaction: 'x', mode: 'heat' }));
    s.deliver('b/h1/request/mode', JSON.stringify({ transaction: { id: 7 }, mode: 'off' }));
    const [a] = await s.answers(1);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(s.sent.length, 1, 'only the live request to this node is answered');
    assert.equal(a!.topic, 'b/h1/response/mode');
    assert.deepEqual(a!.body, { transaction: { id: 7 }, status: 'ok', node: 'h1', data: { mode: 'off' } });
    assert.deepEqual(a!.opts, { qos: 1, retain: false });
    assert.deepEqual(s.port.commands, [{ kind: 'mode', mode: 'off' }]);
    assert.deepEqual(s.events, [{ type: 'command', fields: { command: 'mode', args: { mode: 'off' }, outcome: 'ok', source: 'request', fleet: false } }]);
  });

  it('a second request of a command still running is busy', async () => {
    const s = setup();
    let release: () => void = () => undefined;
    s.port.reloadConfig = () => new Promise((resolve) => (release = () => resolve({ ok: true, config_hash: 'h', changed: [], restart_required: [] })));
    await s.router.start();
    s.deliver('b/h1/request/reload_config', JSON.stringify({ transaction: 1 }));
    s.deliver('b/h1/request/reload_config', JSON.stringify({ transaction: 2 }));
    const [busy] = await s.answers(1);
    assert.deepEqual(busy!.body.error, { code: 'busy', message: 'reload_config is already in progress' });
    assert.equal(busy!.body.transaction, 2);
    release();
    const all = await s.answers(2);
    assert.equal(all[1]!.body.status, 'ok');
    assert.equal(all[1]!.body.transaction, 1);
  });

  it('fleet-wide reload_config waits its random delay, then answers; a node request does not wait', async () => {
    const s = setup({ random: () => 0.5, staggerMaxS: 0.4 });
    await s.router.start();
    const t0 = Date.now();
    s.deliver('b/all/request/reload_config', JSON.stringify({ transaction: 'f' }));
    const [a] = await s.answers(1);
    const waited = Date.now() - t0;
    assert.ok(waited >= 190, `waited ${waited} ms for a 200 ms stagger`);
    assert.deepEqual(a!.body.data, { ok: true, config_hash: 'abc', changed: [], restart_required: [], delayed_s: 0.2 });
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(s.events[0]?.fields.fleet, true);
    const t1 = Date.now();
    s.deliver('b/h1/request/reload_config', JSON.stringify({ transaction: 'n' }));
    await s.answers(2);
    assert.ok(Date.now() - t1 < 150, 'no delay for one node');
  });

  it('fleet-wide restart answers at once, restarts after the delay; stop() cancels a pending one', async () => {
    const s = setup({ random: () => 0.5, staggerMaxS: 0.2 });
    await s.router.start();
    s.deliver('b/all/request/restart', JSON.stringify({ transaction: 1 }));
    const [a] = await s.answers(1);
    assert.deepEqual(a!.body.data, { restarting: true, in_s: 0.1 });
    assert.equal(s.port.restarts, 0, 'answered before restarting');
    s.deliver('b/all/request/restart', JSON.stringify({ transaction: 2 }));
    const [, busy] = await s.answers(2);
    assert.equal(busy!.body.error.code, 'busy', 'a restart is already scheduled');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(s.port.restarts, 1);

    const t = setup({ random: () => 0.9, staggerMaxS: 0.2 });
    await t.router.start();
    t.deliver('b/all/request/restart', JSON.stringify({ transaction: 3 }));
    await t.answers(1);
    await t.router.stop();
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(t.port.restarts, 0, 'cancelled by stop');
  });

  it('MQTT 5: answers on a response topic under the reply prefix, with the correlation data; otherwise on the default topic', async () => {
    const s = setup();
    await s.router.start();
    const cd = Buffer.from('c-1');
    s.deliver('b/h1/request/status', '{}', { properties: { responseTopic: 'b/replies/alice/1', correlationData: cd } });
    s.deliver('b/h1/request/status', '{}', { properties: { responseTopic: 'b/h1/state', correlationData: cd } });
    s.deliver('b/h1/request/status', '{}', { properties: { responseTopic: 'b/replies/+/x' } });
    const [a, b, c] = await s.answers(3);
    assert.equal(a!.topic, 'b/replies/alice/1');
    assert.deepEqual(a!.opts.properties, { correlationData: cd });
    assert.equal(b!.topic, 'b/h1/response/status', 'outside the reply prefix: the default topic');
    assert.deepEqual(b!.opts.properties, { correlationData: cd }, 'the correlation data still goes with it');
    assert.equal(c!.topic, 'b/h1/response/status', 'a wildcard: the default topic');
    assert.equal(c!.opts.properties, undefined);
    assert.equal(a!.body.transaction, null, 'no transaction given: null');
  });
});
