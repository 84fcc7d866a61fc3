import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goalChecks, markdownTable, runSimControllersBench, type ScenarioResults } from '../../bench/sim-controllers.js';
import { selectBenchmarks, type Benchmark } from '../../bench/run.js';
import type { SimMetrics } from '../../agent/sim/metrics.js';

function metrics(over: Partial<SimMetrics> = {}): SimMetrics {
  return {
    discomfort_kh: 0,
    cold_discomfort_kh: 0,
    rmse_k: 0.1,
    max_overshoot_k: 0.2,
    unmet_h: 0,
    energy_kwh: 5,
    useful_energy_share: 0.9,
    tokens: 1e7,
    tokens_per_kwh: 2e6,
    jobs_done: 0,
    jobs_rejected: 0,
    model_loads: 2,
    limit_changes: 10,
    on_off_switches: 30,
    ...over,
  };
}

function result(scenario: string, pi: Partial<SimMetrics>, hysteresis: Partial<SimMetrics>, tpi: Partial<SimMetrics>, jobs = 'backlog'): ScenarioResults {
  return { scenario, file: `${scenario}.yaml`, jobs, metrics: { pi: metrics(pi), hysteresis: metrics(hysteresis), tpi: metrics(tpi) } };
}

const failing = (r: ScenarioResults) => goalChecks(r).filter((c) => !c.pass).map((c) => c.goal);

describe('sim-controllers goal checks', () => {
  const hy = { rmse_k: 0.144, discomfort_kh: 0.1, useful_energy_share: 0.863, tokens_per_kwh: 1.5e6, energy_kwh: 5.5, cold_discomfort_kh: 0.1 };
  const good = { rmse_k: 0.1, discomfort_kh: 0.1, useful_energy_share: 0.913, tokens_per_kwh: 1.875e6, energy_kwh: 5.5, cold_discomfort_kh: 0.1, model_loads: 3, on_off_switches: 48 };

  it('steady-day: the seven goals against hysteresis, plus the goals of every scenario, at their bounds', () => {
    const checks = goalChecks(result('steady-day', good, hy, { energy_kwh: 5.1, cold_discomfort_kh: 0.2 }));
    assert.equal(checks.length, 10);
    assert.deepEqual(checks.filter((c) => !c.pass).map((c) => c.goal), []);
  });

  it('each steady-day goal fails on its own', () => {
    // [change to pi, goal expected to fail]
    const table: Array<[Partial<SimMetrics>, string]> = [
      [{ rmse_k: 0.109 }, 'rmse_k ≤ 0.75× hysteresis'],
      [{ discomfort_kh: 0.101, cold_discomfort_kh: 0.1 }, 'discomfort_kh ≤ hysteresis'],
      [{ useful_energy_share: 0.912 }, 'useful_energy_share ≥ hysteresis + 0.05'],
      [{ tokens_per_kwh: 1.874e6 }, 'tokens_per_kwh ≥ 1.25× hysteresis'],
      [{ model_loads: 4 }, 'model_loads ≤ 3'],
      [{ on_off_switches: 49 }, 'on_off_switches ≤ 48'],
      [{ energy_kwh: 5.5 * 0.969 }, 'energy_kwh within ±3 % of hysteresis'],
    ];
    for (const [change, goal] of table) {
      assert.deepEqual(failing(result('steady-day', { ...good, ...change }, hy, { energy_kwh: 5.1, cold_discomfort_kh: 0.2 })), [goal], goal);
    }
  });

  it('every scenario: cold discomfort against the better baseline, energy against either, jobs where jobs arrive', () => {
    const backlog = goalChecks(result('mild-day', { cold_discomfort_kh: 0.05, energy_kwh: 4.0 }, { cold_discomfort_kh: 0.1, energy_kwh: 4.1 }, { cold_discomfort_kh: 0.05, energy_kwh: 3.8 }));
    assert.deepEqual(backlog.map((c) => c.goal), ['cold_discomfort_kh ≤ better baseline', 'energy_kwh ≤ 1.08× hysteresis', 'energy_kwh ≤ 1.08× tpi']);
    assert.ok(backlog.every((c) => c.pass));
    assert.deepEqual(failing(result('mild-day', { energy_kwh: 4.2 }, { energy_kwh: 4.1 }, { energy_kwh: 3.8 })), ['energy_kwh ≤ 1.08× tpi']);
    assert.deepEqual(failing(result('cold', { cold_discomfort_kh: 1.1 }, { cold_discomfort_kh: 1.0 }, { cold_discomfort_kh: 2 })), ['cold_discomfort_kh ≤ better baseline']);
    const jobs = result('office', { jobs_done: 99 }, { jobs_done: 100 }, { jobs_done: 120 }, 'poisson');
    assert.deepEqual(failing(jobs), ['jobs_done ≥ hysteresis']);
    const check = goalChecks(jobs).find((c) => c.metric === 'jobs_done')!;
    assert.deepEqual([check.value, check.reference, check.ratio], [99, 100, 0.99]);
  });

  it('markdown tables: header, alignment row, one row per line', () => {
    assert.equal(markdownTable(['a', 'b'], [['x', '1']]), '| a | b |\n| :-- | --: |\n| x | 1 |\n');
  });
});

describe('sim-controllers bench run', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('runs the three controllers on every scenario of a directory and writes json, md and the steady-day chart', async () => {
    const scenarios = await mkdtemp(join(tmpdir(), 'anchiale-bench-scn-'));
    const results = await mkdtemp(join(tmpdir(), 'anchiale-bench-out-'));
    dirs.push(scenarios, results);
    const short = (name: string, jobs: string) =>
      `name: ${name}\nduration_h: 1\nstep_s: 5\noutdoor_c: [[0, 2]]\nbase_heating_w: [[0, 150]]\nsetpoint_c: [[0, 21]]\njobs: ${jobs}\n`;
    await writeFile(join(scenarios, 'steady-day.yaml'), short('steady-day', '{mode: backlog}'));
    await writeFile(join(scenarios, 'jobs.yaml'), short('jobs', '{mode: periodic, every_s: 120, tokens: 2000}'));
    await writeFile(join(scenarios, 'notes.txt'), 'not a scenario');
    const bench = await runSimControllersBench({ scenariosDir: scenarios, resultsDir: results });
    assert.deepEqual(bench.results.map((r) => [r.scenario, r.jobs, Object.keys(r.metrics)]), [
      ['jobs', 'periodic', ['pi', 'hysteresis', 'tpi']],
      ['steady-day', 'backlog', ['pi', 'hysteresis', 'tpi']],
    ]);
    assert.equal(bench.checks.length, 4 + 10);
    assert.match(bench.table, /## steady-day \(steady-day\.yaml, jobs: backlog\)\n\n\| metric \| pi \| hysteresis \| tpi \|/);
    assert.match(bench.table, /## Goal checks: \d+\/14 pass/);
    assert.match(bench.table, /\| (PASS|\*\*FAIL\*\*) \|/);
    assert.deepEqual((await readdir(results)).sort(), ['sim-controllers.json', 'sim-controllers.md', 'steady-day.svg']);
    const json = JSON.parse(await readFile(join(results, 'sim-controllers.json'), 'utf8'));
    assert.equal(json.checks.length, 14);
    assert.equal(json.results[1].metrics.pi.energy_kwh, bench.results[1]!.metrics.pi.energy_kwh);
    assert.equal(await readFile(join(results, 'sim-controllers.md'), 'utf8'), bench.table);
    assert.match(await readFile(join(results, 'steady-day.svg'), 'utf8'), /^<svg[\s\S]*pi[\s\S]*hysteresis[\s\S]*tpi[\s\S]*<\/svg>\n?$/);
  });
});

describe('bench runner', () => {
  const all: Benchmark[] = [
    { name: 'a', run: async () => 'A' },
    { name: 'b', run: async () => 'B' },
  ];
  it('selects every benchmark, or only those named', () => {
    // [argv, names selected]
    const table: Array<[string[], string[]]> = [
      [[], ['a', 'b']],
      [['--only', 'b'], ['b']],
      [['--only=a'], ['a']],
      [['--only', 'b', '--only', 'a'], ['a', 'b']],
    ];
    for (const [argv, names] of table) assert.deepEqual(selectBenchmarks(argv, all).map((b) => b.name), names, argv.join(' '));
  });
  it('rejects unknown names and arguments', () => {
    assert.throws(() => selectBenchmarks(['--only', 'c'], all), /unknown benchmark c \(known: a, b\)/);
    assert.throws(() => selectBenchmarks(['--only'], all), /needs a benchmark name/);
    assert.throws(() => selectBenchmarks(['--fast'], all), /unknown argument --fast/);
  });
});
