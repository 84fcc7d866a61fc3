/**
 * The Prometheus endpoint: the HTTP server alone, then a real agent scraped with fetch (the
 * figures match its state), off by default, loopback only unless allowed.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { silentLogger } from '../../../agent/log.js';
import { MetricsServer } from '../../../agent/adapters/system/metrics-server.js';
import { agentServices } from '../../../agent/runtime/agent-services.js';
import { freePort } from '../../helpers/mosquitto.js';
import { connectProbe, type Probe } from '../../helpers/mqtt-probe.js';
import { waitFor } from '../../helpers/wait.js';
import { startTestAgent, uniqueBase, type TestAgent } from '../../runtime/agent-harness.js';

const BROKER = 'mqtt://127.0.0.1:1883';

/** Exposition text → `name{labels}` → value (labels in the order written). */
function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    assert.ok(m, `malformed line: ${line}`);
    out.set(m[1] as string, Number(m[2]));
  }
  return out;
}

describe('MetricsServer', () => {
  it('GET/HEAD /metrics in text format 0.0.4; 404 elsewhere, 405 for other methods, 500 when rendering fails', async () => {
    let fail = false;
    const server = new MetricsServer({
      listen: '127.0.0.1:0',
      render: () => {
        if (fail) throw new Error('boom');
        return '# HELP x X\n# TYPE x gauge\nx 1\n';
      },
      log: silentLogger(),
    });
    await server.start();
    try {
      const addr = server.address();
      assert.ok(addr && addr.port > 0);
      const url = `http://127.0.0.1:${addr.port}`;
      const ok = await fetch(`${url}/metrics`);
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
      assert.equal(await ok.text(), '# HELP x X\n# TYPE x gauge\nx 1\n');
      const head = await fetch(`${url}/metrics`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), '');
      const cases: Array<[string, RequestInit, number]> = [
        ['/', {}, 404],
        ['/metrics/x', {}, 404],
        ['/metrics?x=1', {}, 200],
        ['/metrics', { method: 'POST', body: 'x' }, 405],
        ['/metrics', { method: 'DELETE' }, 405],
      ];
      for (const [p, init, status] of cases) {
        const r = await fetch(`${url}${p}`, init);
        await r.arrayBuffer();
        assert.equal(r.status, status, `${init.method ?? 'GET'} ${p}`);
      }
      fail = true;
      const broken = await fetch(`${url}/metrics`);
      assert.equal(broken.status, 500);
      assert.equal(server.scrapeCount, 3);
    } finally {
      await server.stop();
    }
    await assert.rejects(fetch(`http://127.0.0.1:${server.address()?.port ?? 1}/metrics`));
  });

  it('refuses a non-loopback host unless allowRemote; reports a port in use', async () => {
    for (const listen of ['0.0.0.0:0', '192.0.2.1:9464', '[::]:0', 'broker.example:9464']) {
      const s = new MetricsServer({ listen, render: () => '', log: silentLogger() });
      await assert.rejects(s.start(), { code: 'metrics_not_loopback' }, listen);
      assert.equal(s.address(), null);
    }
    const remote = new MetricsServer({ listen: '0.0.0.0:0', allowRemote: true, render: () => 'x 1\n', log: silentLogger() });
    await remote.start();
    try {
      const port = remote.address()?.port;
      assert.equal((await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()), 'x 1\n');
      const taken = new MetricsServer({ listen: `127.0.0.1:${port}`, render: () => '', log: silentLogger() });
      await assert.rejects(taken.start(), { code: 'metrics_listen_failed' });
    } finally {
      await remote.stop();
    }
  });
});

describe('agent metrics endpoint', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  async function setup(config: Record<string, unknown>): Promise<{ a: TestAgent; probe: Probe }> {
    const probe = await connectProbe(BROKER);
    const base = uniqueBase();
    await probe.subscribe(`${base}/#`);
    // A long tick: the snapshot only changes when an input or command asks for a decision.
    const a = await startTestAgent({ url: BROKER, base, config, tickS: 60 });
    cleanups.push(async () => {
      await a.cleanup();
      for (const t of ['status', 'state', 'info']) await probe.publish(`${base}/h1/${t}`, '', { retain: true, qos: 1 });
      await probe.end();
    });
    return { a, probe };
  }

  it('is off by default', async () => {
    const { a } = await setup({});
    assert.equal(a.config.metrics.listen, null);
    const services = agentServices(a.agent);
    assert.ok(services, 'services attached');
    assert.equal(services.metricsServer, null);
  });

  it('serves the heater, job and MQTT figures, matching the state', async () => {
    const port = await freePort();
    const { a, probe } = await setup({ metrics: { listen: `127.0.0.1:${port}` } });
    await probe.publish(a.roomTopic, JSON.stringify({ local_temperature: 19.25, occupied_heating_setpoint: 21.5 }));
    const stateMsg = await probe.next(`${a.base}/h1/state`, (m) => (JSON.parse(m.text) as { room_temp_c: unknown }).room_temp_c === 19.25, 5000);
    const published = JSON.parse(stateMsg.text) as Record<string, unknown>;
    await probe.publish(`${a.base}/h1/set/mode`, 'heat');
    await waitFor(() => a.agent.snapshot?.mode === 'heat', { what: 'mode heat' });

    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    const s = a.agent.snapshot;
    assert.ok(s);
    const got = parseExposition(text);
    const want: Array<[string, number | null]> = [
      ['anchiale_room_temperature_celsius', s.room_temp_c],
      ['anchiale_setpoint_celsius', s.setpoint_c],
      ['anchiale_demand_ratio', s.demand],
      ['anchiale_power_limit_watts', s.power_limit_w],
      ['anchiale_gpu_power_watts', s.gpu.power_w],
      ['anchiale_gpu_temperature_celsius', s.gpu.temp_c],
      ['anchiale_heat_watts', s.heat_w],
      ['anchiale_energy_kwh_total', s.energy_kwh],
      ['anchiale_jobs_done_total', s.llm.jobs_done],
      ['anchiale_jobs_queued', s.llm.queued],
      ['anchiale_tokens_per_second', s.llm.tokens_per_s],
      ['anchiale_tokens_total', a.agent.energy.tokens],
      ['anchiale_safe_mode', s.safe_mode ? 1 : 0],
      [`anchiale_phase{phase="${s.phase}"}`, 1],
      ['anchiale_mode{mode="heat"}', 1],
      ['anchiale_mode{mode="auto"}', 0],
      ['anchiale_mqtt_connected', 1],
      ['anchiale_mqtt_connects_total', 1],
      ['anchiale_mqtt_reconnects_total', 0],
      ['anchiale_mqtt_auth_refusals_total', 0],
      ['anchiale_mqtt_login_refused', 0],
      ['anchiale_events_total{type="command",severity="info"}', 1],
      ['anchiale_info{node="h1",version="0.1.0"}', 1],
    ];
    for (const [key, value] of want) {
      if (value === null) assert.ok(!got.has(key), `${key}: unknown, no sample`);
      else assert.equal(got.get(key), value, key);
    }
    // The published state carries the same room figure (the setpoint moved with mode heat: manual setpoint).
    assert.equal(got.get('anchiale_room_temperature_celsius'), published.room_temp_c);
    assert.equal(published.setpoint_c, 21.5);
    assert.equal(got.get('anchiale_setpoint_celsius'), a.config.thermostat.default_setpoint_c);
    // Every phase is listed, exactly one is in force.
    const phases = [...got].filter(([k]) => k.startsWith('anchiale_phase{'));
    assert.equal(phases.length, 7);
    assert.equal(phases.filter(([, v]) => v === 1).length, 1);
    // TYPE lines: counters end in _total.
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      assert.equal(m[2] === 'counter', (m[1] as string).endsWith('_total'), `${m[1]} is a ${m[2]}`);
    }
  });

  it('a port in use does not keep the agent from heating', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const { a } = await setup({ metrics: { listen: `127.0.0.1:${port}` } });
      assert.equal(agentServices(a.agent)?.metricsServer?.address(), null);
      assert.ok(a.agent.snapshot, 'the agent runs');
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});
