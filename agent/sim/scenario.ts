/**
 * The scenario file (spec/simulation.md "Scenario file"): zod schema, defaults, loader.
 * YAML or JSON. Unknown keys are errors except under `agent:`, which is kept as a plain object for
 * the agent's configuration schema; the few agent settings the simulator and the baselines need
 * are read (and type-checked) here: heater.max_power_w, llm.max_parallel, llm.keep_alive_s,
 * thermostat.schedule, thermostat.presets, thermostat.default_setpoint_c.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { AgentError, errorMessage } from '../errors.js';
import { DEFAULT_HEATER_PHYSICS, type HeaterPhysics } from '../adapters/gpu/sim-heater-physics.js';
import { createScheduleCursor, type ScheduleSpec } from '../core/schedule.js';
import type { CardLimits } from '../core/types.js';
import { DEFAULT_ROOM_PARAMS, maxStableStepS } from './room-model.js';
import { isValidTimezone } from './sim-clock.js';
import type { JobsSpec } from './work.js';

export const SCENARIO_DEFAULTS = {
  step_s: 1,
  tick_s: 10,
  ti0_c: 19,
  max_power_w: 300,
  max_parallel: 4,
  keep_alive_s: 600,
  default_setpoint_c: 20,
  presets: { frost: 8, eco: 17, comfort: 21, boost: 23 },
  poisson_seed: 1,
} as const;

const positive = z.number().positive();
const hour = z.number().min(0);

/** `[hour, value]` points with strictly increasing hours. */
function series<T extends z.ZodType>(value: T) {
  return z
    .array(z.tuple([hour, value]))
    .min(1)
    .superRefine((points, ctx) => {
      for (let i = 1; i < points.length; i += 1) {
        if (!(points[i]![0] > points[i - 1]![0])) {
          ctx.addIssue({ code: 'custom', path: [i, 0], message: `hours must increase (${points[i]![0]} after ${points[i - 1]![0]})` });
        }
      }
    });
}

const roomSchema = z.strictObject({
  ci_j_per_k: positive.default(DEFAULT_ROOM_PARAMS.ciJPerK),
  cm_j_per_k: positive.default(DEFAULT_ROOM_PARAMS.cmJPerK),
  rim_k_per_w: positive.default(DEFAULT_ROOM_PARAMS.rimKPerW),
  rio_k_per_w: positive.default(DEFAULT_ROOM_PARAMS.rioKPerW),
  rmo_k_per_w: positive.default(DEFAULT_ROOM_PARAMS.rmoKPerW),
  ti0_c: z.number().default(SCENARIO_DEFAULTS.ti0_c),
  /** Default: ti0_c. */
  tm0_c: z.number().optional(),
});

const heaterSchema = z
  .strictObject({
    idle_w: z.number().min(0).default(DEFAULT_HEATER_PHYSICS.idle_w),
    loaded_idle_w: z.number().min(0).default(DEFAULT_HEATER_PHYSICS.loaded_idle_w),
    min_limit_w: positive.default(DEFAULT_HEATER_PHYSICS.min_limit_w),
    max_limit_w: positive.default(DEFAULT_HEATER_PHYSICS.max_limit_w),
    host_w: z.number().min(0).default(DEFAULT_HEATER_PHYSICS.host_w),
    psu_efficiency: positive.max(1).default(DEFAULT_HEATER_PHYSICS.psu_efficiency),
    peak_tps: z.number().min(0).default(DEFAULT_HEATER_PHYSICS.peak_tps),
    load_s: z.number().min(0).default(DEFAULT_HEATER_PHYSICS.load_s),
  })
  .superRefine((h, ctx) => {
    if (h.min_limit_w > h.max_limit_w) ctx.addIssue({ code: 'custom', path: ['min_limit_w'], message: 'must not exceed max_limit_w' });
  });

const jobsSchema = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('backlog') }),
  z.strictObject({ mode: z.literal('periodic'), every_s: positive, tokens: positive }),
  z.strictObject({
    mode: z.literal('poisson'),
    rate_per_min: series(z.number().min(0)),
    tokens: positive,
    seed: z.number().int().default(SCENARIO_DEFAULTS.poisson_seed),
  }),
]);

const presetName = z.enum(['frost', 'eco', 'comfort', 'boost']);

const scheduleSchema = z.strictObject({
  timezone: z.string().refine(isValidTimezone, { message: 'unknown IANA time zone' }),
  entries: z
    .array(
      z
        .strictObject({ cron: z.string().min(1), preset: presetName.optional(), setpoint_c: z.number().optional() })
        .refine((e) => (e.preset === undefined) !== (e.setpoint_c === undefined), { message: 'give exactly one of preset or setpoint_c' }),
    )
    .default([]),
});

/** The agent overrides: only the keys read here are checked; everything else is passed on as is. */
const agentSchema = z.looseObject({
  heater: z.looseObject({ max_power_w: positive.optional() }).optional(),
  llm: z.looseObject({ max_parallel: z.number().int().positive().optional(), keep_alive_s: z.number().min(0).optional() }).optional(),
  thermostat: z
    .looseObject({
      schedule: scheduleSchema.nullable().optional(),
      presets: z.looseObject({ frost: z.number().optional(), eco: z.number().optional(), comfort: z.number().optional(), boost: z.number().optional() }).optional(),
      default_setpoint_c: z.number().optional(),
    })
    .optional(),
});

export const scenarioSchema = z.strictObject({
  name: z.string().min(1),
  duration_h: positive,
  step_s: positive.default(SCENARIO_DEFAULTS.step_s),
  tick_s: positive.default(SCENARIO_DEFAULTS.tick_s),
  room: roomSchema.prefault({}),
  outdoor_c: series(z.number()),
  base_heating_w: series(z.number().min(0)).default([[0, 0]]),
  gains_w: series(z.number()).default([[0, 0]]),
  /** Absent: the setpoint comes from agent.thermostat.schedule, else default_setpoint_c. */
  setpoint_c: series(z.number()).optional(),
  occupied: series(z.boolean()).default([[0, true]]),
  jobs: jobsSchema.default({ mode: 'backlog' }),
  heater: heaterSchema.prefault({}),
  agent: agentSchema.default({}),
});

export type ScenarioFile = z.output<typeof scenarioSchema>;

/** Agent settings the simulator and the baselines use (typed reads of `agent:` with defaults). */
export interface ScenarioAgentSettings {
  maxPowerW: number;
  maxParallel: number;
  keepAliveS: number;
  schedule: ScheduleSpec | null;
  presets: { frost: number; eco: number; comfort: number; boost: number };
  defaultSetpointC: number;
}

export interface Scenario {
  name: string;
  durationH: number;
  stepS: number;
  tickS: number;
  room: { ciJPerK: number; cmJPerK: number; rimKPerW: number; rioKPerW: number; rmoKPerW: number; ti0C: number; tm0C: number };
  outdoorC: Array<[number, number]>;
  baseHeatingW: Array<[number, number]>;
  gainsW: Array<[number, number]>;
  setpointC: Array<[number, number]> | null;
  occupied: Array<[number, boolean]>;
  jobs: JobsSpec;
  heater: HeaterPhysics;
  /** The `agent:` overrides as given, for the agent's configuration schema. */
  agent: Record<string, unknown>;
  settings: ScenarioAgentSettings;
}

export interface ScenarioIssue {
  path: string;
  message: string;
}

function pathOf(path: ReadonlyArray<PropertyKey>): string {
  return path.length === 0 ? '(root)' : path.map((p) => String(p)).join('.');
}

function invalid(source: string, issues: ScenarioIssue[]): AgentError {
  const lines = issues.map((i) => `  ${i.path}: ${i.message}`).join('\n');
  return new AgentError('scenario_invalid', `invalid scenario ${source}:\n${lines}`, { source, errors: issues });
}

/** Validate a parsed scenario object. Throws AgentError `scenario_invalid` listing every error with its key path. */
export function parseScenario(raw: unknown, source = 'scenario'): Scenario {
  const parsed = scenarioSchema.safeParse(raw);
  if (!parsed.success) {
    throw invalid(
      source,
      parsed.error.issues.map((i) => ({ path: pathOf(i.path), message: i.message })),
    );
  }
  const f = parsed.data;
  const issues: ScenarioIssue[] = [];
  const room = {
    ciJPerK: f.room.ci_j_per_k,
    cmJPerK: f.room.cm_j_per_k,
    rimKPerW: f.room.rim_k_per_w,
    rioKPerW: f.room.rio_k_per_w,
    rmoKPerW: f.room.rmo_k_per_w,
    ti0C: f.room.ti0_c,
    tm0C: f.room.tm0_c ?? f.room.ti0_c,
  };
  const maxStep = maxStableStepS(room);
  if (f.step_s >= maxStep) issues.push({ path: 'step_s', message: `must be under ${Math.floor(maxStep)} s for this room (forward Euler stability)` });
  if (f.tick_s < f.step_s) issues.push({ path: 'tick_s', message: 'must be at least step_s' });

  const th = f.agent.thermostat;
  const schedule: ScheduleSpec | null = th?.schedule
    ? { timezone: th.schedule.timezone, entries: th.schedule.entries.map((e) => ({ ...e })) }
    : null;
  if (schedule) {
    try {
      createScheduleCursor(schedule);
    } catch (err) {
      issues.push({ path: 'agent.thermostat.schedule', message: errorMessage(err) });
    }
  }
  if (issues.length > 0) throw invalid(source, issues);

  const settings: ScenarioAgentSettings = {
    maxPowerW: f.agent.heater?.max_power_w ?? SCENARIO_DEFAULTS.max_power_w,
    maxParallel: f.agent.llm?.max_parallel ?? SCENARIO_DEFAULTS.max_parallel,
    keepAliveS: f.agent.llm?.keep_alive_s ?? SCENARIO_DEFAULTS.keep_alive_s,
    schedule,
    presets: {
      frost: th?.presets?.frost ?? SCENARIO_DEFAULTS.presets.frost,
      eco: th?.presets?.eco ?? SCENARIO_DEFAULTS.presets.eco,
      comfort: th?.presets?.comfort ?? SCENARIO_DEFAULTS.presets.comfort,
      boost: th?.presets?.boost ?? SCENARIO_DEFAULTS.presets.boost,
    },
    defaultSetpointC: th?.default_setpoint_c ?? SCENARIO_DEFAULTS.default_setpoint_c,
  };
  const pts = <T>(p: ReadonlyArray<readonly [number, T]>): Array<[number, T]> => p.map(([h, v]) => [h, v]);
  return {
    name: f.name,
    durationH: f.duration_h,
    stepS: f.step_s,
    tickS: f.tick_s,
    room,
    outdoorC: pts(f.outdoor_c),
    baseHeatingW: pts(f.base_heating_w),
    gainsW: pts(f.gains_w),
    setpointC: f.setpoint_c ? pts(f.setpoint_c) : null,
    occupied: pts(f.occupied),
    jobs: f.jobs.mode === 'poisson' ? { ...f.jobs, rate_per_min: pts(f.jobs.rate_per_min) } : { ...f.jobs },
    heater: { ...f.heater },
    agent: structuredClone(f.agent) as Record<string, unknown>,
    settings,
  };
}

/** Read a YAML or JSON scenario file. Throws AgentError `scenario_invalid` (unreadable, unparsable or invalid). */
export async function loadScenario(path: string): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw invalid(path, [{ path: '(file)', message: `cannot read: ${errorMessage(err)}` }]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw invalid(path, [{ path: '(file)', message: `not valid YAML/JSON: ${errorMessage(err)}` }]);
  }
  return parseScenario(raw, path);
}

/**
 * The card's limits as the agent's core sees them: the physics' range; the default limit is the
 * card's maximum (the simulated unit starts at it, clamped to the site ceiling).
 */
export function scenarioCardLimits(s: Scenario): CardLimits {
  return { minLimitW: s.heater.min_limit_w, maxLimitW: s.heater.max_limit_w, defaultLimitW: s.heater.max_limit_w, powerManagement: true };
}
