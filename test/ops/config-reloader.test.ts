import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createConfigSchema, type AgentConfig } from '../../agent/config/schema.js';
import { ConfigError } from '../../agent/config/config-error.js';
import { configHash } from '../../agent/config/config-hash.js';
import { silentLogger } from '../../agent/log.js';
import { planConfigReload } from '../../agent/ops/config-reload-plan.js';
import { ConfigReloader } from '../../agent/ops/config-reloader.js';

const base = {
  version: 1,
  node: { id: 'h1' },
  mqtt: { url: 'mqtt://127.0.0.1:1883' },
  inputs: { room_temperature: { topic: 'room/t' } },
  heater: { backend: 'sim' },
};
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers read loosely in assertions
type Loose = any;
const cfg = (over: (d: Loose) => void = () => undefined): AgentConfig => {
  const d = structuredClone(base) as unknown as Loose;
  over(d);
  return createConfigSchema({ defaultNodeId: 'h1' }).parse(d);
};

describe('config reload plan', () => {
  it('applies thermostat, safety, log and the heater power keys; lists the rest as needing a restart', () => {
    const running = cfg();
    const next = cfg((d) => {
      d.thermostat = { presets: { comfort: 22 }, schedule: { entries: [{ cron: '0 7 * * *', preset: 'comfort' }] } };
      d.safety = { max_room_temp_c: 26 };
      d.log = { level: 'debug' };
      d.heater.max_power_w = 250;
      d.heater.sim = { load_s: 1 };
      d.mqtt.url = 'mqtt://other:1883';
      d.node.name = 'Room 1';
      d.inputs.room_temperature.topic = 'room/t2';
    });
    const plan = planConfigReload(running, next);
    assert.deepEqual(plan.changed, ['heater.max_power_w', 'log.level', 'safety.max_room_temp_c', 'thermostat.presets', 'thermostat.schedule']);
    assert.deepEqual(plan.restartRequired, ['heater.sim', 'inputs.room_temperature', 'mqtt.url', 'node.name']);
    assert.equal(plan.config.thermostat.presets.comfort, 22);
    assert.equal(plan.config.heater.max_power_w, 250);
    assert.equal(plan.config.heater.sim.load_s, running.heater.sim.load_s, 'sim physics keep their running value');
    assert.equal(plan.config.mqtt.url, 'mqtt://127.0.0.1:1883');
    assert.equal(plan.config.node.name, null);
  });

  it('applies the keep-alive and the job limits; the model, its context and the fleet subscription need a restart', () => {
    const running = cfg();
    const next = cfg((d) => {
      d.llm = { keep_alive_s: 120, max_parallel: 2, context_size: 2048 };
      d.jobs = { stretch_wait_s: 0, max_queue: 3, drain_timeout_s: 30, serve_without_heat: true, max_tokens_limit: 512, max_request_bytes: 4096, fleet: false, share_group: 'other' };
    });
    const plan = planConfigReload(running, next);
    assert.deepEqual(plan.changed, [
      'jobs.drain_timeout_s',
      'jobs.max_queue',
      'jobs.max_request_bytes',
      'jobs.max_tokens_limit',
      'jobs.serve_without_heat',
      'jobs.stretch_wait_s',
      'llm.keep_alive_s',
    ]);
    assert.deepEqual(plan.restartRequired, ['jobs.fleet', 'jobs.share_group', 'llm.context_size', 'llm.max_parallel']);
    assert.deepEqual([plan.config.llm.keep_alive_s, plan.config.jobs.stretch_wait_s, plan.config.jobs.max_queue], [120, 0, 3]);
    assert.deepEqual([plan.config.llm.max_parallel, plan.config.jobs.fleet], [running.llm.max_parallel, true], 'running values kept');
  });

  it('the same file changes nothing', () => {
    const plan = planConfigReload(cfg(), cfg());
    assert.deepEqual([plan.changed, plan.restartRequired], [[], []]);
  });
});

describe('config reloader', () => {
  function setup(load: (() => Promise<AgentConfig>) | null) {
    const applied: AgentConfig[] = [];
    const events: Array<[string, Record<string, unknown>]> = [];
    const r = new ConfigReloader({
      initial: cfg(),
      load,
      apply: (c) => applied.push(c),
      emitEvent: (type, _s, fields) => events.push([type, fields]),
      log: silentLogger(),
    });
    return { r, applied, events };
  }

  it('a valid file is applied and reported (config_reloaded)', async () => {
    const next = cfg((d) => (d.thermostat = { default_setpoint_c: 19 }));
    const { r, applied, events } = setup(async () => next);
    const res = await r.reload();
    assert.deepEqual(res, { ok: true, config_hash: configHash(next), changed: ['thermostat.default_setpoint_c'], restart_required: [] });
    assert.equal(applied.length, 1);
    assert.equal(r.current.thermostat.default_setpoint_c, 19);
    assert.equal(events[0]?.[0], 'config_reloaded');
  });

  it('an invalid file keeps the running configuration and answers every issue (config_reload_failed)', async () => {
    const issues = [{ path: 'thermostat.mode', message: 'bad' }, { path: 'heater.max_power_w', message: 'must be positive' }];
    const { r, applied, events } = setup(async () => {
      throw new ConfigError('config_invalid', issues, '/etc/anchiale/agent.yaml');
    });
    const before = r.current;
    const res = await r.reload();
    assert.equal(res.ok, false);
    assert.ok(!res.ok && res.message.includes('running configuration kept'));
    assert.deepEqual(!res.ok && res.errors, issues);
    assert.equal(applied.length, 0);
    assert.equal(r.current, before);
    assert.equal(events[0]?.[0], 'config_reload_failed');
  });

  it('without a file there is nothing to reload; concurrent reloads are joined', async () => {
    const none = await setup(null).r.reload();
    assert.equal(none.ok, false);
    let loads = 0;
    const { r } = setup(async () => {
      loads++;
      await new Promise((res) => setTimeout(res, 20));
      return cfg();
    });
    const [a, b] = await Promise.all([r.reload(), r.reload()]);
    assert.equal(a, b);
    assert.equal(loads, 1);
  });
});
