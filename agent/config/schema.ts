/**
 * The configuration schema (contract: spec/config.md): the single source of the config's types,
 * defaults and validation. Every object is strict (unknown keys are errors), durations and powers
 * are positive, and every rule reports at the key path it concerns, so `config check` can list
 * every error at once. Pure: no I/O; what depends on the host (the default node id) is a
 * parameter of `createConfigSchema`, filled by the loader.
 *
 * Keys added to the contract (documented in the descriptions below):
 * - thermostat.pi {kp, ti_s, outdoor_gain}: PI gains (demand per K of error, integral time,
 *   demand per K of setpoint − outdoor);
 * - thermostat.cycle_s: period of time-proportional cycling below the efficient power;
 * - thermostat.precharge_k: after the unit at full power let the room fall out of the comfort band,
 *   aim this much above the setpoint for a day (heat stored in the building mass);
 * - heater.efficient_power_w: power the card runs at when cycling (null: derived from the card);
 * - safety.hold_minimum_max_s: longest hold of stale_action hold_minimum;
 * - mqtt.password: exists in the type, but only the environment or mqtt.password_file may set it
 *   (the loader rejects it in the file).
 * Inputs: format/scale/offset/invert have no schema default, because a preset fills them (z2m
 * window_open inverts); the effective values (auto, 1, 0, false unless the preset says otherwise)
 * come from resolveInputSpec (adapters/mqtt/input-presets.ts), which the schema also runs to check
 * each input.
 */
import { z } from 'zod';
import { isTimeZone } from '../core/schedule.js';
import { cronError } from '../core/cron.js';
import type { InputName } from '../core/types.js';
import { AgentError } from '../errors.js';
import { resolveInputSpec, type InputPreset, type InputFormat } from '../adapters/mqtt/input-presets.js';
import { isValidTopicName } from '../adapters/mqtt/topic-match.js';
import { FALLBACK_NODE_ID, NODE_ID_PATTERN } from './node-id.js';
import { isLoopbackHost } from '../ops/listen-address.js';

/* ---------- building blocks ---------- */

export const INPUT_PRESET_NAMES = ['z2m', 'tasmota', 'shelly_gen1', 'shelly_gen2'] as const satisfies readonly InputPreset[];
export const INPUT_FORMAT_NAMES = ['auto', 'json', 'number', 'text'] as const satisfies readonly InputFormat[];
export const SETPOINT_PRESET_NAMES = ['frost', 'eco', 'comfort', 'boost'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** URL schemes `mqtt.url` may use. */
export const MQTT_URL_SCHEMES = ['mqtt:', 'mqtts:', 'mqtt+unix:', 'ws:', 'wss:'] as const;

/**
 * Cross-field rules run even when other keys of the object failed (so every error shows at once),
 * as long as the value is an object; they read each key defensively.
 */
const always = {
  when: (payload: { value: unknown }) => payload.value !== null && typeof payload.value === 'object' && !Array.isArray(payload.value),
};
const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);

const seconds = () => z.number().positive();
const watts = () => z.number().positive();
const celsius = () => z.number();
const text = () => z.string().min(1, 'must not be empty');
const count = () => z.int().positive();

/** An MQTT topic prefix: no wildcards, no leading or trailing '/'. */
const topicPrefix = () =>
  text().refine((t) => isValidTopicName(t) && !t.startsWith('/') && !t.endsWith('/') && !t.startsWith('$'), {
    message: 'must be a topic without + or #, not starting with $ or /, not ending with /',
  });

export { isTimeZone };

/** The canonical spelling of a valid zone (europe/paris → Europe/Paris); the input when invalid. */
function canonicalTimeZone(tz: string): string {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    return tz;
  }
}

/** A node-cron expression, checked by the parser the core evaluates it with. */
const cronExpression = text().superRefine((expr, ctx) => {
  // An empty value is already reported by text().
  const error = expr === '' ? null : cronError(expr);
  if (error !== null) ctx.addIssue({ code: 'custom', message: error });
});

function checkMqttUrl(url: string, ctx: z.RefinementCtx): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    ctx.addIssue({ code: 'custom', message: `not a URL: "${url}" (e.g. mqtt://broker:1883)` });
    return;
  }
  if (!(MQTT_URL_SCHEMES as readonly string[]).includes(parsed.protocol)) {
    ctx.addIssue({ code: 'custom', message: `scheme ${parsed.protocol} not supported (use ${MQTT_URL_SCHEMES.map((s) => `${s}//`).join(', ')})` });
  } else if (parsed.protocol === 'mqtt+unix:') {
    if (parsed.pathname.length <= 1) ctx.addIssue({ code: 'custom', message: 'mqtt+unix:// needs a socket path, e.g. mqtt+unix:///run/mosquitto/mqtt.sock' });
  } else if (parsed.hostname.length === 0) {
    ctx.addIssue({ code: 'custom', message: `no host in "${url}"` });
  }
}

/* ---------- node ---------- */

const nodeSchema = (defaultNodeId: string) =>
  z.strictObject({
    id: z
      .string()
      .regex(NODE_ID_PATTERN, 'must match ^[a-z0-9_-]+$ (it is a level of every topic)')
      .default(defaultNodeId)
      .describe('Node id, a level of every MQTT topic; default: the hostname lower-cased, other characters replaced by -'),
    name: text().nullable().default(null).describe('Human name, e.g. "Room 204 heater"'),
    location: text().nullable().default(null).describe('Where the heater stands, e.g. "Building B / 204"'),
  });

/* ---------- mqtt ---------- */

const mqttSchema = z.strictObject({
  url: z
    .string()
    .superRefine(checkMqttUrl)
    .nullable()
    .default(null)
    .describe('Broker URL: mqtt://, mqtts:// (with tls), mqtt+unix:///path, ws://, wss://; required for `run`'),
  base_topic: topicPrefix().default('anchiale/v1').describe('Prefix of every topic of the agent'),
  protocol_version: z.literal([5, 4], 'must be 5 or 4 (MQTT 3.1.1)').default(5).describe('MQTT protocol: 5, or 4 (MQTT 3.1.1)'),
  client_id: text().nullable().default(null).describe('MQTT client id; null: anchiale-<node.id>'),
  username: text().nullable().default(null).describe('MQTT user name'),
  password: z.string().nullable().default(null).describe('Only from ANCHIALE_MQTT__PASSWORD / ANCHIALE_MQTT_PASSWORD or password_file, never in the file'),
  password_file: text().nullable().default(null).describe('File holding the MQTT password (relative: $CREDENTIALS_DIRECTORY, else the config file\'s directory)'),
  tls: z
    .strictObject({
      ca_file: text().nullable().default(null).describe('CA certificate (PEM) of the broker'),
      cert_file: text().nullable().default(null).describe('Client certificate (PEM)'),
      key_file: text().nullable().default(null).describe('Client key (PEM)'),
      reject_unauthorized: z.boolean().default(true).describe('Refuse a broker certificate that does not verify'),
    })
    .prefault({})
    .describe('TLS settings for mqtts:// and wss://'),
  keepalive_s: count().default(30).describe('MQTT keepalive (s)'),
  reconnect: z
    .strictObject({
      min_s: seconds().default(1).describe('First reconnect delay (s)'),
      max_s: seconds().default(60).describe('Longest reconnect delay (s)'),
    })
    .superRefine((r, ctx) => {
      const min = num(r.min_s);
      const max = num(r.max_s);
      if (min !== undefined && max !== undefined && min > max) ctx.addIssue({ code: 'custom', path: ['min_s'], message: `must not exceed max_s (${max})` });
    }, always)
    .prefault({})
    .describe('Exponential backoff with jitter between reconnects'),
  discovery: z
    .strictObject({
      enabled: z.boolean().default(true).describe('Publish Home Assistant MQTT discovery'),
      prefix: topicPrefix().default('homeassistant').describe('Home Assistant discovery prefix'),
    })
    .prefault({}),
});

/* ---------- inputs ---------- */

type RawInput = Record<string, unknown>;
const INPUT_KEYS = ['preset', 'device', 'topic', 'format', 'path', 'scale', 'offset', 'max_age_s', 'timestamp_path', 'invert'] as const;

/** The rule "preset + device, or topic" (null when it holds). */
function presenceProblem(v: RawInput): { path: string; message: string } | null {
  const hasPreset = v.preset !== undefined && v.preset !== null;
  const hasDevice = v.device !== undefined && v.device !== null;
  if (hasPreset && !hasDevice) return { path: 'device', message: 'required with a preset (the device\'s MQTT name)' };
  if (!hasPreset && hasDevice) return { path: 'device', message: 'only used with a preset' };
  if (!hasPreset && (v.topic === undefined || v.topic === null)) return { path: 'topic', message: 'required (or preset + device)' };
  return null;
}

const RESOLVER_MESSAGE = /^inputs\.[a-z_]+\.([a-z_]*): ([\s\S]*)$/;

function inputSchema(name: InputName) {
  return z
    .strictObject({
      preset: z.enum(INPUT_PRESET_NAMES).optional().describe('Device preset: fills topic, path and max_age_s from device'),
      device: text().optional().describe('Device name for the preset (e.g. the Zigbee2MQTT friendly name)'),
      topic: text().optional().describe('Topic (or filter) to read; required without a preset'),
      format: z.enum(INPUT_FORMAT_NAMES).optional().describe('Payload format: auto (default), json, number, text'),
      path: text().nullable().optional().describe('Path into a JSON payload: dots, ["odd key"], a.0; null: the whole payload'),
      scale: z.number().optional().describe('Multiplier applied to the value (default 1)'),
      offset: z.number().optional().describe('Added after scale (default 0)'),
      max_age_s: seconds().nullable().optional().describe('Stale after this many seconds (default 3600 for temperatures, 300 for wall_power, none for setpoint and window_open; presets may differ)'),
      timestamp_path: text().nullable().optional().describe('Path of the payload\'s own time (e.g. last_seen)'),
      invert: z.boolean().optional().describe('Invert a boolean (default false; the z2m window contact inverts)'),
    })
    .superRefine((v, ctx) => {
      const problem = presenceProblem(v);
      if (problem) ctx.addIssue({ code: 'custom', path: [problem.path], message: problem.message });
    }, always)
    .superRefine((v, ctx) => {
      // Runs only when every key of this input is valid (no double reports): the preset table's
      // own rules (preset can give this input, topic syntax, path vs format, boolean vs number, max age).
      if (presenceProblem(v)) return;
      const known = Object.fromEntries(INPUT_KEYS.filter((k) => v[k] !== undefined).map((k) => [k, v[k]]));
      try {
        resolveInputSpec(name, known);
      } catch (err) {
        if (!(err instanceof AgentError)) throw err;
        const m = RESOLVER_MESSAGE.exec(err.message);
        ctx.addIssue({ code: 'custom', path: m?.[1] ? [m[1]] : [], message: m ? (m[2] as string) : err.message });
      }
    }, { when: (payload) => payload.issues.length === 0 });
}

const inputsSchema = z
  .strictObject({
    room_temperature: inputSchema('room_temperature').describe('Room temperature (°C), required'),
    setpoint: inputSchema('setpoint').nullable().optional().describe('Setpoint from the building (°C); no max age by default'),
    outdoor_temperature: inputSchema('outdoor_temperature').nullable().optional().describe('Outdoor temperature (°C)'),
    wall_power: inputSchema('wall_power').nullable().optional().describe('Wall power of the unit (W), e.g. from a smart plug'),
    window_open: inputSchema('window_open').nullable().optional().describe('Window open (boolean): no heat while open'),
  })
  .describe('Where the building\'s values come from; an input is {topic, ...} or {preset, device, ...}; absent: not configured');

/* ---------- thermostat ---------- */

const scheduleEntrySchema = z
  .strictObject({
    cron: cronExpression.describe('When the entry starts (cron, e.g. "0 7 * * 1-5")'),
    preset: z.enum(SETPOINT_PRESET_NAMES).optional().describe('Preset applied from then on'),
    setpoint_c: celsius().optional().describe('Setpoint applied from then on (°C)'),
  })
  .superRefine((e, ctx) => {
    const given = (e.preset !== undefined ? 1 : 0) + (e.setpoint_c !== undefined ? 1 : 0);
    if (given !== 1) ctx.addIssue({ code: 'custom', message: 'give exactly one of preset or setpoint_c' });
  }, always);

const thermostatSchema = z
  .strictObject({
    mode: z.enum(['off', 'heat', 'auto']).default('auto').describe('off | heat | auto (schedule and building setpoint)'),
    default_setpoint_c: celsius().default(20).describe('Setpoint when nothing else gives one (°C)'),
    min_setpoint_c: celsius().default(5).describe('Lowest setpoint accepted (°C)'),
    max_setpoint_c: celsius().default(30).describe('Highest setpoint accepted (°C)'),
    override_s: seconds().default(14400).describe('Longest life of an override in auto (s)'),
    presets: z
      .strictObject({
        frost: celsius().default(8),
        eco: celsius().default(17),
        comfort: celsius().default(21),
        boost: celsius().default(23),
      })
      .prefault({})
      .describe('Setpoints of the presets (°C)'),
    controller: z.enum(['pi', 'tpi', 'hysteresis']).default('pi').describe('Control law: pi | tpi | hysteresis'),
    pi: z
      .strictObject({
        kp: z.number().positive().default(2.5).describe('Demand per K of error'),
        ti_s: seconds().default(3600).describe('Integral time (s)'),
        outdoor_gain: z.number().nonnegative().default(0).describe('Demand per K of (setpoint − outdoor)'),
      })
      .prefault({})
      .describe('PI controller gains'),
    cycle_s: seconds().default(1800).describe('Period of time-proportional cycling below the efficient power (s)'),
    precharge_k: z
      .number()
      .min(0)
      .max(1)
      .default(0.3)
      .describe('After the unit at full power let the room fall below the comfort band, aim this much above the setpoint for a day to store heat in the building mass (K; 0 disables)'),
    min_on_s: seconds().default(300).describe('Shortest heating period once started (s)'),
    min_off_s: seconds().default(300).describe('Shortest pause once stopped (s)'),
    schedule: z
      .strictObject({
        timezone: text()
          .refine(isTimeZone, 'not an IANA time zone (e.g. Europe/Paris, UTC)')
          .overwrite(canonicalTimeZone)
          .default('Europe/Paris')
          .describe('IANA time zone of the cron expressions'),
        entries: z.array(scheduleEntrySchema).default([]).describe('Schedule entries, applied in auto mode'),
      })
      .prefault({}),
    optimal_start: z.boolean().default(true).describe('Start early so the comfort setpoint is met at the scheduled time'),
  })
  .superRefine((t, ctx) => {
    const min = num(t.min_setpoint_c);
    const max = num(t.max_setpoint_c);
    if (min === undefined || max === undefined) return;
    if (min >= max) {
      ctx.addIssue({ code: 'custom', path: ['min_setpoint_c'], message: `must be below max_setpoint_c (${max})` });
      return;
    }
    const within = (value: unknown, path: (string | number)[]) => {
      const v = num(value);
      if (v !== undefined && (v < min || v > max)) {
        ctx.addIssue({ code: 'custom', path, message: `${v} is outside [min_setpoint_c, max_setpoint_c] = [${min}, ${max}]` });
      }
    };
    within(t.default_setpoint_c, ['default_setpoint_c']);
    const presets = t.presets as Record<string, unknown> | undefined;
    if (presets && typeof presets === 'object') for (const p of SETPOINT_PRESET_NAMES) within(presets[p], ['presets', p]);
    const entries = (t.schedule as { entries?: unknown } | undefined)?.entries;
    if (Array.isArray(entries)) {
      entries.forEach((e: unknown, i) => {
        if (e && typeof e === 'object') within((e as Record<string, unknown>).setpoint_c, ['schedule', 'entries', i, 'setpoint_c']);
      });
    }
  }, always);

/* ---------- heater ---------- */

/** Physics of the simulated heater (spec/simulation.md `heater:`). */
const simHeaterSchema = z
  .strictObject({
    idle_w: watts().default(15).describe('GPU draw with no model loaded (W)'),
    loaded_idle_w: watts().default(30).describe('GPU draw with a model loaded and no work (W)'),
    min_limit_w: watts().default(100).describe('Lowest power limit of the card (W)'),
    max_limit_w: watts().default(350).describe('Highest power limit of the card (W)'),
    host_w: watts().default(40).describe('Rest of the unit (W)'),
    psu_efficiency: z.number().positive().max(1).default(0.9).describe('PSU efficiency (0..1]'),
    peak_tps: z.number().positive().default(70).describe('Tokens per second of one sequence at full power'),
    load_s: seconds().default(10).describe('Time to load the model (s)'),
    assume_work: z
      .boolean()
      .nullable()
      .default(null)
      .describe('Draw as if the sequences the decision asks for were busy; null: true while jobs.enabled is false'),
  })
  .superRefine((s, ctx) => {
    const min = num(s.min_limit_w);
    const max = num(s.max_limit_w);
    if (min !== undefined && max !== undefined && min >= max) ctx.addIssue({ code: 'custom', path: ['min_limit_w'], message: `must be below max_limit_w (${max})` });
  }, always);

const heaterSchema = z
  .strictObject({
    backend: z.enum(['nvidia', 'sim']).default('nvidia').describe('nvidia (a real card) | sim (simulated heater)'),
    gpu: z
      .strictObject({
        index: z.int().nonnegative().default(0).describe('nvidia-smi index of the card'),
        uuid: text().nullable().default(null).describe('Card UUID (wins over index when set)'),
      })
      .prefault({}),
    max_power_w: watts().default(300).describe('Site ceiling, never exceeded (clamped to the card\'s max) (W)'),
    min_power_w: watts().nullable().default(null).describe('Lowest power limit used; null: the card\'s min limit (W)'),
    efficient_power_w: watts().nullable().default(null).describe('Power used when cycling; null: derived from the card (W)'),
    power_limit_method: z.enum(['helper', 'direct', 'none']).default('helper').describe('helper (root path unit) | direct (agent runs as root) | none'),
    limit_deadband_w: watts().default(5).describe('Smaller limit changes are not written (W)'),
    limit_min_interval_s: seconds().default(30).describe('At most one limit write per interval, except safety reductions (s)'),
    host_w: watts().default(40).describe('Rest of the unit (CPU, fans, PSU losses) for heat estimates (W)'),
    sim: simHeaterSchema.prefault({}).describe('Simulated heater physics (backend sim)'),
  })
  .superRefine((h, ctx) => {
    const max = num(h.max_power_w);
    const min = num(h.min_power_w);
    const eff = num(h.efficient_power_w);
    if (max !== undefined && min !== undefined && min > max) ctx.addIssue({ code: 'custom', path: ['min_power_w'], message: `must not exceed max_power_w (${max})` });
    if (max !== undefined && eff !== undefined && eff > max) ctx.addIssue({ code: 'custom', path: ['efficient_power_w'], message: `must not exceed max_power_w (${max})` });
    if (min !== undefined && eff !== undefined && eff < min) ctx.addIssue({ code: 'custom', path: ['efficient_power_w'], message: `must not be below min_power_w (${min})` });
  }, always);

/* ---------- safety ---------- */

const safetySchema = z
  .strictObject({
    stale_action: z.enum(['no_heat', 'hold_minimum']).default('no_heat').describe('What to do when the room temperature is stale: no_heat | hold_minimum'),
    hold_minimum_max_s: seconds().default(7200).describe('Longest hold of hold_minimum before no heat (s)'),
    max_room_temp_c: celsius().default(27).describe('Room cut-off; heat resumes 1 K below after min_off_s (°C)'),
    gpu_throttle_temp_c: celsius().default(80).describe('Limit reduced step by step above this (°C)'),
    gpu_stop_temp_c: celsius().default(88).describe('No work above this until back under the throttle temperature (°C)'),
    implausible_after_s: seconds().default(7200).describe('Demand > 0.5 this long while the room moves < 0.1 K → input_implausible (s)'),
  })
  .superRefine((s, ctx) => {
    const throttle = num(s.gpu_throttle_temp_c);
    const stop = num(s.gpu_stop_temp_c);
    if (throttle !== undefined && stop !== undefined && throttle >= stop) {
      ctx.addIssue({ code: 'custom', path: ['gpu_throttle_temp_c'], message: `must be below gpu_stop_temp_c (${stop})` });
    }
  }, always);

/* ---------- llm, jobs, state, log, metrics ---------- */

const llmSchema = z.strictObject({
  models_dir: text().default('/var/lib/anchiale/models').describe('Directory of the GGUF models'),
  default_model: text().nullable().default(null).describe('File name in models_dir'),
  keep_alive_s: seconds().default(600).describe('Keep the model loaded this long after heat demand ends; with jobs, also unload it after this long loaded without a job (s)'),
  max_parallel: count().default(4).describe('Parallel sequences at most'),
  context_size: count().default(4096).describe('Context size per sequence (tokens)'),
  gpu_layers: z
    .union([z.enum(['max', 'auto']), z.int().nonnegative()], { error: 'must be max, auto or a non-negative integer' })
    .default('max')
    .describe('Layers offloaded to the GPU: max | auto | a number'),
  threads: count().nullable().default(null).describe('CPU threads; null: what node-llama-cpp picks'),
});

const jobsSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('Serve inference jobs'),
  fleet: z.boolean().default(true).describe('Join <base>/jobs/<model>/submit with a shared subscription'),
  share_group: text()
    .refine((g) => !/[/+#]/.test(g), 'must not contain /, + or #')
    .default('anchiale')
    .describe('Shared subscription group'),
  serve_without_heat: z.boolean().default(false).describe('Also serve when the room is warm (at the minimum power limit)'),
  stretch_wait_s: z
    .number()
    .nonnegative()
    .default(30)
    .describe('While the room is short of heat and jobs are scarce, a job may wait this long behind others, so fewer sequences give more heat per token (s; 0: every job starts at once)'),
  drain_timeout_s: seconds().default(120).describe('Longest wait for active jobs when draining (s)'),
  reply_prefix: text()
    .refine((p) => p.endsWith('/'), 'must end with /')
    .refine((p) => isValidTopicName(p), 'must not contain + or #')
    .nullable()
    .default(null)
    .describe('Prefix of reply topics; null: <mqtt.base_topic>/replies/'),
  max_queue: z.int().nonnegative().default(8).describe('Jobs waiting at most'),
  max_tokens_limit: count().default(4096).describe('Largest max_tokens a job may ask'),
  max_request_bytes: count().default(262144).describe('Largest job request (bytes); larger ones are rejected invalid_request'),
});

const stateSchema = z.strictObject({
  dir: text().default('/var/lib/anchiale').describe('Persisted counters (energy_kwh, jobs_done) and outbox'),
  interval_s: seconds().default(30).describe('How often the state is saved (s)'),
  outbox_max_entries: count().default(10000).describe('Messages the durable outbox holds at most (terminal job answers are never dropped)'),
  outbox_max_bytes: count().default(67108864).describe('Bytes (topics + payloads) the durable outbox holds at most'),
});

const logSchema = z.strictObject({
  level: z.enum(LOG_LEVELS).default('info').describe('fatal | error | warn | info | debug | trace | silent'),
});

const LISTEN_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/;

const metricsSchema = z.strictObject({
  listen: z
    .string()
    .refine((l) => {
      const m = LISTEN_RE.exec(l);
      return m !== null && Number(m[1]) >= 1 && Number(m[1]) <= 65535;
    }, 'must be host:port, e.g. 127.0.0.1:9464')
    .nullable()
    .default(null)
    .describe('host:port of the Prometheus endpoint; null: none. Loopback only (127.0.0.0/8, [::1], localhost) unless allow_remote'),
  allow_remote: z
    .boolean()
    .default(false)
    .describe('Also accept a non-loopback listen address (the endpoint has no authentication: firewall it)'),
}).superRefine((m, ctx) => {
  if (typeof m.listen !== 'string' || m.allow_remote === true) return;
  const match = LISTEN_RE.exec(m.listen);
  const host = match ? m.listen.slice(0, m.listen.length - match[1]!.length - 1) : null;
  if (host !== null && !isLoopbackHost(host)) {
    ctx.addIssue({ code: 'custom', path: ['listen'], message: 'not a loopback address: the endpoint has no authentication; set metrics.allow_remote: true to serve it on the network' });
  }
}, always);

/* ---------- the whole file ---------- */

export interface ConfigSchemaOptions {
  /** The default of node.id (the loader passes the sanitised hostname). */
  defaultNodeId: string;
}

/** The schema of the config file; `defaultNodeId` is the only host-dependent default. */
export function createConfigSchema(opts: ConfigSchemaOptions = { defaultNodeId: FALLBACK_NODE_ID }) {
  return z.strictObject({
    version: z
      .literal(1, { error: (iss) => (iss.input === undefined ? 'required' : 'must be 1 (this agent reads configuration version 1)') })
      .describe('Configuration format version'),
    node: nodeSchema(opts.defaultNodeId).prefault({}),
    mqtt: mqttSchema.prefault({}),
    inputs: inputsSchema,
    thermostat: thermostatSchema.prefault({}),
    heater: heaterSchema.prefault({}),
    safety: safetySchema.prefault({}),
    llm: llmSchema.prefault({}),
    jobs: jobsSchema.prefault({}),
    state: stateSchema.prefault({}),
    log: logSchema.prefault({}),
    metrics: metricsSchema.prefault({}),
  });
}

export const configSchema = createConfigSchema();

/** The effective configuration (defaults filled). */
export type AgentConfig = z.output<typeof configSchema>;
/** The configuration as written (defaults optional). */
export type AgentConfigInput = z.input<typeof configSchema>;
export type InputConfigEntry = NonNullable<AgentConfig['inputs']['setpoint']>;
