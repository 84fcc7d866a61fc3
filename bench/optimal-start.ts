/**
 * Benchmark: optimal start on the 7-day schedule scenario (scenarios/weekly-schedule.yaml). The
 * agent's controller runs twice, identical but for `thermostat.optimal_start`: on (the default:
 * it learns how fast the unit warms the room and starts early) and off (it starts at the scheduled
 * time). Goals of the issue: discomfort_kh with optimal start ≤ 0.5× without, energy_kwh ≤ 1.05×.
 * Checks compare the metrics as printed (3 decimals). The benchmark reports; it never fails the run.
 *
 * Also shows each scheduled rise: when the early start began, the room at the transition, and how
 * long after it the room reached the comfort band (Tset − 0.5) in both runs; and what the learner
 * found (a K/h per kW, b 1/h, samples, the lead it would now give for the week's typical morning).
 *
 * Writes bench/results/optimal-start.json, bench/results/optimal-start.md and
 * bench/results/weekly-schedule-optimal-start.svg (Monday to Wednesday, both runs overlaid).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { leadTimeS, type WarmupFit } from '../agent/core/optimal-start.js';
import { scheduleTransitionsBetween, type ScheduleTransition } from '../agent/core/schedule.js';
import type { AgentSimController } from '../agent/sim/agent-controller.js';
import { agentControllerFor } from '../agent/sim/agent-sim-factory.js';
import type { SimMetrics } from '../agent/sim/metrics.js';
import { loadScenario, type Scenario } from '../agent/sim/scenario.js';
import { scenarioStartWallMs, scheduleSetpointC } from '../agent/sim/setpoint-source.js';
import { runSimulation, type SimResult } from '../agent/sim/simulator.js';
import { plotSvg } from '../agent/sim/svg-plot.js';
import { markdownTable, type GoalCheck } from './sim-controllers.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const DEFAULT_SCENARIO = join(here, '..', 'scenarios', 'weekly-schedule.yaml');
const DEFAULT_RESULTS_DIR = join(here, 'results');
const TOLERANCE = 1e-9;
/** The comfort band's lower edge under the setpoint (spec/simulation.md). */
const BAND_LOW_K = 0.5;

export const RUNS = ['optimal_start', 'scheduled_start'] as const;
export type OptimalStartRun = (typeof RUNS)[number];

/** One scheduled rise of the setpoint and what each run made of it. */
export interface MorningRow {
  /** Local day and time of the transition, e.g. `Tue 08:00`. */
  at: string;
  setpointC: number;
  /** How long before the transition the early start began (h), null when it did not. */
  leadH: number | null;
  tiAtTransitionC: Record<OptimalStartRun, number>;
  /** Hours after the transition until the room was in the band (≥ Tset − 0.5); null: not before the next transition. */
  inBandAfterH: Record<OptimalStartRun, number | null>;
}

export interface OptimalStartBench {
  table: string;
  scenario: string;
  metrics: Record<OptimalStartRun, SimMetrics>;
  checks: GoalCheck[];
  mornings: MorningRow[];
  learned: { fit: WarmupFit; samples: number };
}

export interface OptimalStartBenchOptions {
  /** Default: scenarios/weekly-schedule.yaml. */
  scenarioFile?: string;
  /** Default: bench/results/ next to this file; null: write nothing. */
  resultsDir?: string | null;
}

/** The goals (pure: metrics in, checks out). */
export function optimalStartChecks(scenario: string, on: SimMetrics, off: SimMetrics): GoalCheck[] {
  const check = (goal: string, metric: keyof SimMetrics, factor: number): GoalCheck => {
    const value = on[metric] as number;
    const reference = off[metric] as number;
    const limit = factor * reference;
    return {
      scenario,
      goal,
      metric,
      value,
      reference,
      limit: round3(limit),
      ratio: reference !== 0 ? round3(value / reference) : null,
      pass: value <= limit + TOLERANCE,
    };
  };
  return [
    check('discomfort_kh ≤ 0.5× scheduled start', 'discomfort_kh', 0.5),
    check('energy_kwh ≤ 1.05× scheduled start', 'energy_kwh', 1.05),
  ];
}

/** The same scenario with `agent.thermostat.optimal_start` set. */
export function withOptimalStart(s: Scenario, on: boolean): Scenario {
  const thermostat = (s.agent.thermostat ?? {}) as Record<string, unknown>;
  return { ...s, agent: { ...s.agent, thermostat: { ...thermostat, optimal_start: on } } };
}

export async function runOptimalStartBench(opts: OptimalStartBenchOptions = {}): Promise<OptimalStartBench> {
  const scenario = await loadScenario(opts.scenarioFile ?? DEFAULT_SCENARIO);
  const resultsDir = opts.resultsDir === undefined ? DEFAULT_RESULTS_DIR : opts.resultsDir;
  const wall0 = scenarioStartWallMs(scenario);

  const earlyStarts: number[] = [];
  const runOne = (run: OptimalStartRun): { result: SimResult; controller: AgentSimController } => {
    const s = withOptimalStart(scenario, run === 'optimal_start');
    const controller = agentControllerFor(s);
    const step = controller.step.bind(controller);
    let early = false;
    controller.step = (obs) => {
      const cmd = step(obs);
      const now = controller.lastDecision?.reasons.includes('optimal_start') === true;
      if (now && !early) earlyStarts.push(obs.wallMs);
      early = now;
      return cmd;
    };
    const result = { ...runSimulation(s, controller, { seriesEveryS: 60 }), controller: `pi, ${run.replace('_', ' ')}` };
    return { result, controller };
  };
  const on = runOne('optimal_start');
  const off = runOne('scheduled_start');
  const results: Record<OptimalStartRun, SimResult> = { optimal_start: on.result, scheduled_start: off.result };
  const metrics = { optimal_start: on.result.metrics, scheduled_start: off.result.metrics };
  const checks = optimalStartChecks(scenario.name, metrics.optimal_start, metrics.scheduled_start);
  const mornings = morningRows(scenario, wall0, results, earlyStarts);
  const state = on.controller.coreState.optimalStart;
  const learned = { fit: state.fit, samples: state.samples };

  const passed = checks.filter((c) => c.pass).length;
  const metricRows = (Object.keys(metrics.optimal_start) as Array<keyof SimMetrics>).map((k) => [k, ...RUNS.map((r) => fmt(metrics[r][k]))]);
  const typical = { roomC: 17, targetC: 21, outdoorC: 2, maxHeatW: 340 };
  const parts = [
    `# Optimal start: ${scenario.name}, pi with thermostat.optimal_start on vs off\n`,
    markdownTable(['metric', 'optimal start', 'scheduled start'], metricRows),
    `## Scheduled rises\n`,
    markdownTable(
      ['transition', 'setpoint', 'early start (h before)', 'room at transition: optimal', 'scheduled', 'in band after (h): optimal', 'scheduled'],
      mornings.map((m) => [
        m.at,
        fmt(m.setpointC),
        m.leadH === null ? '–' : fmt(m.leadH),
        fmt(m.tiAtTransitionC.optimal_start),
        fmt(m.tiAtTransitionC.scheduled_start),
        m.inBandAfterH.optimal_start === null ? 'never' : fmt(m.inBandAfterH.optimal_start),
        m.inBandAfterH.scheduled_start === null ? 'never' : fmt(m.inBandAfterH.scheduled_start),
      ]),
    ),
    `Learned at the end of the week: a = ${fmt(learned.fit.a)} K/h per kW, b = ${fmt(learned.fit.b)} /h from ${learned.samples} samples; ` +
      `the model's warm-up 17 → 21 °C at 2 °C outdoors and 340 W: ${fmt(modelledWarmupH(learned.fit, typical))} h (lead capped at ${fmt(leadTimeS({ fit: learned.fit }, typical) / 3600)} h).\n`,
    `## Goal checks: ${passed}/${checks.length} pass\n`,
    markdownTable(
      ['scenario', 'goal', 'optimal start', 'scheduled start', 'limit', 'ratio', 'result'],
      checks.map((c) => [c.scenario, c.goal, fmt(c.value), fmt(c.reference), fmt(c.limit), c.ratio === null ? '–' : `${fmt(c.ratio)}×`, c.pass ? 'PASS' : '**FAIL**']),
    ),
  ];
  const table = parts.join('\n');

  if (resultsDir !== null) {
    await mkdir(resultsDir, { recursive: true });
    const json = { benchmark: 'optimal-start', scenario: scenario.name, metrics, mornings, learned, checks, passed, total: checks.length };
    await writeFile(join(resultsDir, 'optimal-start.json'), JSON.stringify(json, null, 2) + '\n');
    await writeFile(join(resultsDir, 'optimal-start.md'), table);
    const days = RUNS.map((r) => ({ ...results[r], series: results[r].series!.filter((row) => row.t_h < 72) }));
    await writeFile(join(resultsDir, `${scenario.name}-optimal-start.svg`), plotSvg(days, { title: `${scenario.name}, Monday to Wednesday: optimal start on vs off (metrics: the whole week)` }));
  }
  return { table, scenario: scenario.name, metrics, checks, mornings, learned };
}

/** The rises of the schedule within the scenario and what each run did around them. */
function morningRows(s: Scenario, wall0: number, results: Record<OptimalStartRun, SimResult>, earlyStarts: readonly number[]): MorningRow[] {
  const spec = s.settings.schedule;
  if (spec === null) return [];
  const end = wall0 + s.durationH * 3600_000;
  const transitions = scheduleTransitionsBetween(spec, wall0 - 14 * 86_400_000, end);
  const setpointOf = (t: ScheduleTransition): number =>
    scheduleSetpointC({ preset: t.preset, setpointC: t.setpointC, sinceWallMs: t.wallMs, nextWallMs: null, next: null }, s);
  const rows: MorningRow[] = [];
  for (let i = 1; i < transitions.length; i += 1) {
    const t = transitions[i]!;
    const before = setpointOf(transitions[i - 1]!);
    const sp = setpointOf(t);
    if (t.wallMs < wall0 || !(sp > before)) continue;
    const nextMs = transitions[i + 1]?.wallMs ?? end;
    const hourOf = (ms: number): number => (ms - wall0) / 3600_000;
    const early = earlyStarts.find((ms) => ms <= t.wallMs && t.wallMs - ms <= 24 * 3600_000);
    const tiAt = (r: OptimalStartRun): number => nearestRow(results[r], hourOf(t.wallMs)).ti;
    const inBand = (r: OptimalStartRun): number | null => {
      const row = results[r].series!.find((x) => x.t_h >= hourOf(t.wallMs) && x.t_h < hourOf(nextMs) && x.ti >= sp - BAND_LOW_K);
      return row === undefined ? null : round3(row.t_h - hourOf(t.wallMs));
    };
    const day = Math.floor(hourOf(t.wallMs) / 24);
    const minutes = Math.round((hourOf(t.wallMs) - day * 24) * 60);
    rows.push({
      at: `${DAY_NAMES[day % 7]} ${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`,
      setpointC: sp,
      leadH: early === undefined ? null : round3((t.wallMs - early) / 3600_000),
      tiAtTransitionC: { optimal_start: round3(tiAt('optimal_start')), scheduled_start: round3(tiAt('scheduled_start')) },
      inBandAfterH: { optimal_start: inBand('optimal_start'), scheduled_start: inBand('scheduled_start') },
    });
  }
  return rows;
}

/** The model's warm-up time (h), uncapped; Infinity when out of reach. */
function modelledWarmupH(fit: WarmupFit, i: { roomC: number; targetC: number; outdoorC: number; maxHeatW: number }): number {
  const r = (t: number): number => fit.a * (i.maxHeatW / 1000) - fit.b * (t - i.outdoorC);
  const r0 = r(i.roomC);
  const r1 = r(i.targetC);
  if (!(r1 > 0)) return Infinity;
  return fit.b < 1e-9 ? (i.targetC - i.roomC) / r0 : Math.log(r0 / r1) / fit.b;
}

function nearestRow(r: SimResult, hour: number): { ti: number } {
  const rows = r.series!;
  let best = rows[0]!;
  for (const row of rows) if (Math.abs(row.t_h - hour) < Math.abs(best.t_h - hour)) best = row;
  return best;
}

const DAY_NAMES = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function fmt(x: number | null): string {
  if (x === null) return '–';
  if (!Number.isFinite(x)) return String(x);
  return Number.isInteger(x) ? String(x) : String(round3(x));
}
