import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_HEATER_PHYSICS,
  SimHeaterUnit,
  clampLimit,
  eff,
  gpuDrawW,
  resolveHeaterPhysics,
  tokensPerS,
  wallPowerW,
} from '../../../agent/adapters/gpu/sim-heater-physics.js';

const p = DEFAULT_HEATER_PHYSICS;
const close = (actual: number, expected: number, tol: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected}`);

test('defaults are the spec values', () => {
  assert.deepEqual(
    { ...p },
    { idle_w: 15, loaded_idle_w: 30, min_limit_w: 100, max_limit_w: 350, host_w: 40, psu_efficiency: 0.9, peak_tps: 70, load_s: 10 },
  );
  assert.equal(resolveHeaterPhysics({ host_w: 60 }).host_w, 60);
  assert.equal(resolveHeaterPhysics({ host_w: 60 }).idle_w, 15);
});

test('eff(x): breakpoints, plateaus and out-of-range', () => {
  const cases: Array<[number, number]> = [
    [-1, 0],
    [0, 0],
    [0.1999, 0],
    [0.2, 0.17],
    [0.25, 0.17],
    [0.29, 0.17],
    [0.36, 0.515], // halfway 0.17 → 0.86
    [0.43, 0.86],
    [0.5, 0.9],
    [0.57, 0.94],
    [0.71, 0.97],
    [0.86, 0.99],
    [0.93, 0.995],
    [1.0, 1.0],
    [1.5, 1.0],
    [Number.NaN, 0],
  ];
  for (const [x, y] of cases) close(eff(x), y, 1e-12, `eff(${x})`);
});

test('clampLimit: [min_limit_w, min(max_limit_w, max_power_w)]', () => {
  const cases: Array<[number, number, number]> = [
    // [requested, max_power_w, enforced]
    [50, 300, 100],
    [200, 300, 200],
    [320, 300, 300],
    [320, 400, 320],
    [400, 400, 350],
    [200, 80, 100], // a site ceiling under the card's minimum: the minimum
  ];
  for (const [l, max, want] of cases) assert.equal(clampLimit(p, l, max), want, `clampLimit(${l}, ${max})`);
});

test('draw, wall power and tokens/s table (max_parallel 4)', () => {
  const rows: Array<{ what: string; loaded: boolean; loading: boolean; busy: number; limitW: number; draw: number; wall: number; tps: number }> = [
    { what: 'no model', loaded: false, loading: false, busy: 0, limitW: 300, draw: 15, wall: 61.1111, tps: 0 },
    { what: 'no model, busy asked', loaded: false, loading: false, busy: 2, limitW: 300, draw: 15, wall: 61.1111, tps: 0 },
    { what: 'loading', loaded: false, loading: true, busy: 0, limitW: 300, draw: 30, wall: 77.7778, tps: 0 },
    { what: 'loaded, no work', loaded: true, loading: false, busy: 0, limitW: 300, draw: 30, wall: 77.7778, tps: 0 },
    // 30 + 320·0.6 = 222 W; eff(222/350 = 0.63429) = 0.94 + 0.03·0.06429/0.14 = 0.953776
    { what: '1 busy', loaded: true, loading: false, busy: 1, limitW: 300, draw: 222, wall: 291.1111, tps: 66.7643 },
    // 30 + 320·(0.6 + 0.4/3) = 264.667 W; eff(0.75619) = 0.976159; 70·2^0.7 = 113.7154
    { what: '2 busy', loaded: true, loading: false, busy: 2, limitW: 300, draw: 264.6667, wall: 338.5185, tps: 111.0042 },
    // 30 + 320 = 350 → limit 300; eff(0.857143) = 0.989619; 70·4^0.7 = 184.7311
    { what: '4 busy', loaded: true, loading: false, busy: 4, limitW: 300, draw: 300, wall: 377.7778, tps: 182.8134 },
    // limit 100: eff(0.285714) = 0.17 → 70·0.17
    { what: '1 busy at 100 W', loaded: true, loading: false, busy: 1, limitW: 100, draw: 100, wall: 155.5556, tps: 11.9 },
    // limit 150: eff(0.428571) = 0.17 + 0.69·0.138571/0.14 = 0.852959
    { what: '4 busy at 150 W', loaded: true, loading: false, busy: 4, limitW: 150, draw: 150, wall: 211.1111, tps: 157.5681 },
    { what: '4 busy at 350 W', loaded: true, loading: false, busy: 4, limitW: 350, draw: 350, wall: 433.3333, tps: 184.7311 },
  ];
  for (const r of rows) {
    const draw = gpuDrawW(p, { loaded: r.loaded, loading: r.loading, busy: r.busy, limitW: r.limitW, maxParallel: 4 });
    close(draw, r.draw, 1e-4, `${r.what}: draw`);
    close(wallPowerW(p, draw), r.wall, 1e-4, `${r.what}: wall`);
    close(tokensPerS(p, r.loaded ? r.busy : 0, draw), r.tps, 1e-4, `${r.what}: tokens/s`);
  }
});

test('max_parallel 1: the parallel term is 0', () => {
  assert.equal(gpuDrawW(p, { loaded: true, loading: false, busy: 1, limitW: 350, maxParallel: 1 }), 222);
});

test('unit: model load takes load_s, counts loads, unloads at once', () => {
  const unit = new SimHeaterUnit({ physics: p, maxPowerW: 300, maxParallel: 4 });
  assert.equal(unit.limitW, 300); // card default 350 clamped to the site ceiling
  assert.equal(unit.advance(1, 4).gpuW, 15);
  unit.setModelWanted(true);
  assert.equal(unit.modelLoads, 1);
  for (let s = 0; s < 10; s += 1) {
    assert.equal(unit.modelLoading, true, `loading at ${s} s`);
    const step = unit.advance(1, 4);
    assert.deepEqual([step.busy, step.gpuW, step.tokens], [0, 30, 0]);
  }
  assert.equal(unit.modelLoaded, true);
  const busy = unit.advance(2, 4);
  assert.equal(busy.busy, 4);
  assert.equal(busy.gpuW, 300);
  close(busy.tokens, 2 * 182.8134, 1e-3, 'tokens over 2 s');
  unit.setModelWanted(true); // already loaded: no new load
  assert.equal(unit.modelLoads, 1);
  assert.equal(unit.advance(1, 9).busy, 4, 'capped at max_parallel');
  unit.setModelWanted(false);
  assert.equal(unit.modelState, 'unloaded');
  assert.equal(unit.advance(1, 4).gpuW, 15);
  unit.setModelWanted(true);
  unit.setModelWanted(false); // unloading while loading
  unit.setModelWanted(true);
  assert.equal(unit.modelLoads, 3);
});

test('unit: load_s 0 loads at once', () => {
  const unit = new SimHeaterUnit({ physics: { ...p, load_s: 0 }, maxPowerW: 300, maxParallel: 4 });
  unit.setModelWanted(true);
  assert.equal(unit.modelLoaded, true);
  assert.equal(unit.advance(1, 1).busy, 1);
});

test('unit: limit changes count only when the enforced (clamped) limit changes', () => {
  const unit = new SimHeaterUnit({ physics: p, maxPowerW: 300, maxParallel: 4 });
  const steps: Array<[number, number, number]> = [
    // [requested, enforced, changes so far]
    [300, 300, 0],
    [400, 300, 0],
    [200, 200, 1],
    [200, 200, 1],
    [50, 100, 2],
    [99, 100, 2],
    [300, 300, 3],
  ];
  for (const [req, enforced, changes] of steps) {
    assert.equal(unit.setLimit(req), enforced, `setLimit(${req})`);
    assert.equal(unit.limitChanges, changes, `changes after setLimit(${req})`);
  }
});
