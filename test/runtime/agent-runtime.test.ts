import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectProbe, type Probe } from '../helpers/mqtt-probe.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/wait.js';
import { startTestAgent, uniqueBase, type TestAgent } from './agent-harness.js';

const BROKER = 'mqtt://127.0.0.1:1883';
const json = (p: { text: string }) => JSON.parse(p.text) as Record<string, unknown>;
const trv = (t: number, sp = 21) =>
  JSON.stringify({ local_temperature: t, occupied_heating_setpoint: sp, battery: 87, linkquality: 120, last_seen: new Date().toISOString() });

describe('agent runtime on a real broker', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  async function setup(config: Record<string, unknown> = {}, extra: { stateDir?: string; base?: string } = {}): Promise<{ a: TestAgent; probe: Probe }> {
    const probe = await connectProbe(BROKER);
    const base = extra.base ?? uniqueBase();
    await probe.subscribe(`${base}/#`);
    const a = await startTestAgent({ url: BROKER, base, config, stateDir: extra.stateDir });
    cleanups.push(async () => {
      await a.cleanup();
      // leave nothing retained on the shared broker
      for (const t of ['status', 'state', 'info']) await probe.publish(`${base}/h1/${t}`, '', { retain: true, qos: 1 });
      await probe.end();
    });
    return { a, probe };
  }

  it('reads a Zigbee2MQTT thermostat and publishes retained status, info and a complete state', async () => {
    const { a, probe } = await setup();
    await probe.publish(a.roomTopic, trv(19.5, 21.5));
    const state = await probe.next(`${a.base}/h1/state`, (m) => json(m).room_temp_c === 19.5 && json(m).phase === 'heating', 5000);
    const s = json(state);
    assert.equal(state.retain, false, 'live delivery to a subscriber');
    assert.equal(s.setpoint_c, 21.5);
    assert.equal(s.setpoint_source, 'input');
    assert.equal(s.action, 'heating');
    assert.ok((s.demand as number) > 0);
    for (const key of ['ts', 'mode', 'preset', 'phase', 'action', 'room_temp_c', 'setpoint_c', 'setpoint_source', 'outdoor_temp_c', 'demand', 'power_limit_w', 'gpu', 'wall_power_w', 'heat_w', 'energy_kwh', 'llm', 'inputs_stale', 'reasons', 'safe_mode']) {
      assert.ok(key in s, `state has ${key}`);
    }
    assert.deepEqual(Object.keys(s.gpu as object).sort(), ['mem_used_mib', 'power_w', 'pstate', 'temp_c', 'util_pct']);
    // A late subscriber gets the retained documents.
    const late = await connectProbe(BROKER);
    await late.subscribe(`${a.base}/h1/+`);
    assert.equal((await late.next(`${a.base}/h1/status`)).text, 'online');
    const info = json(await late.next(`${a.base}/h1/info`));
    assert.equal(info.node_id, 'h1');
    assert.equal((info.gpu as { max_limit_w: number }).max_limit_w, 350);
    assert.match(String(info.config_hash), /^[0-9a-f]{12}$/);
    const retained = await late.next(`${a.base}/h1/state`);
    assert.equal(retained.retain, true);
    await late.end();
  });

  it('stale room temperature → safe mode and no heat → restored when it comes back', async () => {
    const { a, probe } = await setup({ inputs: { room_temperature: { max_age_s: 1 } } });
    await probe.publish(a.roomTopic, trv(19));
    await probe.next(`${a.base}/h1/state`, (m) => json(m).phase === 'heating', 5000);
    const safe = await probe.next(`${a.base}/h1/state`, (m) => json(m).phase === 'safe' && (json(m).inputs_stale as string[]).length === 1, 5000);
    assert.deepEqual(json(safe).inputs_stale, ['room_temperature'], 'the setpoint input has no max age: it stays fresh');
    assert.equal(json(safe).action, 'idle');
    assert.equal(json(safe).safe_mode, true);
    assert.ok((json(safe).reasons as string[]).includes('input_stale'));
    const stale = await probe.next(`${a.base}/h1/event`, (m) => json(m).type === 'input_stale');
    assert.equal(json(stale).input, 'room_temperature');
    await probe.next(`${a.base}/h1/event`, (m) => json(m).type === 'safe_mode_entered');
    await probe.publish(a.roomTopic, trv(19));
    await probe.next(`${a.base}/h1/event`, (m) => json(m).type === 'input_restored', 5000);
    const back = await probe.next(`${a.base}/h1/state`, (m) => json(m).safe_mode === false, 5000);
    assert.deepEqual(json(back).inputs_stale, []);
  });

  it('malformed and oversized payloads on every subscribed topic are rejected with a reason; the agent keeps running', async () => {
    const { a, probe } = await setup();
    await probe.publish(a.roomTopic, trv(19));
    await probe.next(`${a.base}/h1/state`, (m) => json(m).room_temp_c === 19, 5000);
    const bad: Array<[string, string | Buffer]> = [
      [a.roomTopic, '{"local_temperature": '],
      [a.roomTopic, '{"local_temperature": "warm"}'],
      [a.roomTopic, '{"local_temperature": 500}'],
      [a.roomTopic, Buffer.alloc(300 * 1024, 0x41)],
      [a.roomTopic, Buffer.from([0xff, 0xfe, 0x00, 0x7b])],
      [`${a.base}/h1/set/mode`, 'banana'],
      [`${a.base}/h1/set/setpoint`, '99'],
      [`${a.base}/h1/set/setpoint`, 'NaN'],
      [`${a.base}/h1/set/power_cap`, '-5'],
      [`${a.base}/h1/set/unknown`, '1'],
      [`${a.base}/h1/set/preset`, Buffer.alloc(10 * 1024, 0x7b)],
      [`${a.base}/h1/info`, 'not json at all'],
      [`${a.base}/h1/status`, '{"x":'],
    ];
    for (const [topic, payload] of bad) await probe.publish(topic, payload);
    const seen = () => JSON.stringify(probe.received(`${a.base}/h1/event`).map((m) => json(m).type));
    const rejected = await waitFor(() => {
      const ev = probe.received(`${a.base}/h1/event`).map(json);
      return ev.filter((e) => e.type === 'input_rejected' || e.type === 'input_implausible').length >= 3 && ev.filter((e) => e.type === 'command_rejected').length >= 5 ? ev : null;
    }, { timeoutMs: 5000, what: 'rejection events' }).catch((err: Error) => {
      throw new Error(`${err.message}; events seen: ${seen()}`);
    });
    const cmd = rejected.filter((e) => e.type === 'command_rejected');
    assert.ok(cmd.some((e) => /mode must be one of off\|heat\|auto/.test(String(e.reason))));
    assert.ok(cmd.some((e) => /setpoint 99 is outside \[5, 30\]/.test(String(e.reason))));
    assert.ok(cmd.some((e) => /unknown set topic/.test(String(e.reason))));
    const inputs = rejected.filter((e) => e.type !== 'command_rejected' && e.input === 'room_temperature');
    assert.ok(inputs.some((e) => e.code === 'not_json'));
    assert.ok(inputs.some((e) => e.code === 'implausible'));
    // Still alive, still deciding, and the last good value was kept.
    await probe.publish(a.roomTopic, trv(18.2));
    const s = await probe.next(`${a.base}/h1/state`, (m) => json(m).room_temp_c === 18.2, 5000);
    assert.equal(json(s).mode, 'auto');
  });

  it('set topics (retained ones included) change the operator state, which survives a restart', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'anchiale-state-'));
    cleanups.push(() => rm(stateDir, { recursive: true, force: true }));
    const base = uniqueBase();
    const { a, probe } = await setup({}, { stateDir, base });
    await probe.publish(a.roomTopic, trv(19));
    await probe.publish(`${a.base}/h1/set/mode`, 'heat', { retain: true, qos: 1 });
    await probe.next(`${a.base}/h1/state`, (m) => json(m).mode === 'heat', 5000);
    await probe.publish(`${a.base}/h1/set/setpoint`, '22.5', { qos: 1 });
    await probe.publish(`${a.base}/h1/set/power_cap`, '200', { qos: 1 });
    const s = await probe
      .next(`${a.base}/h1/state`, (m) => json(m).setpoint_c === 22.5 && (json(m).reasons as string[]).includes('power_capped'), 5000)
      .catch((err: Error) => {
        throw new Error(`${err.message}\nevents: ${probe.received(`${a.base}/h1/event`).map((m) => m.text).join('\n')}\noperator: ${JSON.stringify(a.agent.operatorState)}`);
      });
    assert.equal(json(s).setpoint_source, 'manual');
    assert.ok((json(s).reasons as string[]).includes('power_capped'));
    assert.equal(json(s).power_cap_w, 200, 'the state shows the cap (Home Assistant reads it back)');
    await probe.next(`${a.base}/h1/event`, (m) => json(m).type === 'command' && json(m).command === 'mode');
    // A later plain command wins over the standing retained one …
    await probe.publish(`${a.base}/h1/set/mode`, 'off', { qos: 1 });
    await probe.next(`${a.base}/h1/state`, (m) => json(m).mode === 'off', 5000);
    await a.stop();
    const persisted = JSON.parse(await readFile(join(stateDir, 'operator.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(persisted.mode, 'off');
    assert.equal(persisted.manualSetpointC, 22.5);
    // … and after a restart the retained `heat` (already applied) does not silently bring heat back.
    const b = await startTestAgent({ url: BROKER, base, stateDir });
    cleanups.push(() => b.cleanup());
    await probe.publish(b.roomTopic, trv(19));
    const after = await probe.next(`${base}/h1/state`, (m) => json(m).room_temp_c === 19 && m.text.includes('"mode":"off"'), 5000).catch(async (err: Error) => {
      throw new Error(`${err.message}\npersisted before: ${JSON.stringify(persisted)}\nnow: ${await readFile(join(stateDir, 'operator.json'), 'utf8')}\nevents: ${probe.received(`${base}/h1/event`).filter((m) => m.text.includes('command')).map((m) => m.text).join('\n')}`);
    });
    assert.equal(json(after).action, 'off');
    assert.equal(b.agent.operatorState.powerCapW, 200);
    await probe.publish(`${base}/h1/set/mode`, '', { retain: true, qos: 1 });
  });

  it('a clean stop publishes offline and restores the safe power limit', async () => {
    const { a, probe } = await setup({ heater: { limit_min_interval_s: 0.5 } });
    await probe.publish(a.roomTopic, trv(17));
    await probe.next(`${a.base}/h1/state`, (m) => json(m).phase === 'heating' && json(m).power_limit_w === 300, 5000);
    await a.stop();
    await probe.next(`${a.base}/h1/status`, (m) => m.text === 'offline', 3000);
    assert.equal(a.agent.heaterLimitW(), 100, 'the card is back at its minimum (safe) limit');
  });
});

describe('agent runtime when the broker goes away', () => {
  it('keeps deciding while the broker is down and republishes status, info and state after it returns, without a reconnect storm', async () => {
    const broker = await startMosquitto();
    const a = await startTestAgent({ url: broker.url });
    const probe = await connectProbe(broker.url, { reconnectPeriod: 300 });
    try {
      await probe.subscribe(`${a.base}/#`);
      await probe.publish(a.roomTopic, trv(19));
      await probe.next(`${a.base}/h1/state`, (m) => json(m).phase === 'heating', 5000);
      await broker.kill();
      const before = a.agent.decision!;
      await new Promise((r) => setTimeout(r, 1500));
      assert.notEqual(a.agent.decision, before, 'the loop kept deciding while offline');
      assert.equal(a.agent.decision!.phase, 'heating', 'inputs age as usual; the decision stands until they go stale');
      const attemptsBefore = a.agent.busStats()?.attempts ?? 0;
      probe.messages.length = 0; // only what comes after the restart counts
      await broker.restart();
      await probe.subscribe(`${a.base}/#`);
      await probe.next(`${a.base}/h1/status`, (m) => m.text === 'online', 8000);
      await probe.next(`${a.base}/h1/info`, undefined, 5000);
      const st = await probe.next(`${a.base}/h1/state`, (m) => json(m).room_temp_c === 19, 5000);
      assert.equal(json(st).phase, 'heating');
      const attempts = (a.agent.busStats()?.attempts ?? 0) - attemptsBefore;
      assert.ok(attempts >= 1 && attempts <= 6, `reconnect attempts during a ~2 s outage with backoff: ${attempts}`);
    } finally {
      await a.cleanup();
      await probe.end();
      await broker.stop();
    }
  });
});
