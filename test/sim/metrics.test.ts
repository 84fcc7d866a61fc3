import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsAccumulator, roundMetrics, type MetricsSample } from '../../agent/sim/metrics.js';

test('metrics of a tiny synthetic series, computed by hand', () => {
  // Five steps of 600 s, Tset 21 (band 20.5 … 22.0).
  const samples: MetricsSample[] = [
    { dtS: 600, tiC: 18.0, tsetC: 21, occupied: false, wallW: 400, busy: 4, tokens: 1000 }, // unoccupied: no comfort terms
    { dtS: 600, tiC: 20.0, tsetC: 21, occupied: true, wallW: 400, busy: 4, tokens: 1000 }, // 0.5 K cold, err −1, unmet
    { dtS: 600, tiC: 22.5, tsetC: 21, occupied: true, wallW: 100, busy: 0, tokens: 0 }, // 0.5 K hot, err +1.5
    { dtS: 600, tiC: 21.0, tsetC: 21, occupied: true, wallW: 100, busy: 0, tokens: 0 }, // in band, err 0
    { dtS: 600, tiC: 25.0, tsetC: 21, occupied: false, wallW: 60, busy: 1, tokens: 500 }, // unoccupied overshoot: ignored
  ];
  const acc = new MetricsAccumulator();
  for (const s of samples) acc.add(s);
  const m = acc.finish({ jobsDone: 3, jobsRejected: 2, modelLoads: 1, limitChanges: 4 });
  // discomfort = (0.5 + 0.5)·600 s = 600 K·s = 0.16667 K·h; cold = 300 K·s = 0.08333 K·h
  // rmse = √((1²·600 + 1.5²·600 + 0)/1800) = √1.08333 = 1.040833
  // energy = (400 + 400 + 100 + 100 + 60)·600 J = 636 000 J = 0.176667 kWh; useful = 860·600/636 000 = 0.811321
  // switches: idle→busy (1), busy→idle (3), idle→busy (5) = 3
  const want = {
    discomfort_kh: 600 / 3600,
    cold_discomfort_kh: 300 / 3600,
    rmse_k: Math.sqrt(1950 / 1800),
    max_overshoot_k: 1.5,
    unmet_h: 600 / 3600,
    energy_kwh: 636000 / 3.6e6,
    useful_energy_share: 516000 / 636000,
    tokens: 2500,
    tokens_per_kwh: 2500 / (636000 / 3.6e6),
    jobs_done: 3,
    jobs_rejected: 2,
    model_loads: 1,
    limit_changes: 4,
    on_off_switches: 3,
  };
  for (const [k, v] of Object.entries(want)) {
    const got = m[k as keyof typeof m] as number;
    assert.ok(Math.abs(got - v) < 1e-9, `${k}: ${got} vs ${v}`);
  }
  assert.deepEqual(roundMetrics(m), {
    discomfort_kh: 0.167,
    cold_discomfort_kh: 0.083,
    rmse_k: 1.041,
    max_overshoot_k: 1.5,
    unmet_h: 0.167,
    energy_kwh: 0.177,
    useful_energy_share: 0.811,
    tokens: 2500,
    tokens_per_kwh: 14151,
    jobs_done: 3,
    jobs_rejected: 2,
    model_loads: 1,
    limit_changes: 4,
    on_off_switches: 3,
  });
});

test('never occupied: rmse null, comfort terms 0; no energy: shares 0', () => {
  const acc = new MetricsAccumulator();
  acc.add({ dtS: 60, tiC: 10, tsetC: 21, occupied: false, wallW: 0, busy: 0, tokens: 0 });
  const m = roundMetrics(acc.finish({ jobsDone: 0, jobsRejected: 0, modelLoads: 0, limitChanges: 0 }));
  assert.equal(m.rmse_k, null);
  assert.equal(m.discomfort_kh, 0);
  assert.equal(m.max_overshoot_k, 0);
  assert.equal(m.useful_energy_share, 0);
  assert.equal(m.tokens_per_kwh, 0);
});

test('unmet counts strictly below Tset − 0.5; overshoot is max(0, ·)', () => {
  const acc = new MetricsAccumulator();
  acc.add({ dtS: 3600, tiC: 20.5, tsetC: 21, occupied: true, wallW: 0, busy: 0, tokens: 0 });
  acc.add({ dtS: 3600, tiC: 20.9, tsetC: 21, occupied: true, wallW: 0, busy: 0, tokens: 0 });
  const m = acc.finish({ jobsDone: 0, jobsRejected: 0, modelLoads: 0, limitChanges: 0 });
  assert.equal(m.unmet_h, 0);
  assert.equal(m.max_overshoot_k, 0);
});
