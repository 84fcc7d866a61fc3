import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import YAML from 'yaml';
import { configSchema, createConfigSchema, type AgentConfig } from '../../agent/config/schema.js';

const MINIMAL = { version: 1, inputs: { room_temperature: { preset: 'z2m', device: 'room204/trv' } } };

function parse(doc: unknown) {
  return configSchema.safeParse(doc);
}

/** Deep-merges `patch` into a copy of `base` (objects only; arrays and scalars replace). */
function merge(base: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch) || base === null || typeof base !== 'object' || Array.isArray(base)) return patch;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(patch)) out[k] = merge(out[k], v);
  return out;
}

function issuesOf(doc: unknown): string[] {
  const r = parse(doc);
  return r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
}

/** The example of spec/config.md, verbatim (the contract: it must stay valid). */
const SPEC_EXAMPLE = `
version: 1
node:
  id: h204                      # default: hostname, sanitised to [a-z0-9_-]; provisioning sets it
  name: "Room 204 heater"
  location: "Building B / 204"
mqtt:
  url: mqtt://broker.example:1883   # mqtts:// with tls, mqtt+unix:///path accepted  (required for \`run\`)
  base_topic: anchiale/v1
  protocol_version: 5           # 5 or 4 (MQTT 3.1.1)
  client_id: null               # default anchiale-<node.id>
  username: null
  password_file: null           # or ANCHIALE_MQTT_PASSWORD
  tls: {ca_file: null, cert_file: null, key_file: null, reject_unauthorized: true}
  keepalive_s: 30
  reconnect: {min_s: 1, max_s: 60}       # exponential backoff with jitter
  discovery: {enabled: true, prefix: homeassistant}
inputs:                         # where the building's values come from
  room_temperature: {preset: z2m, device: room204/trv}   # required; z2m fills topic, path local_temperature, max_age_s 7200
  setpoint:         {topic: zigbee2mqtt/room204/trv, path: occupied_heating_setpoint}   # no max age by default
  outdoor_temperature: {topic: weather/lyon/temp_c, max_age_s: 7200}
  wall_power:       {preset: shelly_gen2, device: shellyplusplugs-a8032ab1}   # default max_age_s 300
  window_open:      {topic: zigbee2mqtt/room204/window, path: contact, invert: true}   # open → no heat
thermostat:
  mode: auto                    # off | heat | auto
  default_setpoint_c: 20
  min_setpoint_c: 5
  max_setpoint_c: 30
  override_s: 14400             # longest life of an override in auto
  presets: {frost: 8, eco: 17, comfort: 21, boost: 23}
  controller: pi                # pi | tpi | hysteresis
  min_on_s: 300                 # shortest heating period once started
  min_off_s: 300
  schedule:
    timezone: Europe/Paris
    entries:                    # cron expressions (node-cron), applied in auto mode
      - {cron: "0 7 * * 1-5", preset: comfort}
      - {cron: "0 19 * * 1-5", preset: eco}
  optimal_start: true           # start early so the comfort setpoint is met at the scheduled time
heater:
  backend: nvidia               # nvidia | sim
  gpu: {index: 0, uuid: null}
  max_power_w: 300              # site ceiling, never exceeded (clamped to the card's max)
  min_power_w: null             # default: the card's min limit
  power_limit_method: helper    # helper (root path unit) | direct (agent runs as root) | none
  limit_deadband_w: 5           # smaller changes are not written
  limit_min_interval_s: 30      # at most one write per interval, except safety reductions
  host_w: 40                    # rest of the unit (CPU, fans, PSU losses) for heat estimates
  sim: {}
safety:
  stale_action: no_heat         # no_heat | hold_minimum (minimum limit, one sequence, ≤ 2 h)
  max_room_temp_c: 27           # cut-off; heat resumes 1 K below it after min_off_s
  gpu_throttle_temp_c: 80       # limit reduced step by step above this
  gpu_stop_temp_c: 88           # no work above this until back under the throttle temperature
  implausible_after_s: 7200     # demand > 0.5 this long while the room moves < 0.1 K → input_implausible
llm:
  models_dir: /var/lib/anchiale/models
  default_model: null           # file name in models_dir
  keep_alive_s: 600             # keep the model loaded this long after heat demand ends
  max_parallel: 4
  context_size: 4096            # per sequence
  gpu_layers: max               # max | auto | number
  threads: null                 # default: what node-llama-cpp picks
jobs:
  enabled: true
  fleet: true                   # join <base>/jobs/<model>/submit with a shared subscription
  share_group: anchiale
  serve_without_heat: false     # also serve when the room is warm (at the minimum power limit)
  drain_timeout_s: 120
  reply_prefix: null            # default <mqtt.base_topic>/replies/
  max_queue: 8
  max_tokens_limit: 4096
state:
  dir: /var/lib/anchiale        # persisted counters (energy_kwh, jobs_done) and outbox
  interval_s: 30
log:
  level: info
metrics:
  listen: null                  # e.g. 127.0.0.1:9464 for Prometheus
`;

describe('config schema: defaults', () => {
  const r = parse(MINIMAL);
  assert.ok(r.success, JSON.stringify(r.error?.issues));
  const cfg: AgentConfig = r.data;

  const defaults: [string, (c: AgentConfig) => unknown, unknown][] = [
    ['node.id (schema fallback; the loader passes the hostname)', (c) => c.node.id, 'anchiale'],
    ['node.name', (c) => c.node.name, null],
    ['mqtt.url', (c) => c.mqtt.url, null],
    ['mqtt.base_topic', (c) => c.mqtt.base_topic, 'anchiale/v1'],
    ['mqtt.protocol_version', (c) => c.mqtt.protocol_version, 5],
    ['mqtt.client_id', (c) => c.mqtt.client_id, null],
    ['mqtt.password', (c) => c.mqtt.password, null],
    ['mqtt.tls', (c) => c.mqtt.tls, { ca_file: null, cert_file: null, key_file: null, reject_unauthorized: true }],
    ['mqtt.keepalive_s', (c) => c.mqtt.keepalive_s, 30],
    ['mqtt.reconnect', (c) => c.mqtt.reconnect, { min_s: 1, max_s: 60 }],
    ['mqtt.discovery', (c) => c.mqtt.discovery, { enabled: true, prefix: 'homeassistant' }],
    ['inputs.setpoint (absent: not configured)', (c) => c.inputs.setpoint, undefined],
    ['thermostat.mode', (c) => c.thermostat.mode, 'auto'],
    ['thermostat.default/min/max setpoint', (c) => [c.thermostat.default_setpoint_c, c.thermostat.min_setpoint_c, c.thermostat.max_setpoint_c], [20, 5, 30]],
    ['thermostat.override_s', (c) => c.thermostat.override_s, 14400],
    ['thermostat.presets', (c) => c.thermostat.presets, { frost: 8, eco: 17, comfort: 21, boost: 23 }],
    ['thermostat.controller', (c) => c.thermostat.controller, 'pi'],
    ['thermostat.pi', (c) => c.thermostat.pi, { kp: 2.5, ti_s: 3600, outdoor_gain: 0 }],
    ['thermostat.precharge_k', (c) => c.thermostat.precharge_k, 0.3],
    ['thermostat.cycle_s', (c) => c.thermostat.cycle_s, 1800],
    ['thermostat.min_on_s / min_off_s', (c) => [c.thermostat.min_on_s, c.thermostat.min_off_s], [300, 300]],
    ['thermostat.schedule', (c) => c.thermostat.schedule, { timezone: 'Europe/Paris', entries: [] }],
    ['thermostat.optimal_start', (c) => c.thermostat.optimal_start, true],
    ['heater.backend', (c) => c.heater.backend, 'nvidia'],
    ['heater.gpu', (c) => c.heater.gpu, { index: 0, uuid: null }],
    ['heater powers', (c) => [c.heater.max_power_w, c.heater.min_power_w, c.heater.efficient_power_w, c.heater.host_w], [300, null, null, 40]],
    ['heater.power_limit_method', (c) => c.heater.power_limit_method, 'helper'],
    ['heater limit writes', (c) => [c.heater.limit_deadband_w, c.heater.limit_min_interval_s], [5, 30]],
    [
      'heater.sim',
      (c) => c.heater.sim,
      { idle_w: 15, loaded_idle_w: 30, min_limit_w: 100, max_limit_w: 350, host_w: 40, psu_efficiency: 0.9, peak_tps: 70, load_s: 10, assume_work: null },
    ],
    [
      'safety',
      (c) => c.safety,
      { stale_action: 'no_heat', hold_minimum_max_s: 7200, max_room_temp_c: 27, gpu_throttle_temp_c: 80, gpu_stop_temp_c: 88, implausible_after_s: 7200 },
    ],
    [
      'llm',
      (c) => c.llm,
      { models_dir: '/var/lib/anchiale/models', default_model: null, keep_alive_s: 600, max_parallel: 4, context_size: 4096, gpu_layers: 'max', threads: null },
    ],
    [
      'jobs',
      (c) => c.jobs,
      { enabled: true, fleet: true, share_group: 'anchiale', serve_without_heat: false, stretch_wait_s: 30, drain_timeout_s: 120, reply_prefix: null, max_queue: 8, max_tokens_limit: 4096, max_request_bytes: 262144 },
    ],
    ['state', (c) => c.state, { dir: '/var/lib/anchiale', interval_s: 30, outbox_max_entries: 10000, outbox_max_bytes: 67108864 }],
    ['log.level', (c) => c.log.level, 'info'],
    ['metrics.listen', (c) => c.metrics.listen, null],
  ];
  for (const [name, get, expected] of defaults) {
    it(`fills ${name}`, () => assert.deepEqual(get(cfg), expected));
  }

  it('takes the node id default as a parameter (no host lookup in the schema)', () => {
    const r2 = createConfigSchema({ defaultNodeId: 'room-204' }).parse(MINIMAL);
    assert.equal(r2.node.id, 'room-204');
  });

  it('keeps the input as written: presets, not the schema, fill format/scale/offset/invert', () => {
    assert.deepEqual(cfg.inputs.room_temperature, { preset: 'z2m', device: 'room204/trv' });
  });
});

describe('config schema: accepted values', () => {
  it('accepts the example of spec/config.md verbatim', () => {
    const r = parse(YAML.parse(SPEC_EXAMPLE));
    assert.ok(r.success, JSON.stringify(r.error?.issues));
    assert.equal(r.data.node.id, 'h204');
    assert.equal(r.data.thermostat.schedule.entries.length, 2);
  });

  const accepted: [string, unknown][] = [
    ['protocol_version 4', { mqtt: { protocol_version: 4 } }],
    ['mqtts url', { mqtt: { url: 'mqtts://broker.example:8883' } }],
    ['mqtt+unix url', { mqtt: { url: 'mqtt+unix:///run/mosquitto/mqtt.sock' } }],
    ['ws url', { mqtt: { url: 'ws://broker.example:9001/mqtt' } }],
    ['mode off', { thermostat: { mode: 'off' } }],
    ['mode heat', { thermostat: { mode: 'heat' } }],
    ['controller tpi', { thermostat: { controller: 'tpi' } }],
    ['controller hysteresis', { thermostat: { controller: 'hysteresis' } }],
    ['schedule with setpoint_c and a lower-case zone', { thermostat: { schedule: { timezone: 'UTC', entries: [{ cron: '30 6 * * *', setpoint_c: 19.5 }] } } }],
    ['six-field cron', { thermostat: { schedule: { entries: [{ cron: '0 0 7 * * mon-fri', preset: 'boost' }] } } }],
    ['stale_action hold_minimum', { safety: { stale_action: 'hold_minimum' } }],
    ['backend sim with physics', { heater: { backend: 'sim', sim: { max_limit_w: 450, assume_work: true } } }],
    ['power_limit_method direct', { heater: { power_limit_method: 'direct' } }],
    ['power_limit_method none', { heater: { power_limit_method: 'none' } }],
    ['min and efficient power', { heater: { min_power_w: 120, efficient_power_w: 250 } }],
    ['gpu uuid', { heater: { gpu: { uuid: 'GPU-8f2c' } } }],
    ['gpu_layers auto', { llm: { gpu_layers: 'auto' } }],
    ['gpu_layers 0', { llm: { gpu_layers: 0 } }],
    ['gpu_layers 33', { llm: { gpu_layers: 33, threads: 2, default_model: 'qwen.gguf' } }],
    ['reply_prefix ending in /', { jobs: { reply_prefix: 'site/replies/' } }],
    ['metrics listen IPv4', { metrics: { listen: '127.0.0.1:9464' } }],
    ['metrics listen IPv6', { metrics: { listen: '[::1]:9464' } }],
    ['metrics listen host name', { metrics: { listen: 'localhost:9464' } }],
    ['log level debug', { log: { level: 'debug' } }],
    ['log level silent', { log: { level: 'silent' } }],
    ['tasmota wall power', { inputs: { wall_power: { preset: 'tasmota', device: 'plug1' } } }],
    ['shelly_gen1 wall power', { inputs: { wall_power: { preset: 'shelly_gen1', device: 'shellyplug-s-1' } } }],
    ['preset with overrides', { inputs: { room_temperature: { preset: 'z2m', device: 'sensor', path: 'temperature', max_age_s: 1800, timestamp_path: 'last_seen' } } }],
    ['plain number input with scale/offset', { inputs: { outdoor_temperature: { topic: 'w/t', format: 'number', scale: 0.1, offset: -1 } } }],
    ['optional input set to null (not configured)', { inputs: { setpoint: null } }],
    ['node id with _ and -', { node: { id: 'room_204-b' } }],
  ];
  for (const [name, patch] of accepted) {
    it(`accepts ${name}`, () => {
      const r = parse(merge(MINIMAL, patch));
      assert.ok(r.success, JSON.stringify(r.error?.issues));
    });
  }

  it('canonicalises the time zone spelling', () => {
    const r = configSchema.parse(merge(MINIMAL, { thermostat: { schedule: { timezone: 'europe/paris' } } }));
    assert.equal(r.thermostat.schedule.timezone, 'Europe/Paris');
  });
});

describe('config schema: rejected values, each at its key path', () => {
  const rejected: [string, unknown, string][] = [
    ['version 2', { version: 2 }, 'version'],
    ['unknown top-level key', { bogus: 1 }, ''],
    ['unknown nested key', { mqtt: { tls: { ca: 'x' } } }, 'mqtt.tls'],
    ['node id with upper case', { node: { id: 'Room204' } }, 'node.id'],
    ['http url', { mqtt: { url: 'http://broker' } }, 'mqtt.url'],
    ['url without host', { mqtt: { url: 'mqtt://' } }, 'mqtt.url'],
    ['mqtt+unix without path', { mqtt: { url: 'mqtt+unix://' } }, 'mqtt.url'],
    ['protocol_version 3', { mqtt: { protocol_version: 3 } }, 'mqtt.protocol_version'],
    ['base_topic with wildcard', { mqtt: { base_topic: 'a/#' } }, 'mqtt.base_topic'],
    ['keepalive 0', { mqtt: { keepalive_s: 0 } }, 'mqtt.keepalive_s'],
    ['reconnect min > max', { mqtt: { reconnect: { min_s: 90, max_s: 60 } } }, 'mqtt.reconnect.min_s'],
    ['plain input without topic', { inputs: { setpoint: { path: 'x' } } }, 'inputs.setpoint.topic'],
    ['preset input without device', { inputs: { wall_power: { preset: 'shelly_gen2' } } }, 'inputs.wall_power.device'],
    ['device without preset', { inputs: { wall_power: { topic: 'a/b', device: 'x' } } }, 'inputs.wall_power.device'],
    ['unknown preset', { inputs: { wall_power: { preset: 'sonoff', device: 'x' } } }, 'inputs.wall_power.preset'],
    ['preset that cannot give the input', { inputs: { setpoint: { preset: 'tasmota', device: 'x' } } }, 'inputs.setpoint.preset'],
    ['unknown input', { inputs: { humidity: { topic: 'x' } } }, 'inputs'],
    ['invalid input path', { inputs: { setpoint: { topic: 'a', path: 'a..b' } } }, 'inputs.setpoint.path'],
    ['invert on a number', { inputs: { setpoint: { topic: 'a', invert: true } } }, 'inputs.setpoint.invert'],
    ['room temperature without max age', { inputs: { room_temperature: { topic: 'a', max_age_s: null } } }, 'inputs.room_temperature.max_age_s'],
    ['negative max age', { inputs: { outdoor_temperature: { topic: 'a', max_age_s: -5 } } }, 'inputs.outdoor_temperature.max_age_s'],
    ['unknown mode', { thermostat: { mode: 'cool' } }, 'thermostat.mode'],
    ['min_on_s as a string', { thermostat: { min_on_s: '5m' } }, 'thermostat.min_on_s'],
    ['zero min_off_s', { thermostat: { min_off_s: 0 } }, 'thermostat.min_off_s'],
    ['min setpoint above max', { thermostat: { min_setpoint_c: 25, max_setpoint_c: 20 } }, 'thermostat.min_setpoint_c'],
    ['default setpoint outside the range', { thermostat: { default_setpoint_c: 35 } }, 'thermostat.default_setpoint_c'],
    ['preset outside the range', { thermostat: { presets: { boost: 40 } } }, 'thermostat.presets.boost'],
    ['bad cron', { thermostat: { schedule: { entries: [{ cron: '0 7 * * 1-5', preset: 'eco' }, { cron: '61 * * * *', preset: 'eco' }] } } }, 'thermostat.schedule.entries.1.cron'],
    ['empty cron', { thermostat: { schedule: { entries: [{ cron: '', preset: 'eco' }] } } }, 'thermostat.schedule.entries.0.cron'],
    ['entry with preset and setpoint', { thermostat: { schedule: { entries: [{ cron: '0 7 * * *', preset: 'eco', setpoint_c: 19 }] } } }, 'thermostat.schedule.entries.0'],
    ['entry with neither', { thermostat: { schedule: { entries: [{ cron: '0 7 * * *' }] } } }, 'thermostat.schedule.entries.0'],
    ['entry setpoint outside the range', { thermostat: { schedule: { entries: [{ cron: '0 7 * * *', setpoint_c: 45 }] } } }, 'thermostat.schedule.entries.0.setpoint_c'],
    ['bad time zone', { thermostat: { schedule: { timezone: 'Mars/Olympus' } } }, 'thermostat.schedule.timezone'],
    ['negative pi gain', { thermostat: { pi: { kp: -1 } } }, 'thermostat.pi.kp'],
    ['pre-charge above 1 K', { thermostat: { precharge_k: 1.5 } }, 'thermostat.precharge_k'],
    ['unknown backend', { heater: { backend: 'amd' } }, 'heater.backend'],
    ['zero max power', { heater: { max_power_w: 0 } }, 'heater.max_power_w'],
    ['min power above max', { heater: { min_power_w: 350 } }, 'heater.min_power_w'],
    ['efficient power above max', { heater: { efficient_power_w: 400 } }, 'heater.efficient_power_w'],
    ['sim psu efficiency above 1', { heater: { sim: { psu_efficiency: 1.2 } } }, 'heater.sim.psu_efficiency'],
    ['sim min limit above max', { heater: { sim: { min_limit_w: 400 } } }, 'heater.sim.min_limit_w'],
    ['throttle above stop', { safety: { gpu_throttle_temp_c: 90 } }, 'safety.gpu_throttle_temp_c'],
    ['unknown stale action', { safety: { stale_action: 'panic' } }, 'safety.stale_action'],
    ['gpu_layers -1', { llm: { gpu_layers: -1 } }, 'llm.gpu_layers'],
    ['gpu_layers all', { llm: { gpu_layers: 'all' } }, 'llm.gpu_layers'],
    ['max_parallel 0', { llm: { max_parallel: 0 } }, 'llm.max_parallel'],
    ['max_parallel 1.5', { llm: { max_parallel: 1.5 } }, 'llm.max_parallel'],
    ['reply_prefix without /', { jobs: { reply_prefix: 'site/replies' } }, 'jobs.reply_prefix'],
    ['share group with /', { jobs: { share_group: 'a/b' } }, 'jobs.share_group'],
    ['metrics listen without port', { metrics: { listen: '127.0.0.1' } }, 'metrics.listen'],
    ['metrics listen port 70000', { metrics: { listen: '127.0.0.1:70000' } }, 'metrics.listen'],
    ['log level verbose', { log: { level: 'verbose' } }, 'log.level'],
    ['state interval 0', { state: { interval_s: 0 } }, 'state.interval_s'],
  ];
  for (const [name, patch, path] of rejected) {
    it(`rejects ${name} at "${path}"`, () => {
      assert.deepEqual(issuesOf(merge(MINIMAL, patch)), [path]);
    });
  }

  it('rejects a missing room_temperature and a missing version', () => {
    assert.deepEqual(issuesOf({ inputs: {} }).sort(), ['inputs.room_temperature', 'version']);
  });

  it('reports cross-field errors together with type errors of the same section', () => {
    const paths = issuesOf(merge(MINIMAL, { thermostat: { mode: 3, min_setpoint_c: 31, bogus: true } }));
    assert.deepEqual(paths.sort(), ['thermostat', 'thermostat.min_setpoint_c', 'thermostat.mode']);
  });
});
