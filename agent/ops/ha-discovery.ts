/**
 * Home Assistant MQTT device discovery (spec/mqtt-api.md "Home Assistant"): one retained JSON
 * document at `<discovery.prefix>/device/anchiale_<id>/config` that sets up every entity of the
 * heater. Pure: configuration and node facts in, payload out.
 *
 * Device-based discovery (HA ≥ 2024.11), abbreviated keys as documented by Home Assistant
 * ("Supported abbreviations in MQTT discovery messages"):
 * - root: `dev` (device), `o` (origin), shared availability (`avty_t`, `pl_avail`, `pl_not_avail`)
 *   and `qos`; `cmps` holds the components, each with `p` (platform) and `uniq_id`, and
 *   `def_ent_id` (default_entity_id; `object_id` is deprecated).
 * - every state is read from the retained `<base>/<id>/state` JSON with value templates; every
 *   command goes to the plain set topics (`set/mode`, `set/setpoint`, `set/preset`,
 *   `set/power_cap`, `set/drain`, `set/resume`).
 * - the power-cap number has no state topic (the state document carries the enforced limit, not
 *   the operator cap), so Home Assistant keeps it optimistic (shows the last value it sent).
 * - an empty retained payload on the same topic removes the device (HaPublisher.removeDiscovery,
 *   `anchiale ha remove`).
 */

import type { Mode, Phase, Preset } from '../core/types.js';

/** Everything the payload depends on. */
export interface HaDiscoveryInput {
  nodeId: string;
  /** node.name; null: "AnchIAle <id>". */
  nodeName: string | null;
  /** mqtt.base_topic. */
  baseTopic: string;
  agentVersion: string;
  /** The card's name (device model), when known. */
  gpuName: string | null;
  /** thermostat.min_setpoint_c / max_setpoint_c. */
  minSetpointC: number;
  maxSetpointC: number;
  /** The set/power_cap bounds: the card's minimum limit and the site ceiling (min of card max and heater.max_power_w). */
  minPowerCapW: number;
  maxPowerCapW: number;
}

/** A component of `cmps` (abbreviated keys). */
export type HaComponent = Record<string, unknown> & { p: string; uniq_id: string };

export interface HaDiscoveryPayload {
  dev: { ids: string[]; name: string; mf: string; mdl: string; sw: string };
  o: { name: string; sw: string };
  avty_t: string;
  pl_avail: 'online';
  pl_not_avail: 'offline';
  qos: 1;
  cmps: Record<string, HaComponent>;
}

/** The climate modes (HVAC modes) and presets the agent offers; `none` is never listed (HA adds it). */
export const HA_MODES = ['off', 'heat', 'auto'] as const satisfies readonly Mode[];
export const HA_PRESETS = ['frost', 'eco', 'comfort', 'boost'] as const satisfies readonly Exclude<Preset, 'none'>[];
/** The values of `phase` in the state document (the phase enum sensor). */
export const HA_PHASES = ['off', 'idle', 'warming_up', 'heating', 'draining', 'safe', 'fault'] as const satisfies readonly Phase[];

/** `<prefix>/device/anchiale_<id>/config`. */
export function haDiscoveryTopic(prefix: string, nodeId: string): string {
  return `${prefix}/device/${haObjectId(nodeId)}/config`;
}

/** The discovery object id (and device identifier): `anchiale_<id>`. */
export function haObjectId(nodeId: string): string {
  return `anchiale_${nodeId}`;
}

/** `<domain>.anchiale_<id>[_<suffix>]` with `-` made `_` (entity ids allow [a-z0-9_] only). */
function entityId(domain: string, nodeId: string, suffix?: string): string {
  const slug = `anchiale_${nodeId}${suffix ? `_${suffix}` : ''}`.replace(/[^a-z0-9_]/g, '_');
  return `${domain}.${slug}`;
}

/** A value template reading a field of the state JSON (`gpu.temp_c` → `{{ value_json.gpu.temp_c }}`). */
export function stateTemplate(path: string): string {
  return `{{ value_json.${path} }}`;
}

export function buildHaDiscovery(i: HaDiscoveryInput): HaDiscoveryPayload {
  const n = `${i.baseTopic}/${i.nodeId}`;
  const state = `${n}/state`;
  const set = (what: string) => `${n}/set/${what}`;
  const uid = (suffix: string) => `anchiale_${i.nodeId}_${suffix}`;
  const minCap = Math.round(Math.min(i.minPowerCapW, i.maxPowerCapW));
  const maxCap = Math.round(Math.max(i.minPowerCapW, i.maxPowerCapW));

  const sensor = (suffix: string, name: string, path: string, extra: Record<string, unknown>): HaComponent => ({
    p: 'sensor',
    uniq_id: uid(suffix),
    def_ent_id: entityId('sensor', i.nodeId, suffix),
    name,
    stat_t: state,
    val_tpl: stateTemplate(path),
    ...extra,
  });

  const cmps: Record<string, HaComponent> = {
    climate: {
      p: 'climate',
      uniq_id: uid('climate'),
      def_ent_id: entityId('climate', i.nodeId),
      // null: the entity takes the device's name.
      name: null,
      modes: [...HA_MODES],
      mode_cmd_t: set('mode'),
      mode_stat_t: state,
      mode_stat_tpl: stateTemplate('mode'),
      pr_modes: [...HA_PRESETS],
      pr_mode_cmd_t: set('preset'),
      pr_mode_stat_t: state,
      pr_mode_val_tpl: stateTemplate('preset'),
      temp_cmd_t: set('setpoint'),
      temp_stat_t: state,
      temp_stat_tpl: stateTemplate('setpoint_c'),
      curr_temp_t: state,
      curr_temp_tpl: stateTemplate('room_temp_c'),
      act_t: state,
      act_tpl: stateTemplate('action'),
      min_temp: i.minSetpointC,
      max_temp: i.maxSetpointC,
      temp_step: 0.5,
      precision: 0.1,
      temp_unit: 'C',
      opt: false,
      ret: false,
    },
    heat_power: sensor('heat_power', 'Heat power', 'heat_w', { dev_cla: 'power', stat_cla: 'measurement', unit_of_meas: 'W' }),
    energy: sensor('energy', 'Energy', 'energy_kwh', { dev_cla: 'energy', stat_cla: 'total_increasing', unit_of_meas: 'kWh' }),
    gpu_temperature: sensor('gpu_temperature', 'GPU temperature', 'gpu.temp_c', {
      dev_cla: 'temperature',
      stat_cla: 'measurement',
      unit_of_meas: '°C',
      ent_cat: 'diagnostic',
    }),
    tokens_per_s: sensor('tokens_per_s', 'Tokens per second', 'llm.tokens_per_s', {
      stat_cla: 'measurement',
      unit_of_meas: 'tokens/s',
      ic: 'mdi:speedometer',
    }),
    jobs_done: sensor('jobs_done', 'Jobs done', 'llm.jobs_done', { stat_cla: 'total_increasing', ic: 'mdi:counter' }),
    phase: sensor('phase', 'Phase', 'phase', { dev_cla: 'enum', ops: [...HA_PHASES], ent_cat: 'diagnostic' }),
    power_cap: {
      p: 'number',
      uniq_id: uid('power_cap'),
      def_ent_id: entityId('number', i.nodeId, 'power_cap'),
      name: 'Power cap',
      cmd_t: set('power_cap'),
      // No cap shows as the site ceiling (sending it back sets a cap equal to the ceiling: the same).
      stat_t: state,
      val_tpl: `{{ value_json.power_cap_w if value_json.power_cap_w is not none else ${maxCap} }}`,
      min: minCap,
      max: maxCap,
      step: 1,
      mode: 'box',
      unit_of_meas: 'W',
      dev_cla: 'power',
      ent_cat: 'config',
      ret: false,
    },
    drain: {
      p: 'button',
      uniq_id: uid('drain'),
      def_ent_id: entityId('button', i.nodeId, 'drain'),
      name: 'Drain',
      cmd_t: set('drain'),
      pl_prs: 'drain',
      ic: 'mdi:pause-circle-outline',
    },
    resume: {
      p: 'button',
      uniq_id: uid('resume'),
      def_ent_id: entityId('button', i.nodeId, 'resume'),
      name: 'Resume',
      cmd_t: set('resume'),
      pl_prs: 'resume',
      ic: 'mdi:play-circle-outline',
    },
    safe_mode: {
      p: 'binary_sensor',
      uniq_id: uid('safe_mode'),
      def_ent_id: entityId('binary_sensor', i.nodeId, 'safe_mode'),
      name: 'Safe mode',
      stat_t: state,
      val_tpl: "{{ 'ON' if value_json.safe_mode else 'OFF' }}",
      dev_cla: 'problem',
      ent_cat: 'diagnostic',
    },
  };

  return {
    dev: {
      ids: [haObjectId(i.nodeId)],
      name: i.nodeName ?? `AnchIAle ${i.nodeId}`,
      mf: 'AnchIAle',
      mdl: i.gpuName ? `GPU heater (${i.gpuName})` : 'GPU heater',
      sw: i.agentVersion,
    },
    o: { name: 'anchiale', sw: i.agentVersion },
    avty_t: `${n}/status`,
    pl_avail: 'online',
    pl_not_avail: 'offline',
    qos: 1,
    cmps,
  };
}
