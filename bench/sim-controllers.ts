/**
 * Benchmark: the agent's controller (pi, the product's defaults) against the two baselines of
 * spec/simulation.md (hysteresis, tpi) on every shipped scenario (scenarios/*.yaml), with the goal
 * checks of the controller's tuning:
 *  - steady-day, against the hysteresis baseline of the same run: rmse_k ≤ 0.75×, discomfort_kh not
 *    higher, useful_energy_share ≥ baseline + 0.05, tokens_per_kwh ≥ 1.25×, model_loads ≤ 3,
 *    on_off_switches ≤ 48, energy_kwh within ±3 %;
 *  - every scenario: cold_discomfort_kh no higher than the better baseline's, energy_kwh no more than
 *    8 % above either baseline, and where work arrives as jobs (not backlog) jobs_done ≥ hysteresis's.
 * Checks compare the metrics as printed (3 decimals). The benchmark reports; it never fails the run
 * (tests test). A last section reruns scenarios from another start state (START_SENSITIVITY), for
 * information: mild-day from the cold building it used to start from.
 *
 * Writes bench/results/sim-controllers.json, bench/results/sim-controllers.md and
 * bench/results/steady-day.svg (the three controllers overlaid).
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configSchema } from '../agent/config/schema.js';
import { agentControllerFor } from '../agent/sim/agent-sim-factory.js';
import { baselineController } from '../agent/sim/baseline-controller.js';
import type { SimMetrics } from '../agent/sim/metrics.js';
import { loadScenario, type Scenario } from '../agent/sim/scenario.js';
import type { SimController } from '../agent/sim/sim-controller.js';
import { runSimulation, type SimResult } from '../agent/sim/simulator.js';
import { plotSvg } from '../agent/sim/svg-plot.js';

export const CONTROLLERS = ['pi', 'hysteresis', 'tpi'] as const;
export type BenchController = (typeof CONTROLLERS)[number];

/** The scenario whose chart is drawn and whose extra goals are checked. */
export const REFERENCE_SCENARIO = 'steady-day';

export interface ScenarioResults {
  scenario: string;
  /** Scenario file name (relative to the scenarios directory). */
  file: string;
  /** Work mode of the scenario: backlog, periodic or poisson. */
  jobs: string;
  metrics: Record<BenchController, SimMetrics>;
}

export interface GoalCheck {
  scenario: string;
  /** Short name of the goal, e.g. `rmse_k ≤ 0.75× hysteresis`. */
  goal: string;
  metric: keyof SimMetrics;
  /** The agent's value. */
  value: number;
  /** The baseline's value it is compared with (for an absolute bound, the hysteresis's, for information). */
  reference: number;
  /** The bound the value must respect. */
  limit: number;
  /** value / reference (null when the reference is 0 or the goal is absolute). */
  ratio: number | null;
  pass: boolean;
}

export interface SimControllersBench {
  /** Markdown: one metrics table per scenario, then the goal checks. */
  table: string;
  results: ScenarioResults[];
  checks: GoalCheck[];
}

export interface SimControllersBenchOptions {
  /** Default: the repository's scenarios/. */
  scenariosDir?: string;
  /** Default: bench/results/ next to this file; null: write nothing. */
  resultsDir?: string | null;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const DEFAULT_SCENARIOS_DIR = join(here, '..', 'scenarios');
const DEFAULT_RESULTS_DIR = join(here, 'results');

const TOLERANCE = 1e-9;

function controllerFor(kind: BenchController, s: Scenario): SimController {
  return kind === 'pi' ? agentControllerFor(s) : baselineController(kind, s);
}

/** The goal checks of one scenario's results (pure: metrics in, checks out). */
export function goalChecks(r: ScenarioResults): GoalCheck[] {
  const pi = r.metrics.pi;
  const hy = r.metrics.hysteresis;
  const tpi = r.metrics.tpi;
  const checks: GoalCheck[] = [];
  const add = (goal: string, metric: keyof SimMetrics, value: number, reference: number, limit: number, pass: boolean, relative = true): void => {
    const ratio = relative && reference !== 0 ? value / reference : null;
    checks.push({ scenario: r.scenario, goal, metric, value, reference, limit, ratio: ratio === null ? null : round3(ratio), pass });
  };
  const atMost = (goal: string, metric: keyof SimMetrics, value: number, reference: number, limit: number, relative = true): void =>
    add(goal, metric, value, reference, limit, value <= limit + TOLERANCE, relative);
  const atLeast = (goal: string, metric: keyof SimMetrics, value: number, reference: number, limit: number, relative = true): void =>
    add(goal, metric, value, reference, limit, value >= limit - TOLERANCE, relative);

  if (r.scenario === REFERENCE_SCENARIO) {
    atMost('rmse_k ≤ 0.75× hysteresis', 'rmse_k', pi.rmse_k ?? Infinity, hy.rmse_k ?? 0, 0.75 * (hy.rmse_k ?? 0));
    atMost('discomfort_kh ≤ hysteresis', 'discomfort_kh', pi.discomfort_kh, hy.discomfort_kh, hy.discomfort_kh);
    atLeast('useful_energy_share ≥ hysteresis + 0.05', 'useful_energy_share', pi.useful_energy_share, hy.useful_energy_share, round3(hy.useful_energy_share + 0.05));
    atLeast('tokens_per_kwh ≥ 1.25× hysteresis', 'tokens_per_kwh', pi.tokens_per_kwh, hy.tokens_per_kwh, 1.25 * hy.tokens_per_kwh);
    atMost('model_loads ≤ 3', 'model_loads', pi.model_loads, hy.model_loads, 3, false);
    atMost('on_off_switches ≤ 48', 'on_off_switches', pi.on_off_switches, hy.on_off_switches, 48, false);
    const e = pi.energy_kwh;
    add('energy_kwh within ±3 % of hysteresis', 'energy_kwh', e, hy.energy_kwh, 1.03 * hy.energy_kwh, Math.abs(e - hy.energy_kwh) <= 0.03 * hy.energy_kwh + TOLERANCE);
  }
  const better = Math.min(hy.cold_discomfort_kh, tpi.cold_discomfort_kh);
  atMost('cold_discomfort_kh ≤ better baseline', 'cold_discomfort_kh', pi.cold_discomfort_kh, better, better);
  atMost('energy_kwh ≤ 1.08× hysteresis', 'energy_kwh', pi.energy_kwh, hy.energy_kwh, 1.08 * hy.energy_kwh);
  atMost('energy_kwh ≤ 1.08× tpi', 'energy_kwh', pi.energy_kwh, tpi.energy_kwh, 1.08 * tpi.energy_kwh);
  if (r.jobs !== 'backlog') atLeast('jobs_done ≥ hysteresis', 'jobs_done', pi.jobs_done, hy.jobs_done, hy.jobs_done);
  return checks;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function fmt(x: number | null): string {
  if (x === null) return '–';
  if (!Number.isFinite(x)) return String(x);
  return Number.isInteger(x) ? String(x) : String(round3(x));
}

/** A markdown table (first column left-aligned, the others right-aligned). */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const align = header.map((_, i) => (i === 0 ? ':--' : '--:'));
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(align), ...rows.map(line)].join('\n') + '\n';
}

export function scenarioTable(r: ScenarioResults): string {
  const keys = Object.keys(r.metrics.pi) as Array<keyof SimMetrics>;
  const rows = keys.map((k) => [k, ...CONTROLLERS.map((c) => fmt(r.metrics[c][k]))]);
  return markdownTable(['metric', ...CONTROLLERS], rows);
}

export function checksTable(checks: readonly GoalCheck[]): string {
  const rows = checks.map((c) => [c.scenario, c.goal, fmt(c.value), fmt(c.reference), fmt(c.limit), c.ratio === null ? '–' : `${fmt(c.ratio)}×`, c.pass ? 'PASS' : '**FAIL**']);
  return markdownTable(['scenario', 'goal', 'pi', 'reference', 'limit', 'pi / reference', 'result'], rows);
}

/** The product's controller defaults, read from the configuration schema (what `pi` runs with). */
export function controllerDefaults(): Record<string, unknown> {
  const cfg = configSchema.parse({ version: 1, inputs: { room_temperature: { topic: 'sim/room/temperature' } }, heater: { backend: 'sim' } });
  const t = cfg.thermostat;
  return {
    'thermostat.pi': t.pi,
    'thermostat.cycle_s': t.cycle_s,
    'thermostat.min_on_s': t.min_on_s,
    'thermostat.min_off_s': t.min_off_s,
    'thermostat.precharge_k': t.precharge_k,
    'heater.efficient_power_w': cfg.heater.efficient_power_w,
    'heater.max_power_w': cfg.heater.max_power_w,
    'llm.keep_alive_s': cfg.llm.keep_alive_s,
    'jobs.stretch_wait_s': cfg.jobs.stretch_wait_s,
    'safety.implausible_after_s': cfg.safety.implausible_after_s,
  };
}

/**
 * Shipped scenarios rerun from another start, for information (no goal checks): how much of a
 * result comes from the start state rather than the controllers.
 */
export const START_SENSITIVITY: ReadonlyArray<{ scenario: string; label: string; ti0C: number; tm0C: number }> = [
  { scenario: 'mild-day', label: 'from a cold building (room and mass 19 °C, its start until 2026-12-06)', ti0C: 19, tm0C: 19 },
];

function sensitivityTable(rows: ReadonlyArray<{ scenario: string; label: string; metrics: Record<BenchController, SimMetrics> }>): string {
  const ratio = (a: number, b: number) => (b > 0 ? `${fmt(a / b)}×` : '–');
  return markdownTable(
    ['scenario', 'start', 'pi kWh', 'hysteresis kWh', 'tpi kWh', 'pi / tpi', 'hysteresis / tpi', 'pi cold K·h', 'hysteresis cold K·h'],
    rows.map(({ scenario, label, metrics: m }) => [
      scenario,
      label,
      fmt(m.pi.energy_kwh),
      fmt(m.hysteresis.energy_kwh),
      fmt(m.tpi.energy_kwh),
      ratio(m.pi.energy_kwh, m.tpi.energy_kwh),
      ratio(m.hysteresis.energy_kwh, m.tpi.energy_kwh),
      fmt(m.pi.cold_discomfort_kh),
      fmt(m.hysteresis.cold_discomfort_kh),
    ]),
  );
}

export async function runSimControllersBench(opts: SimControllersBenchOptions = {}): Promise<SimControllersBench> {
  const dir = opts.scenariosDir ?? DEFAULT_SCENARIOS_DIR;
  const resultsDir = opts.resultsDir === undefined ? DEFAULT_RESULTS_DIR : opts.resultsDir;
  const files = (await readdir(dir)).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();

  const results: ScenarioResults[] = [];
  const sensitivity: Array<{ scenario: string; label: string; metrics: Record<BenchController, SimMetrics> }> = [];
  let chart: SimResult[] | null = null;
  for (const file of files) {
    const scenario = await loadScenario(join(dir, file));
    for (const alt of START_SENSITIVITY.filter((a) => a.scenario === scenario.name)) {
      const moved = { ...scenario, room: { ...scenario.room, ti0C: alt.ti0C, tm0C: alt.tm0C } };
      const metrics = Object.fromEntries(CONTROLLERS.map((kind) => [kind, runSimulation(moved, controllerFor(kind, moved)).metrics])) as Record<BenchController, SimMetrics>;
      sensitivity.push({ scenario: alt.scenario, label: alt.label, metrics });
    }
    const withSeries = scenario.name === REFERENCE_SCENARIO;
    const runs = CONTROLLERS.map((kind) => ({
      ...runSimulation(scenario, controllerFor(kind, scenario), { seriesEveryS: withSeries ? 60 : 0 }),
      controller: kind,
    }));
    if (withSeries) chart = runs;
    const metrics = Object.fromEntries(runs.map((r) => [r.controller, r.metrics])) as Record<BenchController, SimMetrics>;
    results.push({ scenario: scenario.name, file, jobs: scenario.jobs.mode, metrics });
  }
  const checks = results.flatMap(goalChecks);
  const passed = checks.filter((c) => c.pass).length;

  const defaults = controllerDefaults();
  const parts = [
    '# Simulation benchmark: pi (agent defaults) vs hysteresis vs tpi\n',
    `Controller defaults: ${Object.entries(defaults).map(([k, v]) => `\`${k}\` = ${JSON.stringify(v)}`).join(', ')}.\n`,
    ...results.map((r) => `## ${r.scenario} (${r.file}, jobs: ${r.jobs})\n\n${scenarioTable(r)}`),
    `## Goal checks: ${passed}/${checks.length} pass\n\n${checksTable(checks)}`,
    ...(sensitivity.length > 0 ? [`## Start-state sensitivity (information, not goal checks)\n\n${sensitivityTable(sensitivity)}`] : []),
  ];
  const table = parts.join('\n');

  if (resultsDir !== null) {
    await mkdir(resultsDir, { recursive: true });
    const json = { benchmark: 'sim-controllers', controllers: CONTROLLERS, defaults, results, checks, passed, total: checks.length, sensitivity };
    await writeFile(join(resultsDir, 'sim-controllers.json'), JSON.stringify(json, null, 2) + '\n');
    await writeFile(join(resultsDir, 'sim-controllers.md'), table);
    if (chart) await writeFile(join(resultsDir, `${REFERENCE_SCENARIO}.svg`), plotSvg(chart, { title: `Simulation: ${REFERENCE_SCENARIO} (pi, hysteresis, tpi)` }));
  }
  return { table, results, checks };
}
