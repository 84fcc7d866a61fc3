/**
 * The demo devices against a real Mosquitto: what they publish (shape, retain, QoS, timing in
 * simulated time), what they accept, and that the agent's own input mapping reads it.
 * Timers are off (pollMs 0) except in the timer test: tick() is called by the test.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import mqtt, { type MqttClient } from 'mqtt';
import { DemoOutdoorSensor, DemoSmartPlug, DemoThermostat } from '../../agent/sim/demo-devices.js';
import { resolveInputSpec } from '../../agent/adapters/mqtt/input-presets.js';
import { mapInput } from '../../agent/adapters/mqtt/input-mapping.js';
import { AgentError } from '../../agent/errors.js';
import { startMosquitto, type MosquittoHandle } from '../helpers/mosquitto.js';
import { connectProbe, type Probe } from '../helpers/mqtt-probe.js';
import { waitFor } from '../helpers/wait.js';

const T0 = Date.UTC(2026, 0, 5, 7, 0, 0); // a whole minute

let broker: MosquittoHandle;
let shared: MqttClient;
let probe: Probe;
let n = 0;
const name = (base: string) => `${base}${process.pid}x${++n}`;

before(async () => {
  broker = await startMosquitto();
  shared = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
  probe = await connectProbe(broker.url);
  await probe.subscribe('#', 1);
});

after(async () => {
  await probe?.end();
  await shared?.endAsync(true);
  await broker?.stop();
});

/** Messages on `topic` so far, after a round trip through the broker (a marker from the shared client). */
async function settled(topic: string) {
  const marker = name('settle/');
  await shared.publishAsync(marker, 'x', { qos: 1 });
  await probe.next(marker);
  return probe.received(topic);
}

describe('DemoThermostat (Zigbee2MQTT TRV)', () => {
  const make = (extra: Partial<ConstructorParameters<typeof DemoThermostat>[0]> = {}) => {
    const env = { now: T0, temp: 20.44 };
    const setpoints: Array<[number, string]> = [];
    const trv = new DemoThermostat({
      mqtt: { client: shared },
      name: name('room/trv'),
      roomTempC: () => env.temp,
      clock: () => env.now,
      pollMs: 0,
      onSetpoint: (c, source) => setpoints.push([c, source]),
      ...extra,
    });
    return { trv, env, setpoints };
  };

  it('publishes the Zigbee2MQTT payload: 0.1 °C resolution, ISO last_seen, not retained, QoS 0', async () => {
    const { trv } = make();
    await trv.start();
    try {
      const m = await probe.next(trv.topic);
      assert.equal(m.qos, 0);
      const late = await connectProbe(broker.url);
      await late.subscribe(trv.topic);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(late.messages, [], 'not retained');
      await late.end();
      assert.deepEqual(JSON.parse(m.text), {
        battery: 87,
        last_seen: '2026-01-05T07:00:00.000Z',
        linkquality: 120,
        local_temperature: 20.4,
        occupied_heating_setpoint: 21,
      });
      assert.deepEqual(Object.keys(JSON.parse(m.text)), ['battery', 'last_seen', 'linkquality', 'local_temperature', 'occupied_heating_setpoint']);
      // The agent's z2m preset reads it (room temperature, setpoint, last_seen as the source time).
      const room = mapInput({ ...resolveInputSpec('room_temperature', { preset: 'z2m', device: trv.topic.slice('zigbee2mqtt/'.length) }), timestampPath: 'last_seen' }, m.payload);
      assert.deepEqual(room, { ok: true, value: 20.4, sourceTimeMs: T0 });
      const sp = mapInput(resolveInputSpec('setpoint', { preset: 'z2m', device: trv.topic.slice('zigbee2mqtt/'.length) }), m.payload);
      assert.equal(sp.ok && sp.value, 21);
    } finally {
      await trv.stop();
    }
  });

  it('without last_seen when Zigbee2MQTT has it off', async () => {
    const { trv } = make({ lastSeen: false });
    assert.equal('last_seen' in trv.payload(20), false);
  });

  // [step, room temperature, simulated seconds since the last report, published?]
  const timeline: Array<[string, number, number, boolean]> = [
    ['same reading (20.41 → 20.4)', 20.41, 10, false],
    ['a change under 0.1 K after rounding (20.44 → 20.4)', 20.44, 20, false],
    ['0.1 K after rounding (20.46 → 20.5)', 20.46, 25, true],
    ['back within 0.05 K (20.49 → 20.5)', 20.49, 30, false],
    ['59 s without a change', 20.5, 59, false],
    ['60 s without a change', 20.5, 60, true],
    ['a drop of 0.1 K (20.4)', 20.42, 1, true],
    ['a jump of 1 K', 21.42, 1, true],
  ];
  it('reports on a change ≥ 0.1 K of the reported value or every 60 simulated s', async () => {
    const { trv, env } = make();
    await trv.start(); // first report at T0, 20.4
    try {
      let lastReport = env.now;
      let expected = 1;
      for (const [step, temp, sinceS, published] of timeline) {
        env.temp = temp;
        env.now = lastReport + sinceS * 1000;
        await trv.tick();
        if (published) {
          expected += 1;
          lastReport = env.now;
        }
        assert.equal(trv.published, expected, step);
      }
      const msgs = await settled(trv.topic);
      assert.deepEqual(
        msgs.map((m) => JSON.parse(m.text).local_temperature),
        [20.4, 20.5, 20.5, 20.4, 21.4],
      );
    } finally {
      await trv.stop();
    }
  });

  // [topic suffix, payload, setpoint kept (null: ignored)]
  const sets: Array<[string, string, number | null]> = [
    ['/set', '{"occupied_heating_setpoint": 22}', 22],
    ['/set', '{"occupied_heating_setpoint": 22.3}', 22.5],
    ['/set', '{"occupied_heating_setpoint": "19"}', 19],
    ['/set/occupied_heating_setpoint', '18.5', 18.5],
    ['/set', '{"occupied_heating_setpoint": 40}', null],
    ['/set', '{"occupied_heating_setpoint": 4}', null],
    ['/set', '{"system_mode": "heat"}', null],
    ['/set', 'not json', null],
    ['/set/occupied_heating_setpoint', 'warm', null],
  ];
  for (const [suffix, payload, kept] of sets) {
    it(`${suffix} ${payload} → ${kept === null ? 'ignored' : `setpoint ${kept}, reported at once`}`, async () => {
      const { trv, setpoints } = make();
      await trv.start();
      try {
        await probe.next(trv.topic); // the first report
        await shared.publishAsync(`${trv.topic}${suffix}`, payload, { qos: 1 });
        if (kept === null) {
          const msgs = await settled(trv.topic);
          assert.equal(msgs.length, 1, 'nothing more published');
          assert.equal(trv.setpointC, 21);
          assert.deepEqual(setpoints, []);
        } else {
          const m = await probe.next(trv.topic);
          assert.equal(JSON.parse(m.text).occupied_heating_setpoint, kept);
          assert.equal(trv.setpointC, kept);
          assert.deepEqual(setpoints, [[kept, 'mqtt']]);
        }
      } finally {
        await trv.stop();
      }
    });
  }

  it('/get reports now; setSetpoint() (the knob) reports at once', async () => {
    const { trv, setpoints } = make();
    await trv.start();
    try {
      await probe.next(trv.topic);
      await shared.publishAsync(`${trv.topic}/get`, '{"local_temperature": ""}', { qos: 1 });
      await probe.next(trv.topic);
      assert.equal(trv.setSetpoint(23.2), 23);
      assert.equal(JSON.parse((await probe.next(trv.topic)).text).occupied_heating_setpoint, 23);
      assert.equal(trv.setSetpoint(99), null);
      assert.deepEqual(setpoints, [[23, 'local']]);
    } finally {
      await trv.stop();
    }
  });

  it('a stopped device ignores /set', async () => {
    const { trv } = make();
    await trv.start();
    await trv.stop();
    await shared.publishAsync(`${trv.topic}/set`, '{"occupied_heating_setpoint": 25}', { qos: 1 });
    await settled(trv.topic);
    assert.equal(trv.setpointC, 21);
  });

  it('rejects a name with wildcards', () => {
    assert.throws(() => make({ name: 'room/+' }), (err: unknown) => err instanceof AgentError && err.code === 'demo_device_invalid');
  });
});

describe('DemoSmartPlug (Shelly Plus Plug S, Gen2)', () => {
  const make = (extra: Partial<ConstructorParameters<typeof DemoSmartPlug>[0]> = {}) => {
    const env = { now: T0, w: 300 };
    const plug = new DemoSmartPlug({
      mqtt: { url: broker.url, options: { protocolVersion: 5 } },
      prefix: name('shellies/shellyplusplugs-'),
      powerW: () => env.w,
      clock: () => env.now,
      pollMs: 0,
      ...extra,
    });
    return { plug, env };
  };

  it('publishes status/switch:0 like a Gen2 (keys, units, rounding) and online true/false, retained', async () => {
    const { plug } = make();
    const prefix = plug.topic.replace('/status/switch:0', '');
    await plug.start();
    try {
      assert.equal((await probe.next(`${prefix}/online`)).text, 'true');
      const m = await probe.next(plug.topic);
      assert.equal(m.qos, 0);
      const s = JSON.parse(m.text);
      assert.deepEqual(Object.keys(s), ['id', 'source', 'output', 'apower', 'voltage', 'current', 'aenergy', 'temperature']);
      assert.deepEqual(s, {
        id: 0,
        source: 'init',
        output: true,
        apower: 300,
        voltage: 230.4,
        current: 1.302,
        aenergy: { total: 0, by_minute: [0, 0, 0], minute_ts: T0 / 1000 },
        temperature: { tC: 30, tF: 86 },
      });
      // The agent's shelly_gen2 preset reads the wall power from it.
      const spec = resolveInputSpec('wall_power', { preset: 'shelly_gen2', device: prefix });
      assert.deepEqual(mapInput(spec, m.payload), { ok: true, value: 300, sourceTimeMs: null });
      // Retained: online is; the status is not (a later subscriber gets only online).
      const late = await connectProbe(broker.url);
      try {
        await late.subscribe(`${prefix}/#`);
        const retained = await late.next(`${prefix}/online`);
        assert.equal(retained.retain, true);
        await new Promise((r) => setTimeout(r, 50));
        assert.deepEqual(late.messages.map((x) => x.topic), [`${prefix}/online`]);
      } finally {
        await late.end();
      }
    } finally {
      await plug.stop();
    }
    assert.equal((await probe.next(`${prefix}/online`)).text, 'false');
  });

  // [simulated s after T0, power from then on (W), total Wh, by_minute mWh, minute_ts offset s]
  const energy: Array<[number, number, number, [number, number, number], number]> = [
    [30, 300, 2.5, [0, 0, 0], 0],
    [60, 300, 5, [5000, 0, 0], 60],
    [150, 600, 12.5, [5000, 5000, 0], 120],
    [180, 0, 17.5, [7500, 5000, 5000], 180],
    [400, 0, 17.5, [0, 0, 0], 360],
  ];
  it('integrates energy in simulated time: aenergy.total (Wh), by_minute (mWh, newest first), minute_ts', async () => {
    const { plug, env } = make();
    await plug.start(); // samples 300 W at T0
    try {
      for (const [s, w, totalWh, byMinute, minuteTs] of energy) {
        env.now = T0 + s * 1000;
        const st = plug.status();
        assert.ok(Math.abs(st.aenergy.total - totalWh) < 1e-9, `total at ${s} s: ${st.aenergy.total}`);
        assert.deepEqual(st.aenergy.by_minute, byMinute, `by_minute at ${s} s`);
        assert.equal(st.aenergy.minute_ts, T0 / 1000 + minuteTs);
        env.w = w;
        await plug.tick(); // samples the new power, held until the next tick
      }
      assert.equal(plug.totalWh, 17.5);
    } finally {
      await plug.stop();
    }
  });

  // [simulated s since the last notification, power W, notified?]
  const notify: Array<[number, number, boolean]> = [
    [1, 302, false],
    [1, 306, true],
    [4, 306, false],
    [5, 306, true],
    [1, 0, true],
  ];
  it('notifies on a power change ≥ 5 W or every 5 simulated s', async () => {
    const { plug, env } = make();
    await plug.start();
    try {
      let last = env.now;
      let expected = plug.published;
      for (const [since, w, notified] of notify) {
        env.now = last + since * 1000;
        env.w = w;
        await plug.tick();
        if (notified) {
          expected += 1;
          last = env.now;
        }
        assert.equal(plug.published, expected, `${w} W after ${since} s`);
      }
    } finally {
      await plug.stop();
    }
  });

  it('on its own connection, says online again and keeps accepting commands after a broker restart', async () => {
    const own = await startMosquitto();
    const watcher = await connectProbe(own.url, { reconnectPeriod: 100 });
    const env = { now: T0 };
    const plug = new DemoSmartPlug({ mqtt: { url: own.url, options: { reconnectPeriod: 100 } }, prefix: 'shellies/p1', powerW: () => 100, clock: () => env.now, pollMs: 0 });
    const trv = new DemoThermostat({ mqtt: { url: own.url, options: { reconnectPeriod: 100 } }, name: 'r/trv', roomTempC: () => 20, clock: () => env.now, pollMs: 0 });
    try {
      await watcher.subscribe('#');
      await plug.start();
      await trv.start();
      await watcher.next('shellies/p1/online', (m) => m.text === 'true');
      const onlineBefore = watcher.received('shellies/p1/online').length;
      await own.restart();
      await waitFor(() => watcher.client.connected && plug['client']?.connected && trv['client']?.connected, { what: 'reconnected', timeoutMs: 5000 });
      await watcher.subscribe('#'); // persistence is off: subscriptions are gone with the old broker
      await waitFor(async () => {
        await watcher.publish(`${trv.topic}/set`, '{"occupied_heating_setpoint": 24}');
        return trv.setpointC === 24;
      }, { what: 'the TRV subscribed again', timeoutMs: 5000 });
      await waitFor(() => watcher.received('shellies/p1/online').length > onlineBefore, { what: 'online again (retained)', timeoutMs: 5000 });
    } finally {
      await trv.stop();
      await plug.stop();
      await watcher.end();
      await own.stop();
    }
  });

  it('start() fails with a coded error when the broker refuses the connection', async () => {
    const refusing = await startMosquitto({ users: { someone: 'pw' } });
    try {
      const plug = new DemoSmartPlug({ mqtt: { url: refusing.url, options: { protocolVersion: 5 } }, prefix: 'p', powerW: () => 0, clock: () => T0, pollMs: 0 });
      await assert.rejects(plug.start(), (err: unknown) => err instanceof AgentError && err.code === 'demo_device_connect_failed');
    } finally {
      await refusing.stop();
    }
  });
});

describe('DemoOutdoorSensor', () => {
  it('publishes a plain number, retained, on a 0.1 K change or every 300 simulated s', async () => {
    const env = { now: T0, t: 4.52 };
    const sensor = new DemoOutdoorSensor({ mqtt: { client: shared }, topic: name('weather/demo/temp_c'), temperatureC: () => env.t, clock: () => env.now, pollMs: 0 });
    await sensor.start();
    try {
      const m = await probe.next(sensor.topic);
      assert.equal(m.text, '4.5');
      const late = await connectProbe(broker.url);
      try {
        await late.subscribe(sensor.topic);
        assert.equal((await late.next(sensor.topic)).retain, true);
      } finally {
        await late.end();
      }
      const spec = resolveInputSpec('outdoor_temperature', { topic: sensor.topic });
      assert.deepEqual(mapInput(spec, m.payload), { ok: true, value: 4.5, sourceTimeMs: null });
      env.t = 4.54;
      env.now += 299_000;
      await sensor.tick();
      assert.equal(sensor.published, 1);
      env.now += 1000;
      await sensor.tick();
      env.t = -0.04;
      await sensor.tick();
      assert.equal(sensor.published, 3);
      assert.deepEqual((await settled(sensor.topic)).map((x) => x.text), ['4.5', '4.5', '0.0']);
    } finally {
      await sensor.stop();
    }
  });
});

describe('timers', () => {
  it('the devices poll their inputs on their own (pollMs) and follow the clock', async () => {
    const env = { now: T0, temp: 20 };
    const trv = new DemoThermostat({ mqtt: { client: shared }, name: name('room/trv'), roomTempC: () => env.temp, clock: () => env.now, pollMs: 10 });
    await trv.start();
    try {
      await probe.next(trv.topic);
      env.temp = 20.7;
      const m = await probe.next(trv.topic, undefined, 2000);
      assert.equal(JSON.parse(m.text).local_temperature, 20.7);
      env.now += 61_000;
      await waitFor(() => trv.published >= 3, { what: 'the 60 s report' });
    } finally {
      await trv.stop();
    }
  });
});
