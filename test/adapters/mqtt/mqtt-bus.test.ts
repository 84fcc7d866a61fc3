import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  MqttBus,
  backoffDelayMs,
  buildClientOptions,
  type MqttBusOptions,
} from '../../../agent/adapters/mqtt/mqtt-bus.js';
import { AgentError } from '../../../agent/errors.js';
import { silentLogger } from '../../../agent/log.js';
import type { BusDisconnectInfo, BusMessage } from '../../../agent/ports/bus.js';
import { startMosquitto, type MosquittoHandle } from '../../helpers/mosquitto.js';
import { connectProbe } from '../../helpers/mqtt-probe.js';
import { waitFor } from '../../helpers/wait.js';
import { captureLogger } from '../../helpers/capture-logger.js';

const execFileAsync = promisify(execFile);
const SYSTEM_BROKER = 'mqtt://127.0.0.1:1883';
const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A unique topic prefix per test: tests share the system broker. */
const uniquePrefix = (name: string) => `anchiale-test/${name}-${process.pid}-${randomBytes(4).toString('hex')}`;


/** Every resource a test opens, closed in reverse order even when the test fails. */
function resources() {
  const closers: Array<() => Promise<unknown>> = [];
  return {
    add<T>(value: T, close: (v: T) => Promise<unknown>): T {
      closers.push(() => close(value));
      return value;
    },
    async closeAll() {
      for (const c of closers.reverse()) await c().catch(() => {});
    },
  };
}

/** Remove retained test messages from the shared system broker. */
async function clearRetained(topics: string[]): Promise<void> {
  const probe = await connectProbe(SYSTEM_BROKER);
  try {
    for (const t of topics) await probe.publish(t, '', { qos: 1, retain: true });
  } finally {
    await probe.end();
  }
}

function busOptions(prefix: string, over: Partial<MqttBusOptions> = {}): MqttBusOptions {
  return {
    url: SYSTEM_BROKER,
    clientId: `anchiale-test-${randomBytes(4).toString('hex')}`,
    statusTopic: `${prefix}/status`,
    reconnect: { minS: 0.25, maxS: 2 },
    connectTimeoutS: 5,
    ...over,
  };
}

describe('backoffDelayMs', () => {
  const range = { minS: 1, maxS: 60 };
  it('follows the table: cap = min(max, min·2^(attempt+1)), delay in [max(min, cap/2), cap]', () => {
    const table: Array<[attempt: number, random: number, ms: number]> = [
      [0, 0, 1000],
      [0, 0.5, 1500],
      [0, 1, 2000],
      [1, 0, 2000],
      [1, 1, 4000],
      [2, 0.5, 6000],
      [3, 0, 8000],
      [3, 1, 16000],
      [4, 1, 32000],
      [5, 0, 30000],
      [5, 1, 60000],
      [40, 0.5, 45000],
      [Infinity, 1, 60000],
      [-3, 0, 1000],
    ];
    for (const [attempt, r, ms] of table) {
      assert.equal(backoffDelayMs(attempt, range, () => r), ms, `attempt ${attempt}, random ${r}`);
    }
  });

  it('stays within [min, max] and never shrinks as attempts grow', () => {
    for (const r of [0, 0.1, 0.5, 0.9, 0.999999, 1]) {
      let prev = 0;
      for (let attempt = 0; attempt < 80; attempt++) {
        const ms = backoffDelayMs(attempt, range, () => r);
        assert.ok(ms >= 1000 && ms <= 60000, `attempt ${attempt} r ${r}: ${ms}`);
        assert.ok(ms >= prev, `attempt ${attempt} r ${r}: ${ms} < ${prev}`);
        prev = ms;
      }
    }
  });

  it('jitters every attempt by up to half its cap (no herd after a broker restart)', () => {
    for (let attempt = 0; attempt < 10; attempt++) {
      const lo = backoffDelayMs(attempt, range, () => 0);
      const hi = backoffDelayMs(attempt, range, () => 1);
      assert.ok(hi > lo, `attempt ${attempt}: no jitter (${lo}..${hi})`);
      assert.ok(hi <= 2 * lo, `attempt ${attempt}: jitter wider than the cap (${lo}..${hi})`);
    }
  });

  it('is constant when min equals max, and clamps a random value out of [0, 1]', () => {
    assert.equal(backoffDelayMs(0, { minS: 5, maxS: 5 }, () => 0.3), 5000);
    assert.equal(backoffDelayMs(9, { minS: 5, maxS: 5 }, () => 0.9), 5000);
    assert.equal(backoffDelayMs(0, range, () => 7), 2000);
    assert.equal(backoffDelayMs(0, range, () => -1), 1000);
  });
});

describe('buildClientOptions', () => {
  const base: MqttBusOptions = { url: 'mqtt://broker.example:1884', clientId: 'anchiale-h204', statusTopic: 'anchiale/v1/h204/status' };

  it('MQTT 5: fresh session each time, last will offline retained QoS 1, no QoS 0 queue, own resubscribe', () => {
    const o = buildClientOptions({ ...base, keepaliveS: 15, connectTimeoutS: 7 });
    assert.equal(o.protocol, 'mqtt');
    assert.equal(o.host, 'broker.example');
    assert.equal(o.port, 1884);
    assert.equal(o.protocolVersion, 5);
    assert.equal(o.clientId, 'anchiale-h204');
    assert.equal(o.clean, true);
    assert.deepEqual(o.properties, { sessionExpiryInterval: 0 });
    assert.equal(o.keepalive, 15);
    assert.equal(o.connectTimeout, 7000);
    assert.equal(o.queueQoSZero, false);
    assert.equal(o.resubscribe, false);
    assert.equal(o.reconnectOnConnackError, true);
    // No 65 536-buffer packet-id cache (6 MiB of an idle agent's heap).
    assert.equal(o.writeCache, false);
    assert.ok((o.reconnectPeriod ?? 0) > 0);
    assert.deepEqual(o.will, { topic: 'anchiale/v1/h204/status', payload: Buffer.from('offline'), qos: 1, retain: true });
  });

  it('MQTT 3.1.1 has no MQTT 5 properties', () => {
    const o = buildClientOptions({ ...base, protocolVersion: 4 });
    assert.equal(o.protocolVersion, 4);
    assert.equal(o.properties, undefined);
    assert.equal(o.clean, true);
  });

  it('maps the URL forms', () => {
    const table: Array<[url: string, expect: Record<string, unknown>]> = [
      ['mqtt://10.0.0.5', { protocol: 'mqtt', host: '10.0.0.5', port: 1883 }],
      ['mqtts://broker.example', { protocol: 'mqtts', host: 'broker.example', port: 8883, rejectUnauthorized: true }],
      ['mqtt://[::1]:1999', { protocol: 'mqtt', host: '::1', port: 1999 }],
      ['mqtt://u%40x:p%3Aw@host:1883', { host: 'host', username: 'u@x', password: 'p:w' }],
      ['mqtt+unix:///run/mosquitto/mqtt.sock', { protocol: 'mqtt', unixSocket: true, path: '/run/mosquitto/mqtt.sock' }],
      ['mqtt+unix:///tmp/with%20space.sock', { path: '/tmp/with space.sock' }],
    ];
    for (const [url, expected] of table) {
      const o = buildClientOptions({ ...base, url }) as Record<string, unknown>;
      for (const [k, v] of Object.entries(expected)) assert.deepEqual(o[k], v, `${url}: ${k}`);
    }
  });

  it('option credentials win over the URL, TLS material goes in for mqtts only', () => {
    const o = buildClientOptions(
      { ...base, url: 'mqtts://a:b@host', username: 'heater', password: 's3cret', tls: { caFile: '/ca.pem', rejectUnauthorized: false } },
      { ca: Buffer.from('CA'), cert: Buffer.from('CERT'), key: Buffer.from('KEY') },
    );
    assert.equal(o.username, 'heater');
    assert.equal(o.password, 's3cret');
    assert.deepEqual(o.ca, Buffer.from('CA'));
    assert.deepEqual(o.cert, Buffer.from('CERT'));
    assert.deepEqual(o.key, Buffer.from('KEY'));
    assert.equal(o.rejectUnauthorized, false);
  });

  it('refuses what it cannot honour, with code mqtt_invalid_options', () => {
    const table: Array<Partial<MqttBusOptions>> = [
      { url: 'http://broker:80' },
      { url: 'ws://broker:9001' },
      { url: 'not a url' },
      { url: 'mqtt+unix://relative/path' },
      { url: 'mqtt://broker', tls: { caFile: '/ca.pem' } },
      { reconnect: { minS: 0, maxS: 10 } },
      { reconnect: { minS: 10, maxS: 1 } },
    ];
    for (const over of table) {
      assert.throws(
        () => buildClientOptions({ ...base, ...over }),
        (err: unknown) => err instanceof AgentError && err.code === 'mqtt_invalid_options',
        JSON.stringify(over),
      );
    }
  });
});

describe('MqttBus against the system Mosquitto', { concurrency: true }, () => {
  it('a plain mqtt:// connection loads neither TLS nor the WebSocket transports (memory of an idle agent)', async () => {
    // In a fresh process: which of Node's modules are loaded once the bus is connected.
    const prefix = uniquePrefix('transports');
    const script = `
      const { MqttBus } = await import('./agent/adapters/mqtt/mqtt-bus.ts');
      const { silentLogger } = await import('./agent/log.ts');
      const bus = new MqttBus({ url: '${SYSTEM_BROKER}', clientId: 'anchiale-test-transports-' + process.pid, statusTopic: '${prefix}/status' }, silentLogger(), Math.random);
      await bus.start();
      const loaded = process.moduleLoadList.filter((m) => /^NativeModule (tls|_tls_wrap|http|https|zlib)$/.test(m));
      await bus.stop();
      console.log(JSON.stringify({ connected: true, loaded }));`;
    const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, timeout: 30_000 });
    await clearRetained([`${prefix}/status`]);
    assert.deepEqual(JSON.parse(stdout.trim().split('\n').pop()!), { connected: true, loaded: [] });
  });

  for (const protocolVersion of [5, 4] as const) {
    it(`MQTT ${protocolVersion === 5 ? '5' : '3.1.1'}: online retained on connect, messages both ways, offline after stop()`, async () => {
      const r = resources();
      try {
        const prefix = r.add(uniquePrefix(`v${protocolVersion}`), (p) => clearRetained([`${p}/status`, `${p}/state`]));
        const probe = r.add(await connectProbe(SYSTEM_BROKER), (p) => p.end());
        await probe.subscribe(`${prefix}/#`);
        const bus = r.add(new MqttBus(busOptions(prefix, { protocolVersion }), silentLogger(), Math.random), (b) => b.stop());
        const received: BusMessage[] = [];
        bus.onMessage((m) => received.push(m));
        let connects = 0;
        bus.onConnect(() => connects++);
        assert.equal(bus.connected, false);

        await bus.start();
        assert.equal(bus.connected, true);
        assert.equal(connects, 1, 'onConnect called once on the first connect');
        const online = await probe.next(`${prefix}/status`);
        assert.equal(online.text, 'online');
        // A late subscriber gets the retained presence.
        const late = r.add(await connectProbe(SYSTEM_BROKER), (p) => p.end());
        await late.subscribe(`${prefix}/status`);
        const retained = await late.next(`${prefix}/status`);
        assert.equal(retained.text, 'online');
        assert.equal(retained.retain, true);

        assert.deepEqual(await bus.subscribe(`${prefix}/set/+`), { granted: true });
        await probe.publish(`${prefix}/set/mode`, 'heat', { qos: 1 });
        await waitFor(() => received.length === 1, { what: 'message on set/mode' });
        assert.equal(received[0]?.topic, `${prefix}/set/mode`);
        assert.equal(received[0]?.payload.toString(), 'heat');
        assert.equal(received[0]?.qos, 1);
        assert.equal(received[0]?.retain, false);

        // MQTT 5 properties are dropped (not an error) on 3.1.1.
        await bus.publish(`${prefix}/state`, '{"mode":"heat"}', {
          qos: 1,
          retain: true,
          properties: { contentType: 'application/json', messageExpiryInterval: 60 },
        });
        const state = await probe.next(`${prefix}/state`);
        assert.equal(state.text, '{"mode":"heat"}');
        assert.equal(state.properties?.['contentType'], protocolVersion === 5 ? 'application/json' : undefined);
        await bus.publish(`${prefix}/event`, 'e', { qos: 0 });
        assert.equal((await probe.next(`${prefix}/event`)).text, 'e');

        await bus.unsubscribe(`${prefix}/set/+`);
        await probe.publish(`${prefix}/set/mode`, 'off', { qos: 1 });
        await bus.publish(`${prefix}/marker`, 'm', { qos: 1 });
        await probe.next(`${prefix}/marker`);
        await sleep(50);
        assert.equal(received.length, 1, 'no message after unsubscribe');

        await bus.stop();
        assert.equal(bus.connected, false);
        const offline = await probe.next(`${prefix}/status`);
        assert.equal(offline.text, 'offline');
        await assert.rejects(bus.publish(`${prefix}/x`, 'x', { qos: 1 }), { code: 'mqtt_stopped' });
      } finally {
        await r.closeAll();
      }
    });
  }

  it('the last will turns the retained status offline when the process dies', async () => {
    const r = resources();
    try {
      const prefix = r.add(uniquePrefix('will'), (p) => clearRetained([`${p}/status`]));
      const probe = r.add(await connectProbe(SYSTEM_BROKER), (p) => p.end());
      await probe.subscribe(`${prefix}/status`);
      // keepalive 30 s: an offline within a few seconds comes from the socket close, not the keepalive.
      const opts = busOptions(prefix, { keepaliveS: 30 });
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'fixtures/mqtt-bus-child.ts'), JSON.stringify(opts)], {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      r.add(child, async (c) => {
        if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      await waitFor(() => out.includes('ready'), { timeoutMs: 15000, what: `child bus ready (output: ${out})` });
      assert.equal((await probe.next(`${prefix}/status`)).text, 'online');

      const t0 = Date.now();
      child.kill('SIGKILL');
      const will = await probe.next(`${prefix}/status`, undefined, 5000);
      assert.equal(will.text, 'offline');
      assert.ok(Date.now() - t0 < 3000, `will came after ${Date.now() - t0} ms`);
      const late = r.add(await connectProbe(SYSTEM_BROKER), (p) => p.end());
      await late.subscribe(`${prefix}/status`);
      const retained = await late.next(`${prefix}/status`);
      assert.deepEqual([retained.text, retained.retain], ['offline', true]);
    } finally {
      await r.closeAll();
    }
  });

  it('drops incoming messages over maxPayloadBytes with a warning naming the topic', async () => {
    const r = resources();
    try {
      const prefix = r.add(uniquePrefix('size'), (p) => clearRetained([`${p}/status`]));
      const { log, lines } = captureLogger();
      const bus = r.add(new MqttBus(busOptions(prefix, { maxPayloadBytes: 1024 }), log, Math.random), (b) => b.stop());
      const got: string[] = [];
      bus.onMessage((m) => got.push(`${m.topic.slice(prefix.length + 1)}:${m.payload.length}`));
      await bus.start();
      await bus.subscribe(`${prefix}/in/#`);
      const probe = r.add(await connectProbe(SYSTEM_BROKER), (p) => p.end());
      await probe.publish(`${prefix}/in/big`, Buffer.alloc(1025, 1));
      await probe.publish(`${prefix}/in/edge`, Buffer.alloc(1024, 1));
      await probe.publish(`${prefix}/in/small`, 'x');
      await waitFor(() => got.length === 2, { what: 'the two small messages' });
      await sleep(50);
      assert.deepEqual(got, ['in/edge:1024', 'in/small:1']);
      assert.equal(bus.stats().droppedOversize, 1);
      const warn = lines.find((l) => l.level === 'warn' && l['topic'] === `${prefix}/in/big`);
      assert.ok(warn, 'a warn line naming the topic');
      assert.equal(warn['bytes'], 1025);
    } finally {
      await r.closeAll();
    }
  });

  it('MQTT 5: response topic, correlation data and user properties round-trip; throwing handlers do no harm', async () => {
    const r = resources();
    try {
      const prefix = r.add(uniquePrefix('rr'), (p) => clearRetained([`${p}/status`]));
      const { log, lines } = captureLogger();
      const bus = r.add(new MqttBus(busOptions(prefix), log, Math.random), (b) => b.stop());
      const requests: BusMessage[] = [];
      bus.onMessage(() => {
        throw new Error('handler bug');
      });
      bus.onMessage(async () => {
        throw new Error('async handler bug');
      });
      bus.onMessage((m) => {
        requests.push(m);
        const rt = m.properties?.responseTopic;
        if (!rt) return;
        void bus.publish(rt, 'pong', {
          qos: 1,
          properties: { correlationData: m.properties?.correlationData, contentType: 'text/plain', userProperties: { node: 'h204' } },
        });
      });
      await bus.start();
      await bus.subscribe(`${prefix}/request/ping`);
      const probe = r.add(await connectProbe(SYSTEM_BROKER), (p) => p.end());
      await probe.subscribe(`${prefix}/replies/#`);
      const corr = randomBytes(8);
      for (let i = 0; i < 2; i++) {
        await probe.publish(`${prefix}/request/ping`, '{}', {
          qos: 1,
          properties: {
            responseTopic: `${prefix}/replies/c1`,
            correlationData: corr,
            messageExpiryInterval: 60,
            userProperties: { client: 'alice' },
          },
        });
        const reply = await probe.next(`${prefix}/replies/c1`);
        assert.equal(reply.text, 'pong');
        assert.deepEqual(reply.properties?.['correlationData'], corr);
        assert.equal(reply.properties?.['contentType'], 'text/plain');
        assert.deepEqual({ ...(reply.properties?.['userProperties'] as object) }, { node: 'h204' });
      }
      const req = requests[0];
      assert.equal(req?.properties?.responseTopic, `${prefix}/replies/c1`);
      assert.deepEqual(req?.properties?.correlationData, corr);
      assert.deepEqual(req?.properties?.userProperties, { client: 'alice' });
      const exp = req?.properties?.messageExpiryInterval ?? 0;
      assert.ok(exp > 0 && exp <= 60, `messageExpiryInterval ${exp}`);
      await waitFor(() => lines.filter((l) => l.msg === 'mqtt onMessage handler failed').length === 4, {
        what: 'handler failures logged',
      });
      assert.equal(bus.connected, true);
    } finally {
      await r.closeAll();
    }
  });
});

describe('MqttBus against its own Mosquitto', { concurrency: true }, () => {
  it('broker killed and restarted on the same port: backs off, reconnects, re-subscribes, republishes online', async () => {
    const r = resources();
    try {
      const broker = r.add(await startMosquitto(), (b) => b.stop());
      const prefix = uniquePrefix('restart');
      const { log } = captureLogger();
      const bus = r.add(
        new MqttBus(busOptions(prefix, { url: broker.url, reconnect: { minS: 0.25, maxS: 2 }, keepaliveS: 5 }), log, Math.random),
        (b) => b.stop(),
      );
      const received: string[] = [];
      bus.onMessage((m) => received.push(m.payload.toString()));
      let connects = 0;
      bus.onConnect(() => connects++);
      const disconnects: BusDisconnectInfo[] = [];
      bus.onDisconnect((i) => disconnects.push(i));
      await bus.start();
      assert.deepEqual(await bus.subscribe(`${prefix}/cmd`), { granted: true });

      await broker.kill();
      await waitFor(() => !bus.connected, { what: 'bus noticing the broker is gone' });
      const attemptsBefore = bus.stats().attempts;
      const outageStart = Date.now();
      assert.equal(disconnects.length, 1);
      assert.ok(disconnects[0]?.reason, 'a disconnect reason');
      assert.equal(disconnects[0]?.refused, undefined);

      // Offline: QoS 0 is refused, QoS 1 waits in the in-memory queue.
      await assert.rejects(bus.publish(`${prefix}/telemetry`, 't', { qos: 0 }), { code: 'mqtt_offline' });
      let queuedDone = false;
      const queued = bus.publish(`${prefix}/queued`, 'q', { qos: 1, retain: true }).then(() => (queuedDone = true));

      await sleep(5000 - (Date.now() - outageStart));
      const attempts = bus.stats().attempts - attemptsBefore;
      // Delays 0.25–0.5, 0.5–1, 1–2, 1–2 … s: 3 to 6 attempts in 5 s (a fixed 250 ms period would make 20).
      assert.ok(attempts >= 2 && attempts <= 7, `${attempts} connection attempts during a 5 s outage`);
      assert.ok(bus.stats().reconnectDelayMs >= 1000, `delay grew to ${bus.stats().reconnectDelayMs} ms`);
      assert.equal(queuedDone, false);

      await broker.restart();
      await waitFor(() => connects === 2, { timeoutMs: 4000, what: 'onConnect after the restart' });
      assert.equal(bus.connected, true);
      await queued;

      // The restarted broker kept nothing (persistence false): what it holds came from the bus.
      const probe = r.add(await connectProbe(broker.url), (p) => p.end());
      await probe.subscribe(`${prefix}/#`);
      const retained = new Map<string, string>();
      await waitFor(
        () => {
          for (const m of probe.messages) retained.set(m.topic, m.text);
          return retained.size >= 2;
        },
        { what: 'retained status and queued message' },
      );
      assert.equal(retained.get(`${prefix}/status`), 'online');
      assert.equal(retained.get(`${prefix}/queued`), 'q');
      await probe.publish(`${prefix}/cmd`, 'after-restart');
      await waitFor(() => received.includes('after-restart'), { what: 'message on the re-subscribed filter' });
    } finally {
      await r.closeAll();
    }
  });

  it('a subscription made while offline is made at the next connect', async () => {
    const r = resources();
    try {
      const broker = r.add(await startMosquitto(), (b) => b.stop());
      const prefix = uniquePrefix('offline-sub');
      const bus = r.add(new MqttBus(busOptions(prefix, { url: broker.url, reconnect: { minS: 0.1, maxS: 0.2 } }), silentLogger(), Math.random), (b) => b.stop());
      const received: string[] = [];
      bus.onMessage((m) => received.push(m.payload.toString()));
      const early = bus.subscribe(`${prefix}/early`); // before start()
      await bus.start();
      assert.deepEqual(await early, { granted: true });
      await broker.kill();
      await waitFor(() => !bus.connected, { what: 'disconnect' });
      let granted: { granted: boolean } | undefined;
      void bus.subscribe(`${prefix}/late`).then((g) => (granted = g));
      await sleep(100);
      assert.equal(granted, undefined, 'not answered while offline');
      await broker.restart();
      await waitFor(() => granted, { timeoutMs: 3000, what: 'subscription answered after reconnect' });
      assert.deepEqual(granted, { granted: true });
      const probe = r.add(await connectProbe(broker.url), (p) => p.end());
      await probe.publish(`${prefix}/early`, 'e');
      await probe.publish(`${prefix}/late`, 'l');
      await waitFor(() => received.length === 2, { what: 'both messages' });
      assert.deepEqual(received.sort(), ['e', 'l']);
    } finally {
      await r.closeAll();
    }
  });

  it('wrong password: start() rejects with mqtt_auth_refused (MQTT 5 and 3.1.1), retries slow down to the max', async () => {
    const r = resources();
    try {
      const broker = r.add(await startMosquitto({ users: { heater: 'right-pw' } }), (b) => b.stop());
      const prefix = uniquePrefix('auth');
      for (const [protocolVersion, codes] of [
        [5, [134, 135]],
        [4, [4, 5]],
      ] as const) {
        const bus = r.add(
          new MqttBus(busOptions(prefix, { url: broker.url, protocolVersion, username: 'heater', password: 'wrong' }), silentLogger(), Math.random),
          (b) => b.stop(),
        );
        const t0 = Date.now();
        await assert.rejects(bus.start(), (err: unknown) => {
          assert.ok(err instanceof AgentError);
          assert.equal(err.code, 'mqtt_auth_refused');
          assert.ok((codes as readonly number[]).includes(err.details?.['reasonCode'] as number), `reason code ${String(err.details?.['reasonCode'])}`);
          assert.doesNotMatch(err.message, /wrong/);
          return true;
        });
        assert.ok(Date.now() - t0 < 2000, 'refusal reported at once, not after the timeout');
        assert.equal(bus.connected, false);
      }

      // In the background (waitForConnect false) it keeps trying, but at the top of the range.
      const { log, lines } = captureLogger();
      const bus = r.add(
        new MqttBus(
          busOptions(prefix, { url: broker.url, username: 'heater', password: 'wrong', waitForConnect: false, reconnect: { minS: 0.05, maxS: 2 } }),
          log,
          Math.random,
        ),
        (b) => b.stop(),
      );
      const refusals: BusDisconnectInfo[] = [];
      bus.onDisconnect((i) => refusals.push(i));
      await bus.start();
      await sleep(2500);
      const s = bus.stats();
      // Refused → delays in [1, 2] s: at most 3 attempts in 2.5 s (plain backoff from 50 ms makes ≥ 5).
      assert.ok(s.attempts >= 2 && s.attempts <= 3, `${s.attempts} attempts in 2.5 s`);
      assert.ok(s.refusals >= s.attempts - 1, `${s.refusals} refusals for ${s.attempts} attempts`);
      assert.equal(s.connects, 0);
      assert.ok(s.reconnectDelayMs >= 1000, `next retry in ${s.reconnectDelayMs} ms`);
      assert.equal(refusals[0]?.refused?.code, 135);
      assert.equal(refusals[0]?.refused?.message, 'not authorized');
      const logged = lines.find((l) => l.level === 'error' && l['reasonCode'] === 135);
      assert.ok(logged, 'refusal logged with its reason code');
      assert.match(logged.msg, /refused/);
      assert.ok(!JSON.stringify(lines).includes('wrong'), 'the password never reaches the log');

      // The right password connects (the broker is not simply down).
      const good = r.add(
        new MqttBus(busOptions(prefix, { url: broker.url, username: 'heater', password: 'right-pw' }), silentLogger(), Math.random),
        (b) => b.stop(),
      );
      await good.start();
      assert.equal(good.connected, true);
    } finally {
      await r.closeAll();
    }
  });

  it('connects over a Unix socket (mqtt+unix:///path)', async () => {
    const r = resources();
    try {
      const broker = r.add(await startMosquitto({ unixSocket: true }), (b) => b.stop());
      const prefix = uniquePrefix('unix');
      const probe = r.add(await connectProbe(broker.url), (p) => p.end());
      await probe.subscribe(`${prefix}/#`);
      const bus = r.add(new MqttBus(busOptions(prefix, { url: `mqtt+unix://${broker.socketPath}` }), silentLogger(), Math.random), (b) => b.stop());
      await bus.start();
      assert.equal((await probe.next(`${prefix}/status`)).text, 'online');
      await bus.publish(`${prefix}/x`, 'via-socket', { qos: 1 });
      assert.equal((await probe.next(`${prefix}/x`)).text, 'via-socket');
    } finally {
      await r.closeAll();
    }
  });

  it('unreachable broker: start() rejects with mqtt_unreachable after connectTimeoutS', async () => {
    const r = resources();
    try {
      const broker = await startMosquitto();
      await broker.stop(); // a port where nothing listens
      const bus = r.add(
        new MqttBus(busOptions(uniquePrefix('down'), { url: broker.url, connectTimeoutS: 1, reconnect: { minS: 0.1, maxS: 0.2 } }), silentLogger(), Math.random),
        (b) => b.stop(),
      );
      const t0 = Date.now();
      await assert.rejects(bus.start(), (err: unknown) => {
        assert.ok(err instanceof AgentError);
        assert.equal(err.code, 'mqtt_unreachable');
        assert.match(err.message, /ECONNREFUSED/);
        return true;
      });
      const elapsed = Date.now() - t0;
      assert.ok(elapsed >= 900 && elapsed < 2500, `rejected after ${elapsed} ms`);
      const attempts = bus.stats().attempts;
      await sleep(400);
      assert.equal(bus.stats().attempts, attempts, 'no more attempts once start() gave up');
    } finally {
      await r.closeAll();
    }
  });

  it('TLS: verifies the broker with ca_file and logs in with a client certificate', async () => {
    const r = resources();
    try {
      const pki = r.add(await makePki(), (p) => fs.rm(p.dir, { recursive: true, force: true }));
      const broker: MosquittoHandle = r.add(
        await startMosquitto({
          tls: { caFile: pki.caCert, certFile: pki.serverCert, keyFile: pki.serverKey, requireCertificate: true, useIdentityAsUsername: true },
        }),
        (b) => b.stop(),
      );
      assert.match(broker.url, /^mqtts:\/\//);
      const prefix = uniquePrefix('tls');
      const tls = { caFile: pki.caCert, certFile: pki.clientCert, keyFile: pki.clientKey };
      const bus = r.add(new MqttBus(busOptions(prefix, { url: broker.url, tls }), silentLogger(), Math.random), (b) => b.stop());
      await bus.start();
      assert.equal(bus.connected, true);

      // Without the CA the broker's certificate is not trusted.
      const untrusted = r.add(
        new MqttBus(
          busOptions(prefix, { url: broker.url, tls: { certFile: pki.clientCert, keyFile: pki.clientKey }, connectTimeoutS: 1 }),
          silentLogger(),
          Math.random,
        ),
        (b) => b.stop(),
      );
      await assert.rejects(untrusted.start(), (err: unknown) => {
        assert.ok(err instanceof AgentError);
        assert.equal(err.code, 'mqtt_unreachable');
        assert.match(err.message, /certificate/i);
        return true;
      });

      const missing = new MqttBus(busOptions(prefix, { url: broker.url, tls: { caFile: path.join(pki.dir, 'nope.pem') } }), silentLogger(), Math.random);
      await assert.rejects(missing.start(), { code: 'mqtt_tls_file_unreadable' });
    } finally {
      await r.closeAll();
    }
  });
});

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate (CN heater1). */
async function makePki() {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'anchiale-pki-'));
  const p = (f: string) => path.join(dir, f);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await execFileAsync('openssl', ['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '1', '-subj', '/CN=anchiale-test-ca']);
  await fs.writeFile(p('server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  for (const [name, cn, ext] of [
    ['server', '127.0.0.1', ['-extfile', p('server.ext')]],
    ['client', 'heater1', []],
  ] as const) {
    await execFileAsync('openssl', ['req', ...ec, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${cn}`]);
    await execFileAsync('openssl', [
      'x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial',
      '-out', p(`${name}.crt`), '-days', '1', ...ext,
    ]);
  }
  return {
    dir,
    caCert: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
  };
}
