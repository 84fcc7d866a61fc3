/**
 * HaPublisher with a hand-driven bus (what it publishes when), and on a real broker (retained
 * document, republish on Home Assistant's birth message, removal; `anchiale ha remove`).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../agent/log.js';
import { HaPublisher } from '../../agent/runtime/ha-publisher.js';
import { agentServices } from '../../agent/runtime/agent-services.js';
import { buildHaDiscovery } from '../../agent/ops/ha-discovery.js';
import { haRemove, haShow } from '../../agent/cli/ha-command.js';
import { FakeBus } from '../fakes/fake-bus.js';
import { startTestAgent, uniqueBase, type TestAgent } from './agent-harness.js';
import { connectProbe, type Probe } from '../helpers/mqtt-probe.js';
import { waitFor } from '../helpers/wait.js';

const BROKER = 'mqtt://127.0.0.1:1883';
const payload = () =>
  buildHaDiscovery({
    nodeId: 'h1', nodeName: null, baseTopic: 'b', agentVersion: '0', gpuName: null,
    minSetpointC: 5, maxSetpointC: 30, minPowerCapW: 100, maxPowerCapW: 300,
  });
const msg = (topic: string, text: string, retain = false) => ({ topic, payload: Buffer.from(text), retain, qos: 1 as const });

describe('HaPublisher (hand-driven bus)', () => {
  it('publishes retained on connect and on a live HA birth only; stays quiet after a removal until publish()', async () => {
    const bus = new FakeBus();
    bus.autoAck = true;
    const ha = new HaPublisher({ bus, log: silentLogger(), prefix: 'homeassistant', nodeId: 'h1', payload });
    await ha.start();
    assert.ok(bus.subscriptions.has('homeassistant/status'));
    assert.equal(bus.published.length, 0, 'not connected yet');
    const tick = () => new Promise((r) => setImmediate(r));

    bus.connect();
    await tick();
    const steps: Array<[string, () => void, number]> = [
      ['retained online at subscribe time (covered by the connect)', () => bus.deliver(msg('homeassistant/status', 'online', true)), 0],
      ['HA last will', () => bus.deliver(msg('homeassistant/status', 'offline')), 0],
      ['HA birth', () => bus.deliver(msg('homeassistant/status', 'online')), 1],
      ['another topic', () => bus.deliver(msg('homeassistant/other', 'online')), 0],
    ];
    assert.equal(bus.published.length, 1);
    assert.equal(bus.published[0]?.topic, 'homeassistant/device/anchiale_h1/config');
    assert.deepEqual(bus.published[0]?.opts, { qos: 1, retain: true });
    assert.deepEqual(JSON.parse(bus.published[0]?.payload ?? ''), payload());
    for (const [what, act, more] of steps) {
      const n0: number = bus.published.length;
      act();
      await tick();
      assert.equal(bus.published.length - n0, more, what);
    }
    assert.equal(ha.stats().birthRepublishes, 1);

    await ha.removeDiscovery();
    assert.equal(bus.published.at(-1)?.payload, '');
    assert.deepEqual(bus.published.at(-1)?.opts, { qos: 1, retain: true });
    const n = bus.published.length;
    bus.deliver(msg('homeassistant/status', 'online'));
    bus.disconnect();
    bus.connect();
    await tick();
    assert.equal(bus.published.length, n, 'removed: no republish');
    assert.equal(ha.stats().removed, true);
    assert.equal(await ha.publish(), true);
    assert.equal(bus.published.length, n + 1);
    assert.equal(ha.stats().removed, false);

    await ha.stop();
    assert.ok(!bus.subscriptions.has('homeassistant/status'));
    bus.deliver(msg('homeassistant/status', 'online'));
    bus.connect();
    await tick();
    assert.equal(bus.published.length, n + 1, 'stopped: no handlers left');
  });

  it('a refused publish (ACL) is reported, not thrown', async () => {
    const bus = new FakeBus();
    const ha = new HaPublisher({ bus, log: silentLogger(), prefix: 'homeassistant', nodeId: 'h1', payload });
    const p = ha.publish();
    bus.published[0]?.fail('mqtt_publish_refused');
    assert.equal(await p, false);
    assert.equal(ha.stats().published, 0);
  });
});

describe('Home Assistant discovery on a real broker', () => {
  let agent: TestAgent;
  let probe: Probe;
  const prefix = `ha-test-${process.pid}-${Date.now().toString(36)}`;
  const topic = `${prefix}/device/anchiale_h1/config`;

  before(async () => {
    probe = await connectProbe(BROKER);
    await probe.subscribe(`${prefix}/#`);
    agent = await startTestAgent({ url: BROKER, config: { mqtt: { discovery: { enabled: true, prefix } } } });
  });
  after(async () => {
    // Leave nothing retained behind.
    await probe.publish(topic, '', { retain: true }).catch(() => undefined);
    await probe.end();
    await agent.cleanup();
  });

  it('publishes the device retained at connect, wired to the agent\'s own topics', async () => {
    const m = await probe.next(topic, (x) => x.text.length > 0);
    const doc = JSON.parse(m.text) as ReturnType<typeof buildHaDiscovery>;
    assert.equal(doc.avty_t, `${agent.base}/h1/status`);
    assert.equal(doc.cmps['climate']?.['mode_cmd_t'], `${agent.base}/h1/set/mode`);
    // The site ceiling bounds the power cap.
    assert.ok(Number(doc.cmps['power_cap']?.['max']) <= agent.config.heater.max_power_w);
    // Retained: a newcomer gets it.
    const late = await connectProbe(BROKER);
    try {
      await late.subscribe(topic);
      const r = await late.next(topic);
      assert.equal(r.retain, true);
      assert.deepEqual(JSON.parse(r.text), doc);
    } finally {
      await late.end();
    }
  });

  it('republishes when Home Assistant sends its birth message, and HA can drive the climate through it', async () => {
    const ha = agentServices(agent.agent)?.ha;
    assert.ok(ha);
    const births = ha.stats().birthRepublishes;
    await probe.publish(`${prefix}/status`, 'online');
    const m = await probe.next(topic, (x) => x.text.length > 0 && !x.retain);
    assert.ok(JSON.parse(m.text).cmps.climate);
    assert.equal(ha.stats().birthRepublishes, births + 1);
    // What HA would send on the climate's mode command topic changes the agent's mode.
    const doc = JSON.parse(m.text) as ReturnType<typeof buildHaDiscovery>;
    await probe.publish(String(doc.cmps['climate']?.['mode_cmd_t']), 'heat');
    await waitFor(() => agent.agent.operatorState.mode === 'heat', { what: 'mode heat' });
  });

  it('removeDiscovery(): empty retained payload, nothing retained afterwards, no republish on HA birth', async () => {
    const ha = agentServices(agent.agent)?.ha;
    assert.ok(ha);
    await ha.removeDiscovery();
    const m = await probe.next(topic, (x) => x.text === '');
    assert.equal(m.payload.length, 0);
    const count = probe.received(topic).length;
    await probe.publish(`${prefix}/status`, 'online');
    // A republish would follow within a broker round trip.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(probe.received(topic).length, count, 'no republish after removal');
    const late = await connectProbe(BROKER);
    try {
      await late.subscribe(topic);
      await assert.rejects(late.next(topic, undefined, 400), /no message/);
    } finally {
      await late.end();
    }
  });
});

describe('anchiale ha remove / show', () => {
  it('removes the device with the heater\'s credentials, without touching its presence; show prints the document', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'anchiale-ha-cli-'));
    const base = uniqueBase();
    const prefix = `ha-cli-${process.pid}-${Date.now().toString(36)}`;
    const probe = await connectProbe(BROKER);
    try {
      const cfg = join(dir, 'agent.yaml');
      await writeFile(
        cfg,
        [
          'version: 1',
          'node: {id: h9}',
          `mqtt: {url: "${BROKER}", base_topic: "${base}", discovery: {enabled: false, prefix: "${prefix}"}}`,
          'inputs: {room_temperature: {topic: room/t}}',
          'heater: {backend: sim, max_power_w: 250, min_power_w: 120}',
          '',
        ].join('\n'),
      );
      const topic = `${prefix}/device/anchiale_h9/config`;
      await probe.publish(topic, '{"dev":{}}', { retain: true });
      await probe.subscribe(`${prefix}/#`);
      await probe.subscribe(`${base}/#`);
      await probe.next(topic, (m) => m.retain);
      const out: string[] = [];
      const err: string[] = [];
      const io = { stdout: (t: string) => void out.push(t), stderr: (t: string) => void err.push(t), env: {} };
      assert.equal(await haRemove(cfg, io), 0, err.join(''));
      assert.match(out.join(''), new RegExp(`removed .*${topic}`));
      assert.equal((await probe.next(topic, (m) => !m.retain)).text, '');
      assert.equal(probe.received(`${base}/#`).length, 0, 'no status/online/offline of the heater');

      out.length = 0;
      assert.equal(await haShow(cfg, io), 0);
      const text = out.join('');
      assert.match(text, new RegExp(`^# ${topic} \\(retained\\)`));
      const doc = JSON.parse(text.slice(text.indexOf('\n') + 1)) as ReturnType<typeof buildHaDiscovery>;
      assert.equal(doc.cmps['power_cap']?.['min'], 120);
      assert.equal(doc.cmps['power_cap']?.['max'], 250);

      // No broker there: exit 1 with the code.
      await writeFile(cfg, (await readFile(cfg, 'utf8')).replace(BROKER, 'mqtt://127.0.0.1:9'));
      err.length = 0;
      assert.equal(await haRemove(cfg, io), 1);
      assert.match(err.join(''), /mqtt_unreachable/);
      // A broken config: 78.
      await writeFile(cfg, 'version: 1\nnode: {id: "H 9"}\n');
      assert.equal(await haRemove(cfg, io), 78);
    } finally {
      await probe.end();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
