/**
 * The Home Assistant discovery document against Home Assistant's documentation: device-based
 * discovery (`dev`, `o`, `cmps` with `p` and `unique_id`), the documented abbreviations, and per
 * platform the documented configuration keys and values (integrations/mqtt, climate.mqtt,
 * sensor.mqtt, binary_sensor.mqtt, number.mqtt, button.mqtt). Every key of the payload is checked
 * against these tables; every topic and template against the agent's own set topics and state.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildHaDiscovery, haDiscoveryTopic, HA_PHASES, type HaDiscoveryInput } from '../../agent/ops/ha-discovery.js';
import { parseSetTopic } from '../../agent/adapters/mqtt/set-topics.js';
import type { StateSnapshot } from '../../agent/runtime/state-snapshot.js';

/** HA "Supported abbreviations in MQTT discovery messages" (the entries a heater could use). */
const ABBREVIATIONS: Record<string, string> = {
  act_t: 'action_topic',
  act_tpl: 'action_template',
  avty: 'availability',
  avty_mode: 'availability_mode',
  avty_t: 'availability_topic',
  avty_tpl: 'availability_template',
  cmd_t: 'command_topic',
  cmd_tpl: 'command_template',
  cmps: 'components',
  curr_temp_t: 'current_temperature_topic',
  curr_temp_tpl: 'current_temperature_template',
  def_ent_id: 'default_entity_id',
  dev: 'device',
  dev_cla: 'device_class',
  e: 'encoding',
  en: 'enabled_by_default',
  ent_cat: 'entity_category',
  ent_pic: 'entity_picture',
  exp_aft: 'expire_after',
  frc_upd: 'force_update',
  ic: 'icon',
  json_attr_t: 'json_attributes_topic',
  json_attr_tpl: 'json_attributes_template',
  lrst_val_tpl: 'last_reset_value_template',
  max: 'max',
  max_temp: 'max_temp',
  min: 'min',
  min_temp: 'min_temp',
  mode: 'mode',
  mode_cmd_t: 'mode_command_topic',
  mode_cmd_tpl: 'mode_command_template',
  mode_stat_t: 'mode_state_topic',
  mode_stat_tpl: 'mode_state_template',
  modes: 'modes',
  name: 'name',
  o: 'origin',
  obj_id: 'object_id',
  off_dly: 'off_delay',
  ops: 'options',
  opt: 'optimistic',
  p: 'platform',
  pl_avail: 'payload_available',
  pl_not_avail: 'payload_not_available',
  pl_off: 'payload_off',
  pl_on: 'payload_on',
  pl_prs: 'payload_press',
  pl_rst: 'payload_reset',
  pr_mode_cmd_t: 'preset_mode_command_topic',
  pr_mode_cmd_tpl: 'preset_mode_command_template',
  pr_mode_stat_t: 'preset_mode_state_topic',
  pr_mode_val_tpl: 'preset_mode_value_template',
  pr_modes: 'preset_modes',
  ret: 'retain',
  stat_cla: 'state_class',
  stat_t: 'state_topic',
  step: 'step',
  sug_dsp_prc: 'suggested_display_precision',
  temp_cmd_t: 'temperature_command_topic',
  temp_cmd_tpl: 'temperature_command_template',
  temp_stat_t: 'temperature_state_topic',
  temp_stat_tpl: 'temperature_state_template',
  temp_unit: 'temperature_unit',
  uniq_id: 'unique_id',
  unit_of_meas: 'unit_of_measurement',
  val_tpl: 'value_template',
};
const DEVICE_ABBREVIATIONS: Record<string, string> = {
  cu: 'configuration_url',
  cns: 'connections',
  ids: 'identifiers',
  name: 'name',
  mf: 'manufacturer',
  mdl: 'model',
  mdl_id: 'model_id',
  hw: 'hw_version',
  sw: 'sw_version',
  sa: 'suggested_area',
  sn: 'serial_number',
};
const ORIGIN_ABBREVIATIONS: Record<string, string> = { name: 'name', sw: 'sw_version', url: 'support_url' };

/** Device-based discovery: what the root may hold (device and origin required). */
const ROOT_KEYS = new Set([
  'device', 'origin', 'components', 'availability', 'availability_topic', 'availability_mode', 'availability_template',
  'payload_available', 'payload_not_available', 'command_topic', 'state_topic', 'qos', 'encoding',
]);

/** Keys every MQTT entity platform documents. */
const ENTITY_COMMON = [
  'platform', 'unique_id', 'default_entity_id', 'object_id', 'name', 'icon', 'entity_category', 'entity_picture', 'enabled_by_default',
  'json_attributes_topic', 'json_attributes_template', 'qos', 'encoding', 'availability', 'availability_topic', 'availability_mode',
  'availability_template', 'payload_available', 'payload_not_available',
];
const PLATFORM_KEYS: Record<string, Set<string>> = {
  climate: new Set([
    ...ENTITY_COMMON, 'action_template', 'action_topic', 'current_humidity_template', 'current_humidity_topic',
    'current_temperature_template', 'current_temperature_topic', 'fan_mode_command_template', 'fan_mode_command_topic',
    'fan_mode_state_template', 'fan_mode_state_topic', 'fan_modes', 'max_humidity', 'max_temp', 'min_humidity', 'min_temp',
    'mode_command_template', 'mode_command_topic', 'mode_state_template', 'mode_state_topic', 'modes', 'optimistic',
    'payload_off', 'payload_on', 'power_command_template', 'power_command_topic', 'precision', 'preset_mode_command_template',
    'preset_mode_command_topic', 'preset_mode_state_topic', 'preset_mode_value_template', 'preset_modes', 'retain',
    'swing_mode_command_template', 'swing_mode_command_topic', 'swing_mode_state_template', 'swing_mode_state_topic',
    'swing_modes', 'target_humidity_command_template', 'target_humidity_command_topic', 'target_humidity_state_template',
    'target_humidity_state_topic', 'temperature_command_template', 'temperature_command_topic', 'temperature_state_template',
    'temperature_state_topic', 'temperature_unit', 'temp_step', 'value_template',
  ]),
  sensor: new Set([
    ...ENTITY_COMMON, 'device_class', 'expire_after', 'force_update', 'last_reset_value_template', 'options', 'state_class',
    'state_topic', 'suggested_display_precision', 'unit_of_measurement', 'value_template',
  ]),
  binary_sensor: new Set([
    ...ENTITY_COMMON, 'device_class', 'expire_after', 'force_update', 'off_delay', 'payload_off', 'payload_on', 'state_topic', 'value_template',
  ]),
  number: new Set([
    ...ENTITY_COMMON, 'command_template', 'command_topic', 'device_class', 'max', 'min', 'mode', 'optimistic', 'payload_reset',
    'retain', 'state_topic', 'step', 'unit_of_measurement', 'value_template',
  ]),
  button: new Set([...ENTITY_COMMON, 'command_template', 'command_topic', 'device_class', 'payload_press', 'retain']),
};
const REQUIRED: Record<string, string[]> = {
  climate: ['platform', 'unique_id'],
  sensor: ['platform', 'unique_id', 'state_topic'],
  binary_sensor: ['platform', 'unique_id', 'state_topic'],
  number: ['platform', 'unique_id', 'command_topic'],
  button: ['platform', 'unique_id', 'command_topic'],
};

/** Documented values. */
const CLIMATE_MODES = ['auto', 'off', 'cool', 'heat', 'dry', 'fan_only'];
const CLIMATE_ACTIONS = ['off', 'heating', 'cooling', 'drying', 'idle', 'fan', 'preheating', 'defrosting'];
const STATE_CLASSES = ['measurement', 'measurement_angle', 'total', 'total_increasing'];
const ENTITY_CATEGORIES = ['config', 'diagnostic'];
const SENSOR_UNITS: Record<string, string[]> = {
  power: ['mW', 'W', 'kW', 'MW', 'GW', 'TW', 'BTU/h'],
  energy: ['J', 'kJ', 'MJ', 'GJ', 'mWh', 'Wh', 'kWh', 'MWh', 'GWh', 'TWh', 'cal', 'kcal', 'Mcal', 'Gcal'],
  temperature: ['°C', '°F', 'K'],
};
const BINARY_SENSOR_CLASSES = ['battery', 'cold', 'connectivity', 'heat', 'power', 'problem', 'running', 'safety', 'update'];
const NUMBER_MODES = ['auto', 'box', 'slider'];

const INPUT: HaDiscoveryInput = {
  nodeId: 'h-204',
  nodeName: 'Room 204 heater',
  baseTopic: 'anchiale/v1',
  agentVersion: '9.8.7',
  gpuName: 'NVIDIA GeForce RTX 3090',
  minSetpointC: 5,
  maxSetpointC: 30,
  minPowerCapW: 100,
  maxPowerCapW: 300,
};

/** A complete state document (typed: a field the templates read that the state lacks does not compile here). */
const STATE: StateSnapshot = {
  ts: '2026-11-26T07:00:00.000Z', mode: 'auto', preset: 'comfort', phase: 'heating', action: 'heating',
  room_temp_c: 20.4, setpoint_c: 21, setpoint_source: 'input', outdoor_temp_c: 4.5, demand: 0.62, power_limit_w: 240, power_cap_w: null,
  gpu: { power_w: 231.5, temp_c: 66, util_pct: 93, mem_used_mib: 5120, pstate: 'P2' },
  wall_power_w: 298, heat_w: 298, energy_kwh: 153.27,
  llm: { model: 'qwen2.5-7b-q4', loaded: true, accepting: true, slots: 2, max_slots: 4, jobs_active: 2, queued: 0, jobs_done: 1234, tokens_per_s: 58.1 },
  inputs_stale: [], reasons: ['below_setpoint'], safe_mode: false,
};

/**
 * The template shapes used: `{{ value_json.a.b }}`, `{{ 'X' if value_json.a else 'Y' }}` and
 * `{{ value_json.a if value_json.a is not none else N }}` (Jinja semantics; None → "None").
 */
function render(template: string, state: unknown): string {
  const get = (path: string) => {
    let v: unknown = state;
    for (const k of path.split('.')) {
      assert.ok(v !== null && typeof v === 'object' && Object.hasOwn(v, k), `template reads ${path}, which the state does not have`);
      v = (v as Record<string, unknown>)[k];
    }
    return v;
  };
  const plain = /^\{\{ value_json\.([a-z_.]+) \}\}$/.exec(template);
  if (plain) {
    const v = get(plain[1] as string);
    return v === null ? 'None' : String(v);
  }
  const cond = /^\{\{ '([^']*)' if value_json\.([a-z_.]+) else '([^']*)' \}\}$/.exec(template);
  if (cond) return get(cond[2] as string) ? (cond[1] as string) : (cond[3] as string);
  const orElse = /^\{\{ value_json\.([a-z_.]+) if value_json\.([a-z_.]+) is not none else (-?[0-9.]+) \}\}$/.exec(template);
  if (orElse && orElse[1] === orElse[2]) {
    const v = get(orElse[1] as string);
    return v === null ? (orElse[3] as string) : String(v);
  }
  assert.fail(`unexpected template shape: ${template}`);
}

function expand(obj: Record<string, unknown>, table: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const full = table[k] ?? k;
    assert.ok(!Object.hasOwn(out, full), `${k} given twice (abbreviated and in full)`);
    out[full] = v;
  }
  return out;
}

const payload = buildHaDiscovery(INPUT);
const root = expand(payload as unknown as Record<string, unknown>, ABBREVIATIONS);
const components = Object.entries(payload.cmps).map(([id, c]) => ({ id, c: expand(c, ABBREVIATIONS) }));
const stateTopic = 'anchiale/v1/h-204/state';
const setPrefix = 'anchiale/v1/h-204/set/';
const bounds = { minSetpointC: 5, maxSetpointC: 30, minPowerW: 100, maxPowerW: 300 };

describe('Home Assistant discovery document', () => {
  it('is published at <prefix>/device/anchiale_<id>/config', () => {
    assert.equal(haDiscoveryTopic('homeassistant', 'h-204'), 'homeassistant/device/anchiale_h-204/config');
    assert.equal(haDiscoveryTopic('ha/site', 'h1'), 'ha/site/device/anchiale_h1/config');
    // HA: the object id level is [a-zA-Z0-9_-].
    assert.match(haDiscoveryTopic('homeassistant', 'h-204').split('/')[2] as string, /^[a-zA-Z0-9_-]+$/);
  });

  it('root: only documented shared keys; device and origin present with documented keys; availability from <base>/<id>/status', () => {
    for (const k of Object.keys(root)) assert.ok(ROOT_KEYS.has(k), `root key ${k} is not a documented shared option`);
    const dev = expand(payload.dev, DEVICE_ABBREVIATIONS);
    const origin = expand(payload.o, ORIGIN_ABBREVIATIONS);
    for (const k of Object.keys(dev)) assert.ok(Object.values(DEVICE_ABBREVIATIONS).includes(k) || k === 'via_device', `device key ${k}`);
    for (const k of Object.keys(origin)) assert.ok(Object.values(ORIGIN_ABBREVIATIONS).includes(k), `origin key ${k}`);
    assert.deepEqual(dev['identifiers'], ['anchiale_h-204']);
    assert.equal(dev['name'], 'Room 204 heater');
    assert.equal(dev['sw_version'], '9.8.7');
    assert.match(String(dev['model']), /RTX 3090/);
    assert.equal(origin['name'], 'anchiale');
    assert.equal(root['availability_topic'], 'anchiale/v1/h-204/status');
    assert.equal(root['payload_available'], 'online');
    assert.equal(root['payload_not_available'], 'offline');
    assert.equal(root['qos'], 1);
    // Without a node name the device is still named.
    assert.equal(buildHaDiscovery({ ...INPUT, nodeName: null }).dev.name, 'AnchIAle h-204');
  });

  it('every component: a documented platform, only that platform\'s documented keys, the required ones, unique ids', () => {
    const uniqueIds = new Set<string>();
    const entityIds = new Set<string>();
    for (const { id, c } of components) {
      const platform = String(c['platform']);
      const allowed = PLATFORM_KEYS[platform];
      assert.ok(allowed, `${id}: platform ${platform} is not one the table covers`);
      for (const k of Object.keys(c)) assert.ok(allowed.has(k), `${id} (${platform}): ${k} is not a documented key`);
      for (const k of REQUIRED[platform] ?? []) assert.ok(c[k] !== undefined, `${id}: ${k} is required`);
      assert.equal(c['object_id'], undefined, `${id}: object_id is deprecated (default_entity_id)`);
      const uid = String(c['unique_id']);
      assert.ok(!uniqueIds.has(uid), `unique_id ${uid} twice`);
      uniqueIds.add(uid);
      const eid = String(c['default_entity_id']);
      assert.match(eid, new RegExp(`^${platform}\\.[a-z0-9_]+$`), `${id}: default_entity_id ${eid}`);
      assert.ok(!entityIds.has(eid), `default_entity_id ${eid} twice`);
      entityIds.add(eid);
      assert.match(id, /^[a-zA-Z0-9_-]+$/);
      if (c['entity_category'] !== undefined) assert.ok(ENTITY_CATEGORIES.includes(String(c['entity_category'])), `${id}: entity_category`);
      if (c['state_class'] !== undefined) assert.ok(STATE_CLASSES.includes(String(c['state_class'])), `${id}: state_class`);
      if (c['icon'] !== undefined) assert.match(String(c['icon']), /^mdi:[a-z0-9-]+$/);
    }
    assert.deepEqual(
      components.map(({ id, c }) => `${id}:${String(c['platform'])}`).sort(),
      [
        'climate:climate', 'drain:button', 'energy:sensor', 'gpu_temperature:sensor', 'heat_power:sensor', 'jobs_done:sensor',
        'phase:sensor', 'power_cap:number', 'resume:button', 'safe_mode:binary_sensor', 'tokens_per_s:sensor',
      ],
    );
  });

  it('climate: modes off/heat/auto, presets without none, wired to state and set topics, action from the state', () => {
    const c = components.find((x) => x.id === 'climate')?.c as Record<string, unknown>;
    assert.deepEqual(c['modes'], ['off', 'heat', 'auto']);
    for (const m of c['modes'] as string[]) assert.ok(CLIMATE_MODES.includes(m), `mode ${m}`);
    assert.deepEqual(c['preset_modes'], ['frost', 'eco', 'comfort', 'boost']);
    assert.ok(!(c['preset_modes'] as string[]).includes('none'), 'HA refuses preset_modes with none');
    assert.equal(c['name'], null, 'the main entity takes the device name');
    for (const k of ['mode_state_topic', 'preset_mode_state_topic', 'temperature_state_topic', 'current_temperature_topic', 'action_topic']) {
      assert.equal(c[k], stateTopic, k);
    }
    assert.equal(c['mode_command_topic'], `${setPrefix}mode`);
    assert.equal(c['preset_mode_command_topic'], `${setPrefix}preset`);
    assert.equal(c['temperature_command_topic'], `${setPrefix}setpoint`);
    assert.equal(c['min_temp'], 5);
    assert.equal(c['max_temp'], 30);
    assert.ok([0.1, 0.5, 1].includes(c['precision'] as number), 'precision 0.1, 0.5 or 1.0');
    assert.ok(['C', 'F'].includes(String(c['temperature_unit'])));
    assert.equal(render(String(c['mode_state_template']), STATE), 'auto');
    assert.equal(render(String(c['preset_mode_value_template']), STATE), 'comfort');
    assert.equal(render(String(c['temperature_state_template']), STATE), '21');
    assert.equal(render(String(c['current_temperature_template']), STATE), '20.4');
    for (const action of ['off', 'idle', 'heating'] as const) {
      const out = render(String(c['action_template']), { ...STATE, action });
      assert.ok(CLIMATE_ACTIONS.includes(out), `action ${out}`);
    }
    // Unknown values render None, which HA reads as unknown.
    assert.equal(render(String(c['current_temperature_template']), { ...STATE, room_temp_c: null }), 'None');
  });

  it('sensors: device classes, state classes and units as documented; templates read the state', () => {
    const table: Array<[string, string | undefined, string, string | undefined, string]> = [
      // id, device_class, state_class, unit, rendered from STATE
      ['heat_power', 'power', 'measurement', 'W', '298'],
      ['energy', 'energy', 'total_increasing', 'kWh', '153.27'],
      ['gpu_temperature', 'temperature', 'measurement', '°C', '66'],
      ['tokens_per_s', undefined, 'measurement', 'tokens/s', '58.1'],
      ['jobs_done', undefined, 'total_increasing', undefined, '1234'],
    ];
    for (const [id, dc, sc, unit, value] of table) {
      const c = components.find((x) => x.id === id)?.c as Record<string, unknown>;
      assert.ok(c, id);
      assert.equal(c['device_class'], dc, `${id} device_class`);
      assert.equal(c['state_class'], sc, `${id} state_class`);
      assert.equal(c['unit_of_measurement'], unit, `${id} unit`);
      if (dc) assert.ok((SENSOR_UNITS[dc] ?? []).includes(unit as string), `${id}: ${String(unit)} is a documented unit of ${dc}`);
      assert.equal(c['state_topic'], stateTopic);
      assert.equal(render(String(c['value_template']), STATE), value, `${id} value`);
    }
    // energy: HA requires total or total_increasing for the energy device class.
    // The enum sensor: options = every phase, no unit, no state class.
    const phase = components.find((x) => x.id === 'phase')?.c as Record<string, unknown>;
    assert.equal(phase['device_class'], 'enum');
    assert.deepEqual(phase['options'], [...HA_PHASES]);
    assert.equal(phase['unit_of_measurement'], undefined);
    assert.equal(phase['state_class'], undefined);
    for (const p of HA_PHASES) assert.ok((phase['options'] as string[]).includes(render(String(phase['value_template']), { ...STATE, phase: p })));
  });

  it('safe-mode binary sensor renders ON/OFF (its payload_on/off) from safe_mode', () => {
    const c = components.find((x) => x.id === 'safe_mode')?.c as Record<string, unknown>;
    assert.ok(BINARY_SENSOR_CLASSES.includes(String(c['device_class'])));
    const on = (c['payload_on'] as string | undefined) ?? 'ON';
    const off = (c['payload_off'] as string | undefined) ?? 'OFF';
    assert.equal(render(String(c['value_template']), { ...STATE, safe_mode: true }), on);
    assert.equal(render(String(c['value_template']), { ...STATE, safe_mode: false }), off);
  });

  it('every command Home Assistant can send is accepted by the agent\'s set topics', () => {
    const send = (topic: unknown, payloadText: string) => {
      assert.ok(typeof topic === 'string' && topic.startsWith(setPrefix), `command topic ${String(topic)} is a set topic of the node`);
      return parseSetTopic(topic.slice(setPrefix.length), Buffer.from(payloadText), bounds);
    };
    const climate = components.find((x) => x.id === 'climate')?.c as Record<string, unknown>;
    for (const m of climate['modes'] as string[]) assert.equal(send(climate['mode_command_topic'], m).ok, true, `mode ${m}`);
    // HA offers `none` besides the listed presets.
    for (const p of [...(climate['preset_modes'] as string[]), 'none']) assert.equal(send(climate['preset_mode_command_topic'], p).ok, true, `preset ${p}`);
    for (const t of [climate['min_temp'], climate['max_temp'], 21.5]) assert.equal(send(climate['temperature_command_topic'], String(t)).ok, true, `setpoint ${String(t)}`);

    const cap = components.find((x) => x.id === 'power_cap')?.c as Record<string, unknown>;
    assert.ok(NUMBER_MODES.includes(String(cap['mode'])));
    assert.equal(cap['unit_of_measurement'], 'W');
    assert.equal(cap['min'], 100);
    assert.equal(cap['max'], 300);
    for (const w of [cap['min'], cap['max'], 150]) {
      const r = send(cap['command_topic'], String(w));
      assert.deepEqual(r, { ok: true, command: { kind: 'power_cap', watts: w } });
    }
    assert.equal(cap['state_topic'], `${setPrefix.replace(/\/set\/$/, '')}/state`, 'the cap is read back from the state');
    assert.equal(render(String(cap['value_template']), STATE), '300', 'no cap reads as the site ceiling');
    assert.equal(render(String(cap['value_template']), { ...STATE, power_cap_w: 150 }), '150');

    for (const [id, kind] of [['drain', 'drain'], ['resume', 'resume']] as const) {
      const b = components.find((x) => x.id === id)?.c as Record<string, unknown>;
      assert.deepEqual(send(b['command_topic'], String(b['payload_press'] ?? 'PRESS')), { ok: true, command: { kind } });
    }
  });

  it('power-cap bounds are whole watts, min ≤ max even when the site ceiling is under the card minimum', () => {
    const p = buildHaDiscovery({ ...INPUT, minPowerCapW: 125.4, maxPowerCapW: 99.6 });
    assert.equal(p.cmps['power_cap']?.['min'], 100);
    assert.equal(p.cmps['power_cap']?.['max'], 125);
  });

  it('node ids with "-" give valid entity ids; the payload stays small', () => {
    for (const c of Object.values(payload.cmps)) assert.match(String(c['def_ent_id']), /^[a-z_]+\.anchiale_h_204(_[a-z_]+)?$/);
    assert.ok(JSON.stringify(payload).length < 8192, `${JSON.stringify(payload).length} bytes`);
  });
});
