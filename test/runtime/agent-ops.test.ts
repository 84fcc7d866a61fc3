import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../agent/config/load.js';
import { buildAgent } from '../../agent/main.js';
import { silentLogger } from '../../agent/log.js';
import type { AgentRuntime } from '../../agent/runtime/agent-runtime.js';
import { connectProbe, type Probe, type ProbeMessage } from '../helpers/mqtt-probe.js';
import { startTestAgent, uniqueBase, type TestAgent } from './agent-harness.js';

const BROKER = 'mqtt://127.0.0.1:1883';
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers read loosely in assertions
type Loose = any;
type Json = Loose;
const json = (m: { text: string }) => JSON.parse(m.text) as Json;
/** Other test runs share the broker: a client id of our own, or a namesake's agent takes our session over. */
const uniqueClientId = (node: string) => `ops-test-${node}-${randomUUID().slice(0, 8)}`;
const trv = (t: number, sp = 21) => JSON.stringify({ local_temperature: t, occupied_heating_setpoint: sp, last_seen: new Date().toISOString() });

describe('remote operations on a real broker', () => {
  // Per test: agents share client ids (anchiale-<node>), so one test's agents must be gone before the next starts.
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  async function probeOn(base: string, nodes: string[]): Promise<Probe> {
    const probe = await connectProbe(BROKER);
    await probe.subscribe(`${base}/#`);
    cleanups.push(async () => {
      for (const n of nodes) for (const t of ['status', 'state', 'info']) await probe.publish(`${base}/${n}/${t}`, '', { retain: true, qos: 1 });
      await probe.end();
    });
    return probe;
  }

  async function setup(o: { nodes?: string[]; config?: Json } = {}): Promise<{ agents: TestAgent[]; probe: Probe; base: string }> {
    const base = uniqueBase();
    const nodes = o.nodes ?? ['h1'];
    const probe = await probeOn(base, nodes);
    const agents: TestAgent[] = [];
    for (const nodeId of nodes) {
      const config = { ...o.config, mqtt: { client_id: uniqueClientId(nodeId) } };
      const a = await startTestAgent({ url: BROKER, base, nodeId, config, build: { ops: { random: () => 0 } } });
      cleanups.push(() => a.cleanup());
      agents.push(a);
    }
    return { agents, probe, base };
  }

  /** Sends a request and returns the answer with the same transaction. */
  async function ask(probe: Probe, base: string, node: string, command: string, args: Json = {}, answerFrom = node): Promise<Json> {
    const transaction = randomUUID();
    await probe.publish(`${base}/${node}/request/${command}`, JSON.stringify({ transaction, ...args }));
    const m = await probe.next(`${base}/${answerFrom}/response/${command}`, (x) => json(x).transaction === transaction, 4000);
    return json(m);
  }

  it('every command answers on its response topic (happy paths), and takes effect', async () => {
    const { agents, probe, base } = await setup();
    const a = agents[0]!;
    await probe.publish(a.roomTopic, trv(19, 21));
    await probe.next(`${base}/h1/state`, (m) => json(m).room_temp_c === 19, 5000);

    const status = await ask(probe, base, 'h1', 'status');
    assert.equal(status.status, 'ok');
    assert.equal(status.node, 'h1');
    assert.equal(status.data.node, 'h1');
    assert.equal(status.data.state.room_temp_c, 19);
    assert.equal(status.data.operator.mode, 'auto');
    assert.match(status.data.agent.config_hash, /^[0-9a-f]{12}$/);
    assert.equal(status.data.agent.mqtt_connected, true);

    const health = await ask(probe, base, 'h1', 'health_check');
    assert.equal(health.status, 'ok');
    assert.equal(health.data.checks.mqtt.ok, true);
    assert.equal(health.data.checks.control_loop.ok, true);
    assert.equal(typeof health.data.healthy, 'boolean');

    assert.deepEqual((await ask(probe, base, 'h1', 'mode', { mode: 'heat' })).data, { mode: 'heat' });
    assert.deepEqual((await ask(probe, base, 'h1', 'preset', { preset: 'eco' })).data, { preset: 'eco' });
    await probe.next(`${base}/h1/state`, (m) => json(m).mode === 'heat' && json(m).setpoint_c === 17, 3000);
    assert.deepEqual((await ask(probe, base, 'h1', 'setpoint_override', { setpoint_c: 22.5 })).data, { setpoint_c: 22.5, duration_s: null, applies_as: 'manual_setpoint' });
    await probe.next(`${base}/h1/state`, (m) => json(m).setpoint_c === 22.5, 3000);
    assert.deepEqual((await ask(probe, base, 'h1', 'power_cap', { watts: 150 })).data, { power_cap_w: 150 });
    assert.deepEqual((await ask(probe, base, 'h1', 'drain', { timeout_s: 30 })).data, { drain: true, timeout_s: 120 }, 'simulated work takes no per-drain timeout: the configured one');
    const op = (await ask(probe, base, 'h1', 'status')).data.operator;
    assert.deepEqual(op, { mode: 'heat', preset: 'eco', manual_setpoint_c: 22.5, override: null, power_cap_w: 150, drain: true });
    assert.deepEqual((await ask(probe, base, 'h1', 'resume')).data, { drain: false });
    assert.deepEqual((await ask(probe, base, 'h1', 'power_cap', { watts: null })).data, { power_cap_w: null });
    assert.equal(a.agent.operatorState.drain, false);
    assert.equal(a.agent.operatorState.powerCapW, null);

    assert.deepEqual((await ask(probe, base, 'h1', 'log_level', { level: 'fatal' })).data, { level: 'fatal', previous: 'silent' });
    assert.equal((await ask(probe, base, 'h1', 'status')).data.agent.log_level, 'fatal');

    const sched = await ask(probe, base, 'h1', 'schedule');
    assert.deepEqual(sched.data, { timezone: 'Europe/Paris', applies: false, entries: [], active: null, next: null });

    for (const cmd of ['model_load', 'model_unload']) {
      const r = await ask(probe, base, 'h1', cmd, cmd === 'model_load' ? { model: 'qwen2.5-7b-q4' } : {});
      assert.equal(r.status, 'error', cmd);
      assert.equal(r.error.code, 'internal');
      assert.match(r.error.message, /not supported/);
    }
    const restart = await ask(probe, base, 'h1', 'restart');
    assert.equal(restart.error.code, 'internal', 'no supervisor in a test process: restart is refused, not faked');
  });

  it('setpoint_override in auto is an override within frost .. max room temperature; schedule shows the entries', async () => {
    const { probe, base } = await setup({ config: { thermostat: { schedule: { timezone: 'UTC', entries: [{ cron: '0 7 * * *', preset: 'comfort' }, { cron: '0 22 * * *', preset: 'eco' }] } } } });
    const r = await ask(probe, base, 'h1', 'setpoint_override', { setpoint_c: 23, duration_s: 600 });
    assert.deepEqual(r.data, { setpoint_c: 23, duration_s: 600, applies_as: 'override' });
    const s = (await ask(probe, base, 'h1', 'status')).data;
    assert.equal(s.operator.override.setpoint_c, 23);
    assert.equal(s.operator.override.duration_s, 600);
    const sched = (await ask(probe, base, 'h1', 'schedule')).data;
    assert.equal(sched.applies, true);
    assert.deepEqual(sched.entries, [{ cron: '0 7 * * *', preset: 'comfort', setpoint_c: null }, { cron: '0 22 * * *', preset: 'eco', setpoint_c: null }]);
    assert.ok(['comfort', 'eco'].includes(sched.active.preset));
    assert.match(sched.next.at, /T(07|22):00:00\.000Z$/);
  });

  it('errors: invalid_request naming the field, unknown_command, not JSON → transaction null; each audited', async () => {
    const { probe, base } = await setup();
    const cases: Array<[string, Json, string, RegExp]> = [
      ['setpoint_override', { setpoint_c: 7.5 }, 'invalid_request', /^setpoint_c: 7.5 is outside \[8, 27\]/],
      ['setpoint_override', { setpoint_c: 27.5 }, 'invalid_request', /^setpoint_c: 27.5 is outside \[8, 27\]/],
      ['power_cap', { watts: 400 }, 'invalid_request', /^watts: 400 W is outside \[100, 300\] W/],
      ['mode', { mode: 'cool' }, 'invalid_request', /^mode: must be one of/],
      ['self_destruct', {}, 'unknown_command', /^unknown command "self_destruct"/],
    ];
    for (const [cmd, args, code, message] of cases) {
      const r = await ask(probe, base, 'h1', cmd, args);
      assert.equal(r.status, 'error', cmd);
      assert.equal(r.error.code, code, cmd);
      assert.match(r.error.message, message);
      assert.ok(typeof r.transaction === 'string', 'the transaction is echoed');
    }
    for (const payload of ['{not json', '[1,2]', '']) {
      await probe.publish(`${base}/h1/request/mode`, payload);
      const r = json(await probe.next(`${base}/h1/response/mode`));
      assert.deepEqual({ t: r.transaction, s: r.status, c: r.error.code }, { t: null, s: 'error', c: 'invalid_request' }, JSON.stringify(payload));
    }
    const rejected = await probe.next(`${base}/h1/event`, (m) => json(m).type === 'command_rejected');
    assert.deepEqual(
      { ...json(rejected), ts: undefined, reason: undefined },
      { ts: undefined, type: 'command_rejected', severity: 'warning', command: 'setpoint_override', args: { setpoint_c: 7.5 }, outcome: 'error', code: 'invalid_request', reason: undefined, source: 'request', fleet: false },
    );
    assert.equal((await ask(probe, base, 'h1', 'status')).status, 'ok', 'the agent keeps serving');
  });

  it('audits each command: what, arguments, outcome, source', async () => {
    const { probe, base } = await setup();
    await ask(probe, base, 'h1', 'mode', { mode: 'off' });
    const ev = json(await probe.next(`${base}/h1/event`, (m) => json(m).type === 'command'));
    assert.deepEqual({ ...ev, ts: undefined }, { ts: undefined, type: 'command', severity: 'info', command: 'mode', args: { mode: 'off' }, outcome: 'ok', source: 'request', fleet: false });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(probe.received(`${base}/h1/event`).filter((m) => json(m).type === 'command').length, 1, 'one audit event per command (not one more from the runtime)');
  });

  it('MQTT 5: the answer goes to a response topic under the reply prefix with its correlation data; outside it, to the default topic', async () => {
    const { probe, base } = await setup();
    const replyTopic = `${base}/replies/ops-test/1`;
    const cd = Buffer.from('corr-42');
    await probe.publish(`${base}/h1/request/status`, JSON.stringify({ transaction: 't1' }), { properties: { responseTopic: replyTopic, correlationData: cd } });
    const m = await probe.next(replyTopic);
    assert.equal(json(m).transaction, 't1');
    assert.equal(json(m).status, 'ok');
    assert.deepEqual(Buffer.from(m.properties?.correlationData as Buffer), cd);
    assert.equal(probe.received(`${base}/h1/response/status`).length, 0, 'not also on the default topic');

    const outside = `${base}/h1/set/mode`;
    await probe.publish(`${base}/h1/request/status`, JSON.stringify({ transaction: 't2' }), { properties: { responseTopic: outside, correlationData: cd } });
    const d = await probe.next(`${base}/h1/response/status`, (x) => json(x).transaction === 't2');
    assert.deepEqual(Buffer.from(d.properties?.correlationData as Buffer), cd);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(probe.received(outside).length, 0, 'nothing published outside the reply prefix');
    assert.equal((await ask(probe, base, 'h1', 'status')).data.operator.mode, 'auto', 'and the set topic was not touched');
  });

  it('rate limit per command: over it → busy (other commands unaffected)', async () => {
    const { probe, base } = await setup();
    const txs = Array.from({ length: 7 }, (_, i) => `m${i}`);
    for (const t of txs) await probe.publish(`${base}/h1/request/preset`, JSON.stringify({ transaction: t, preset: 'eco' }));
    const answers: ProbeMessage[] = [];
    for (let i = 0; i < txs.length; i++) answers.push(await probe.next(`${base}/h1/response/preset`));
    const byStatus = answers.map((m) => json(m)).map((r) => (r.status === 'ok' ? 'ok' : r.error.code));
    assert.deepEqual(byStatus.filter((s) => s === 'ok').length, 5, `burst of 5: ${byStatus.join(',')}`);
    assert.deepEqual(byStatus.filter((s) => s === 'busy').length, 2);
    const busy = answers.map((m) => json(m)).find((r) => r.status === 'error')!;
    assert.match(busy.error.message, /^rate limit of preset/);
    assert.equal(typeof busy.error.retry_in_s, 'number');
    assert.equal((await ask(probe, base, 'h1', 'mode', { mode: 'heat' })).status, 'ok');
  });

  it('fleet-wide: every agent answers a request on all/request (restart and reload_config staggered, here by 0 s)', async () => {
    const { probe, base } = await setup({ nodes: ['h1', 'h2'] });
    const transaction = randomUUID();
    await probe.publish(`${base}/all/request/status`, JSON.stringify({ transaction }));
    const got = await Promise.all(['h1', 'h2'].map((n) => probe.next(`${base}/${n}/response/status`, (m) => json(m).transaction === transaction)));
    assert.deepEqual(got.map((m) => json(m).data.node), ['h1', 'h2']);

    const t2 = randomUUID();
    await probe.publish(`${base}/all/request/reload_config`, JSON.stringify({ transaction: t2 }));
    for (const n of ['h1', 'h2']) {
      const r = json(await probe.next(`${base}/${n}/response/reload_config`, (m) => json(m).transaction === t2));
      assert.equal(r.error.code, 'internal', 'harness agents have no file to read again');
      assert.match(r.error.message, /no configuration file/);
    }
    const ev = json(await probe.next(`${base}/h2/event`, (m) => json(m).type === 'command_rejected'));
    assert.equal(ev.fleet, true);

    // One MQTT 5 response topic for the whole fleet: the answers carry their node.
    const replyTopic = `${base}/replies/fleet/1`;
    await probe.publish(`${base}/all/request/health_check`, JSON.stringify({ transaction: 'f' }), { properties: { responseTopic: replyTopic } });
    const a = json(await probe.next(replyTopic));
    const b = json(await probe.next(replyTopic));
    assert.deepEqual([a.node, b.node].sort(), ['h1', 'h2']);
  });

  it('reload_config: a valid file is applied live (restart-only keys listed); an invalid one keeps the running config and answers the errors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'anchiale-ops-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const base = uniqueBase();
    const probe = await probeOn(base, ['h1']);
    const file = join(dir, 'agent.yaml');
    const clientId = uniqueClientId('h1');
    const doc = (comfort: number, keepalive = 30) => ({
      version: 1,
      node: { id: 'h1' },
      mqtt: { url: BROKER, client_id: clientId, base_topic: base, keepalive_s: keepalive, reconnect: { min_s: 0.2, max_s: 2 }, discovery: { enabled: false } },
      inputs: { room_temperature: { topic: `${base}-room/t` } },
      thermostat: { presets: { comfort } },
      heater: { backend: 'sim', sim: { load_s: 0.2 } },
      jobs: { enabled: false },
      state: { dir, interval_s: 30 },
      log: { level: 'silent' },
    });
    await writeFile(file, JSON.stringify(doc(21)));
    const load = () => loadConfig({ path: file, requireMqttUrl: true, env: {} });
    const agent: AgentRuntime = buildAgent(await load(), silentLogger(), { tickS: 0.2, ops: { loadConfig: load, random: () => 0 } });
    cleanups.push(() => agent.stop());
    await agent.start();
    await agent.whenConnected();

    await ask(probe, base, 'h1', 'mode', { mode: 'heat' });
    await ask(probe, base, 'h1', 'preset', { preset: 'comfort' });
    await probe.next(`${base}/h1/state`, (m) => json(m).setpoint_c === 21, 3000);
    const hash0 = (await ask(probe, base, 'h1', 'status')).data.agent.config_hash;

    await writeFile(file, JSON.stringify(doc(22, 45)));
    const ok = await ask(probe, base, 'h1', 'reload_config');
    assert.equal(ok.status, 'ok', JSON.stringify(ok));
    assert.deepEqual(ok.data.changed, ['thermostat.presets']);
    assert.deepEqual(ok.data.restart_required, ['mqtt.keepalive_s']);
    await probe.next(`${base}/h1/state`, (m) => json(m).setpoint_c === 22, 3000);
    const reloaded = json(await probe.next(`${base}/h1/event`, (m) => json(m).type === 'config_reloaded'));
    assert.equal(reloaded.config_hash, ok.data.config_hash);
    await probe.next(`${base}/h1/info`, (m) => json(m).config_hash === ok.data.config_hash, 3000);
    assert.notEqual(ok.data.config_hash, hash0);

    await writeFile(file, 'version: 1\nthermostat:\n  min_setpoint_c: warm\n  mode: cool\n');
    const bad = await ask(probe, base, 'h1', 'reload_config');
    assert.equal(bad.status, 'error');
    assert.equal(bad.error.code, 'internal');
    assert.match(bad.error.message, /invalid.*running configuration kept/);
    const paths = (bad.error.errors as Array<{ path: string }>).map((e) => e.path);
    for (const p of ['thermostat.min_setpoint_c', 'thermostat.mode', 'inputs']) assert.ok(paths.includes(p), `${p} in ${paths.join(', ')}`);
    await probe.next(`${base}/h1/event`, (m) => json(m).type === 'config_reload_failed');
    const after = (await ask(probe, base, 'h1', 'status')).data;
    assert.equal(after.agent.config_hash, ok.data.config_hash, 'running configuration kept');
    assert.equal(after.state.setpoint_c, 22);
  });
});
