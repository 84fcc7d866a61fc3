import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baselineController } from '../../agent/sim/baseline-controller.js';
import { loadScenario, parseScenario } from '../../agent/sim/scenario.js';
import type { SimCommand, SimController, SimObservation } from '../../agent/sim/sim-controller.js';
import { runSimulation } from '../../agent/sim/simulator.js';

/** A controller that always asks the same thing and records what it sees. */
function fixed(cmd: SimCommand, name = 'fixed'): SimController & { seen: SimObservation[] } {
  const seen: SimObservation[] = [];
  return {
    name,
    seen,
    step(obs) {
      seen.push(obs);
      return cmd;
    },
  };
}

const ON: SimCommand = { limitW: 300, sequences: 4, accepting: true, modelWanted: true };
const OFF: SimCommand = { limitW: 300, sequences: 0, accepting: false, modelWanted: false };
const hour = { name: 'hour', duration_h: 1, outdoor_c: [[0, 0]], setpoint_c: [[0, 21]] };

test('always-on unit for an hour: energy, tokens, loads, switches by hand', () => {
  const r = runSimulation(parseScenario(hour), fixed(ON), { seriesEveryS: 0 });
  // 10 s loading at (30 + 40)/0.9 W, then 3590 s at (300 + 40)/0.9 W: 1 357 000 J = 0.376944 kWh.
  // tokens: 3590 s × 70·4^0.7·eff(300/350) = 3590 × 182.8134 = 656 300.
  assert.deepEqual(r.metrics, {
    discomfort_kh: r.metrics.discomfort_kh,
    cold_discomfort_kh: r.metrics.cold_discomfort_kh,
    rmse_k: r.metrics.rmse_k,
    max_overshoot_k: r.metrics.max_overshoot_k,
    unmet_h: r.metrics.unmet_h,
    energy_kwh: 0.377,
    useful_energy_share: 0.999,
    tokens: 656300,
    tokens_per_kwh: Math.round(656300.1874 / (1357000 / 3.6e6)),
    jobs_done: 0,
    jobs_rejected: 0,
    model_loads: 1,
    limit_changes: 0,
    on_off_switches: 1,
  });
  assert.equal(r.series, undefined);
});

test('off unit: idle draw only, no loads, cold room counted in comfort', () => {
  const r = runSimulation(parseScenario({ ...hour, room: { ti0_c: 18 } }), fixed(OFF), { seriesEveryS: 0 });
  // (15 + 40)/0.9 W for 3600 s = 0.061111 kWh.
  assert.equal(r.metrics.energy_kwh, 0.061);
  assert.equal(r.metrics.model_loads, 0);
  assert.equal(r.metrics.on_off_switches, 0);
  assert.equal(r.metrics.tokens, 0);
  assert.equal(r.metrics.unmet_h, 1, 'occupied all the time (default), always under 20.5');
});

test('the controller is called every tick_s from t = 0 with the state at that instant', () => {
  const c = fixed(ON);
  runSimulation(parseScenario({ ...hour, tick_s: 30 }), c, { seriesEveryS: 0 });
  assert.equal(c.seen.length, 120);
  assert.deepEqual(c.seen.slice(0, 3).map((o) => o.tS), [0, 30, 60]);
  const first = c.seen[0]!;
  assert.deepEqual(
    { ...first, wallPowerW: Math.round(first.wallPowerW * 1000) / 1000 },
    {
      tS: 0,
      wallMs: Date.UTC(2026, 0, 5),
      roomTempC: 19,
      setpointInputC: 21,
      setpointC: 21,
      outdoorC: 0,
      wallPowerW: 61.111,
      gpuPowerW: 15,
      gpuLimitW: 300,
      busy: 0,
      queued: 0,
      oldestWaitS: 0,
      modelLoaded: false,
      modelLoading: false,
      backlog: true,
    },
  );
  // At 30 s the model has loaded (10 s) and the unit runs 4 sequences at the 300 W limit.
  const second = c.seen[1]!;
  assert.deepEqual([second.modelLoaded, second.busy, second.gpuPowerW, second.wallMs], [true, 4, 300, Date.UTC(2026, 0, 5) + 30_000]);
});

test('limit requests are clamped and only changes are counted', () => {
  let n = 0;
  const limits = [1000, 200, 200, 50, 300];
  const c: SimController = { name: 'limits', step: () => ({ ...ON, limitW: limits[Math.min(n++, limits.length - 1)]! }) };
  const seen: number[] = [];
  const rec: SimController = {
    name: 'rec',
    step: (obs) => {
      seen.push(obs.gpuLimitW);
      return c.step(obs);
    },
  };
  const r = runSimulation(parseScenario({ ...hour, duration_h: 0.02 }), rec, { seriesEveryS: 0 });
  // Enforced: 300 (initial) → 300 → 200 → 200 → 100 → 300: 3 changes.
  assert.deepEqual(seen.slice(0, 6), [300, 300, 200, 200, 100, 300]);
  assert.equal(r.metrics.limit_changes, 3);
});

test('periodic jobs: accepted ones are all done, refused ones rejected', () => {
  const s = parseScenario({ ...hour, jobs: { mode: 'periodic', every_s: 60, tokens: 100 } });
  const on = runSimulation(s, fixed({ ...ON, sequences: 1 }), { seriesEveryS: 0 });
  assert.equal(on.metrics.jobs_done, 60);
  assert.equal(on.metrics.jobs_rejected, 0);
  // Each job: 100 tokens at 66.76 tok/s → 2 s busy; 60 idle ↔ busy cycles = 120 switches.
  assert.equal(on.metrics.on_off_switches, 120);
  const off = runSimulation(s, fixed(OFF), { seriesEveryS: 0 });
  assert.deepEqual([off.metrics.jobs_done, off.metrics.jobs_rejected], [0, 60]);
});

test('schedule scenario: setpoint from presets on the simulated week, input null', () => {
  const s = parseScenario({
    name: 'sched',
    duration_h: 8,
    outdoor_c: [[0, 0]],
    tick_s: 600,
    agent: {
      thermostat: {
        schedule: {
          timezone: 'Europe/Paris',
          entries: [
            { cron: '0 7 * * 1-5', preset: 'comfort' },
            { cron: '0 19 * * 1-5', preset: 'eco' },
          ],
        },
      },
    },
  });
  const c = fixed(OFF);
  runSimulation(s, c, { seriesEveryS: 0 });
  const at = (h: number): SimObservation => c.seen.find((o) => o.tS === h * 3600)!;
  assert.equal(at(0).wallMs, Date.parse('2026-01-04T23:00:00Z'));
  assert.equal(at(0).setpointInputC, null);
  assert.equal(at(0).setpointC, 17, 'eco since Friday 19:00');
  assert.equal(at(6).setpointC, 17);
  assert.equal(at(7).setpointC, 21, 'comfort from Monday 07:00 Paris time');
});

test('no setpoint and no schedule: the default setpoint', () => {
  const c = fixed(OFF);
  runSimulation(parseScenario({ name: 'd', duration_h: 0.01, outdoor_c: [[0, 0]] }), c, { seriesEveryS: 0 });
  assert.deepEqual([c.seen[0]!.setpointInputC, c.seen[0]!.setpointC], [null, 20]);
});

test('series: a row every 60 s of sim time with the spec columns', () => {
  const r = runSimulation(parseScenario(hour), fixed(ON, 'on'));
  assert.equal(r.series!.length, 60);
  assert.deepEqual(Object.keys(r.series![0]!), [
    't_h', 'ti', 'tm', 'to', 'tset', 'occupied', 'demand', 'limit_w', 'gpu_w', 'wall_w', 'busy', 'queued', 'model_loaded', 'accepting', 'tokens_per_s',
  ]);
  assert.equal(r.series![1]!.t_h, 1 / 60);
  assert.deepEqual([r.series![1]!.busy, r.series![1]!.gpu_w, r.series![1]!.model_loaded], [4, 300, true]);
  assert.equal(runSimulation(parseScenario(hour), fixed(ON), { seriesEveryS: 600 }).series!.length, 6);
});

test('deterministic: the same scenario twice gives identical JSON', async () => {
  const s = await loadScenario(new URL('../../scenarios/office-poisson.yaml', import.meta.url).pathname);
  const a = runSimulation(s, baselineController('hysteresis', s));
  const b = runSimulation(s, baselineController('hysteresis', s));
  assert.equal(JSON.stringify(a), JSON.stringify(b));
  assert.ok(a.metrics.jobs_done > 0);
});

test('fast: a 7-day scenario at step_s 1 in a few seconds', async () => {
  const s = await loadScenario(new URL('../../scenarios/weekly-schedule.yaml', import.meta.url).pathname);
  const t0 = performance.now();
  const r = runSimulation(s, baselineController('tpi', s));
  const ms = performance.now() - t0;
  assert.ok(ms < 5000, `${ms} ms`);
  assert.equal(r.series!.length, 7 * 24 * 60);
});

test('printed metrics have at most 3 decimals', async () => {
  const s = await loadScenario(new URL('../../scenarios/steady-day.yaml', import.meta.url).pathname);
  const r = runSimulation(s, baselineController('tpi', s), { seriesEveryS: 0 });
  for (const [k, v] of Object.entries(r.metrics)) {
    if (v === null) continue;
    assert.ok(Math.abs(v * 1000 - Math.round(v * 1000)) < 1e-6, `${k}: ${v}`);
  }
});
