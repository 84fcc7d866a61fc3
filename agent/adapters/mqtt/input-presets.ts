/**
 * Config `inputs.<name>` → a fully resolved input spec (topic, format, path, scale, offset,
 * max age, timestamp path, invert). Presets fill in what common devices publish; every key given
 * explicitly in the config wins over the preset. Pure: no I/O.
 *
 * Presets (see docs in the table below and notes/platform-facts.md):
 * - `z2m` (Zigbee2MQTT): topic `zigbee2mqtt/<device>`, JSON.
 *   room_temperature `local_temperature` (a thermostat/TRV; for a plain temperature sensor
 *   override with `path: temperature`), max_age_s 7200 (TRVs report rarely);
 *   setpoint `occupied_heating_setpoint` (some TRVs: override `path: current_heating_setpoint`);
 *   outdoor_temperature `temperature`; wall_power `power` (smart plug);
 *   window_open `contact` with invert (a contact sensor reports `contact: true` when closed).
 *   If Zigbee2MQTT's `last_seen` is enabled (ISO_8601 or epoch), add `timestamp_path: last_seen`.
 * - `tasmota`: topic `tele/<device>/SENSOR`, JSON. wall_power `ENERGY.Power`;
 *   room/outdoor temperature `DS18B20.Temperature` (other sensors: override `path`, e.g.
 *   `AM2301.Temperature`, `DS18B20-1.Temperature`). Tasmota's `Time` has no time zone: do not
 *   use it as timestamp_path.
 * - `shelly_gen1`: wall_power `shellies/<device>/relay/0/power` (plain W);
 *   room/outdoor temperature `shellies/<device>/ext_temperature/0` (plain °C, add-on sensor).
 * - `shelly_gen2` (Plus/Pro, MQTT status notifications on): wall_power
 *   `<device>/status/switch:0` path `apower`; room/outdoor temperature
 *   `<device>/status/temperature:0` path `tC` (the Plus Add-on numbers its sensors from 100:
 *   override `topic: <device>/status/temperature:100`). Never use `switch:0`'s `temperature.tC`:
 *   it is the plug's own internal temperature.
 * Default max ages: 3600 s for temperatures, 300 s for wall_power, none for setpoint and
 * window_open; room_temperature must always have one (a stale room temperature means no heat).
 */
import { AgentError } from '../../errors.js';
import type { InputName } from '../../core/types.js';
import { parseInputPath } from './input-path.js';
import { isValidTopicFilter, isValidTopicName } from './topic-match.js';

export type InputFormat = 'auto' | 'json' | 'number' | 'text';
export type InputPreset = 'z2m' | 'tasmota' | 'shelly_gen1' | 'shelly_gen2';
export type InputKind = 'number' | 'boolean';

/**
 * One input as written in the config (snake_case keys). `undefined` = not given (the preset or
 * the default applies); `null` for path, max_age_s and timestamp_path = explicitly none.
 */
export interface InputConfig {
  preset?: InputPreset | null;
  device?: string | null;
  topic?: string | null;
  format?: InputFormat | null;
  path?: string | null;
  scale?: number | null;
  offset?: number | null;
  max_age_s?: number | null;
  timestamp_path?: string | null;
  invert?: boolean | null;
}

export interface ResolvedInput {
  name: InputName;
  /** Topic name or filter to subscribe to. */
  topic: string;
  format: InputFormat;
  path: string | null;
  scale: number;
  offset: number;
  /** Seconds after which the value is stale; null: never stale. */
  maxAgeS: number | null;
  timestampPath: string | null;
  invert: boolean;
  kind: InputKind;
}

export const INPUT_FORMATS: readonly InputFormat[] = ['auto', 'json', 'number', 'text'];
export const INPUT_PRESETS: readonly InputPreset[] = ['z2m', 'tasmota', 'shelly_gen1', 'shelly_gen2'];
const INPUT_NAMES: readonly InputName[] = ['room_temperature', 'setpoint', 'outdoor_temperature', 'wall_power', 'window_open'];
const CONFIG_KEYS = new Set(['preset', 'device', 'topic', 'format', 'path', 'scale', 'offset', 'max_age_s', 'timestamp_path', 'invert']);

/** Default max age (s) of each input when neither the config nor the preset gives one. */
export const DEFAULT_MAX_AGE_S: Readonly<Record<InputName, number | null>> = {
  room_temperature: 3600,
  outdoor_temperature: 3600,
  setpoint: null,
  wall_power: 300,
  window_open: null,
};

export function inputKind(name: InputName): InputKind {
  return name === 'window_open' ? 'boolean' : 'number';
}

/** What a preset fills in for one input (before explicit config keys are applied). */
interface PresetFill {
  topic: string;
  format: InputFormat;
  path: string | null;
  maxAgeS?: number | null;
  invert?: boolean;
}

type PresetTable = Record<InputPreset, Partial<Record<InputName, (device: string) => PresetFill>>>;

const PRESETS: PresetTable = {
  z2m: {
    room_temperature: (d) => ({ topic: `zigbee2mqtt/${d}`, format: 'json', path: 'local_temperature', maxAgeS: 7200 }),
    setpoint: (d) => ({ topic: `zigbee2mqtt/${d}`, format: 'json', path: 'occupied_heating_setpoint' }),
    outdoor_temperature: (d) => ({ topic: `zigbee2mqtt/${d}`, format: 'json', path: 'temperature' }),
    wall_power: (d) => ({ topic: `zigbee2mqtt/${d}`, format: 'json', path: 'power' }),
    window_open: (d) => ({ topic: `zigbee2mqtt/${d}`, format: 'json', path: 'contact', invert: true }),
  },
  tasmota: {
    room_temperature: (d) => ({ topic: `tele/${d}/SENSOR`, format: 'json', path: 'DS18B20.Temperature' }),
    outdoor_temperature: (d) => ({ topic: `tele/${d}/SENSOR`, format: 'json', path: 'DS18B20.Temperature' }),
    wall_power: (d) => ({ topic: `tele/${d}/SENSOR`, format: 'json', path: 'ENERGY.Power', maxAgeS: 300 }),
  },
  shelly_gen1: {
    room_temperature: (d) => ({ topic: `shellies/${d}/ext_temperature/0`, format: 'number', path: null }),
    outdoor_temperature: (d) => ({ topic: `shellies/${d}/ext_temperature/0`, format: 'number', path: null }),
    wall_power: (d) => ({ topic: `shellies/${d}/relay/0/power`, format: 'number', path: null, maxAgeS: 300 }),
  },
  shelly_gen2: {
    room_temperature: (d) => ({ topic: `${d}/status/temperature:0`, format: 'json', path: 'tC' }),
    outdoor_temperature: (d) => ({ topic: `${d}/status/temperature:0`, format: 'json', path: 'tC' }),
    wall_power: (d) => ({ topic: `${d}/status/switch:0`, format: 'json', path: 'apower', maxAgeS: 300 }),
  },
};

/** The input/preset combinations that exist, e.g. for docs and `config check`. */
export function supportedPresets(name: InputName): InputPreset[] {
  return INPUT_PRESETS.filter((preset) => PRESETS[preset][name] !== undefined);
}

function invalid(name: string, key: string, message: string): AgentError {
  return new AgentError('input_config_invalid', `inputs.${name}.${key}: ${message}`, { input: name, key });
}

const given = <T>(v: T | null | undefined): v is T => v !== undefined && v !== null;

/**
 * Resolves one input's config (plain or preset) into the spec the mapper and router use.
 * Throws AgentError `input_preset_unsupported` for an unknown preset or one that cannot give
 * this input (e.g. shelly_gen1 for setpoint), `input_config_invalid` for anything else wrong
 * (message and details name the key).
 */
export function resolveInputSpec(name: InputName, cfg: InputConfig): ResolvedInput {
  if (!INPUT_NAMES.includes(name)) {
    throw new AgentError('input_config_invalid', `inputs.${String(name)}: unknown input (known: ${INPUT_NAMES.join(', ')})`, { input: name });
  }
  if (cfg === null || typeof cfg !== 'object' || Array.isArray(cfg)) {
    throw invalid(name, '', 'must be an object with topic or preset + device');
  }
  for (const key of Object.keys(cfg)) {
    if (!CONFIG_KEYS.has(key)) throw invalid(name, key, 'unknown key');
  }
  const kind = inputKind(name);

  let fill: PresetFill | null = null;
  if (given(cfg.preset)) {
    const preset = cfg.preset;
    const table = (PRESETS as Partial<Record<string, PresetTable[InputPreset]>>)[preset];
    const make = table?.[name];
    if (make === undefined) {
      const others = supportedPresets(name);
      throw new AgentError(
        'input_preset_unsupported',
        `inputs.${name}.preset: preset ${JSON.stringify(preset)} cannot give ${name}` +
          (others.length > 0 ? ` (presets for ${name}: ${others.join(', ')})` : ` (no preset gives ${name}: use topic and path)`),
        { input: name, preset },
      );
    }
    if (typeof cfg.device !== 'string' || cfg.device.length === 0) {
      throw invalid(name, 'device', `preset ${preset} needs a device (its MQTT name)`);
    }
    if (!isValidTopicName(cfg.device) || cfg.device.startsWith('/') || cfg.device.endsWith('/')) {
      throw invalid(name, 'device', 'must not contain +, # or NUL, nor start or end with /');
    }
    fill = make(cfg.device);
  } else if (given(cfg.device)) {
    throw invalid(name, 'device', 'only used with a preset');
  }

  const topic = given(cfg.topic) ? cfg.topic : fill?.topic;
  if (topic === undefined) throw invalid(name, 'topic', 'required (or preset + device)');
  if (typeof topic !== 'string' || !isValidTopicFilter(topic)) {
    throw invalid(name, 'topic', 'not a valid MQTT topic or filter (+ and # only as whole levels, # last, no $share/)');
  }

  const format = given(cfg.format) ? cfg.format : (fill?.format ?? 'auto');
  if (!INPUT_FORMATS.includes(format)) throw invalid(name, 'format', `must be one of ${INPUT_FORMATS.join(', ')}`);

  const path = cfg.path !== undefined ? cfg.path : (fill?.path ?? null);
  checkPath(name, 'path', path, format);
  const timestampPath = cfg.timestamp_path !== undefined ? cfg.timestamp_path : null;
  checkPath(name, 'timestamp_path', timestampPath, format);

  const scale = given(cfg.scale) ? cfg.scale : 1;
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale === 0) throw invalid(name, 'scale', 'must be a finite non-zero number');
  const offset = given(cfg.offset) ? cfg.offset : 0;
  if (typeof offset !== 'number' || !Number.isFinite(offset)) throw invalid(name, 'offset', 'must be a finite number');
  if (kind === 'boolean' && (scale !== 1 || offset !== 0)) throw invalid(name, given(cfg.scale) ? 'scale' : 'offset', `${name} is a boolean: no scale or offset`);

  const invert = given(cfg.invert) ? cfg.invert : (fill?.invert ?? false);
  if (typeof invert !== 'boolean') throw invalid(name, 'invert', 'must be true or false');
  if (kind === 'number' && invert) throw invalid(name, 'invert', `${name} is a number: invert is for booleans`);

  let maxAgeS: number | null;
  if (cfg.max_age_s !== undefined) maxAgeS = cfg.max_age_s;
  else if (fill !== null && fill.maxAgeS !== undefined) maxAgeS = fill.maxAgeS;
  else maxAgeS = DEFAULT_MAX_AGE_S[name];
  if (maxAgeS !== null && (typeof maxAgeS !== 'number' || !Number.isFinite(maxAgeS) || maxAgeS <= 0)) {
    throw invalid(name, 'max_age_s', 'must be a positive number of seconds');
  }
  if (maxAgeS === null && name === 'room_temperature') {
    throw invalid(name, 'max_age_s', 'room_temperature must have a max age (a stale room temperature means no heat)');
  }

  return { name, topic, format, path, scale, offset, maxAgeS, timestampPath, invert, kind };
}

/** Resolves every configured input, in the order of the names; unconfigured ones are skipped. */
export function resolveInputSpecs(inputs: Partial<Record<InputName, InputConfig | null | undefined>>): ResolvedInput[] {
  const out: ResolvedInput[] = [];
  for (const name of INPUT_NAMES) {
    const cfg = inputs[name];
    if (cfg !== undefined && cfg !== null) out.push(resolveInputSpec(name, cfg));
  }
  return out;
}

function checkPath(name: InputName, key: string, path: string | null, format: InputFormat): void {
  if (path === null) return;
  if (typeof path !== 'string' || parseInputPath(path) === null) {
    throw invalid(name, key, 'invalid path: segments joined by dots, ["odd key"] in brackets, indexes as a.0 or a[0]');
  }
  if (format === 'number' || format === 'text') {
    throw invalid(name, key, `a path needs a JSON payload, but format is ${format}`);
  }
}
