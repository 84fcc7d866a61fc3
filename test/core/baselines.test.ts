import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHysteresis, createTpi, tpiOnTimeS, type BaselineCommand, type BaselineController } from '../../agent/core/baselines.js';

const cfg = { maxPowerW: 300, maxParallel: 4, keepAliveS: 600 };

/** Feed (tS, Ti) pairs with Tset 21 and To 0; return the commands. */
function run(c: BaselineController, script: Array<[number, number]>, outdoorC = 0): BaselineCommand[] {
  return script.map(([tS, ti]) => c.step({ tS, roomTempC: ti, setpointC: 21, outdoorC }));
}

test('hysteresis: thresholds at Tset ∓ 0.3 and 300 s holds', () => {
  const h = createHysteresis(cfg);
  const script: Array<[number, number, boolean, string]> = [
    // [tS, Ti, on expected, why]
    [0, 20.8, false, 'starts off; 20.8 > 21 − 0.3'],
    [10, 20.7, true, 'Ti ≤ 20.7: on (no hold timer running yet)'],
    [20, 21.4, true, 'over 21.3 but on for only 10 s'],
    [300, 21.4, true, 'on for 290 s'],
    [310, 21.4, false, 'on for 300 s: off'],
    [320, 20.0, false, 'cold but off for only 10 s'],
    [600, 20.0, false, 'off for 290 s'],
    [610, 20.0, true, 'off for 300 s: on'],
    [1000, 21.29, true, 'under Tset + 0.3: stays on'],
    [1010, 21.3, false, 'Ti ≥ 21.3: off'],
    [1400, 20.71, false, 'over Tset − 0.3: stays off'],
  ];
  for (const [tS, ti, on, why] of script) {
    const cmd = h.step({ tS, roomTempC: ti, setpointC: 21, outdoorC: 0 });
    assert.equal(cmd.sequences > 0, on, `t=${tS}: ${why}`);
    assert.equal(cmd.accepting, on, `t=${tS}: accepting`);
    assert.equal(cmd.sequences, on ? 4 : 0, `t=${tS}: sequences`);
    assert.equal(cmd.limitW, 300, `t=${tS}: limit`);
    assert.equal(cmd.demand, on ? 1 : 0);
  }
});

test('hysteresis: on at t = 0 when cold (no hold timer at start)', () => {
  const [first] = run(createHysteresis(cfg), [[0, 18]]);
  assert.deepEqual({ ...first!, reasons: undefined }, { limitW: 300, sequences: 4, accepting: true, modelWanted: true, demand: 1, reasons: undefined });
});

test('hysteresis: model not wanted before the first heating, kept keep_alive_s after it', () => {
  const h = createHysteresis(cfg);
  const cmds = run(h, [
    [0, 21],
    [10, 20],
    [310, 21.5], // off at 310
    [900, 21.5], // 590 s off: kept
    [910, 21.5], // 600 s off: unloaded
    [920, 21.5],
  ]);
  assert.deepEqual(
    cmds.map((c) => c.modelWanted),
    [false, true, true, true, false, false],
  );
});

test('tpi: on-time = clamp(0.6·(Tset − Ti) + 0.01·(Tset − To), 0, 1)·600 s, 0 under 10 s', () => {
  const cases: Array<[number, number, number, number]> = [
    // [Tset, Ti, To, on s]
    [21, 20, 1, 480], // 0.6 + 0.2 = 0.8
    [21, 20.9, 10, 102], // 0.06 + 0.11 = 0.17
    [21, 19, 0, 600], // 1.41 → 1
    [21, 22, 0, 0], // −0.39 → 0
    [21, 21, 19, 12], // 0.02 → 12 s
    [21, 21, 19.2, 10.8], // 0.018 → 10.8 s
    [21, 21, 19.4, 0], // 0.016 → 9.6 s < 10 → 0
    [21, 21, 20, 0], // 0.01 → 6 s < 10 → 0
  ];
  for (const [tset, ti, to, onS] of cases) {
    const got = tpiOnTimeS(tset, ti, to);
    assert.ok(Math.abs(got - onS) < 1e-9, `tpi(${tset}, ${ti}, ${to}) = ${got}, want ${onS}`);
  }
});

test('tpi: cycles aligned on t = 0, computed once per cycle at its start', () => {
  const t = createTpi(cfg);
  const on: Array<[number, boolean]> = [];
  // First cycle: Ti 20, To 1 → 480 s on. Ti moves inside the cycle: no effect until 600.
  for (let s = 0; s < 600; s += 10) on.push([s, t.step({ tS: s, roomTempC: s < 300 ? 20 : 18, setpointC: 21, outdoorC: 1 }).sequences > 0]);
  assert.deepEqual(
    on.filter(([, o]) => o).map(([s]) => s),
    Array.from({ length: 48 }, (_, i) => i * 10),
    'on from 0 to 470 s, off from 480 s',
  );
  // Second cycle from 600: Ti 21.5, To 1 → −0.3 + 0.2 < 0 → off all cycle.
  const second = run(t, [
    [600, 21.5],
    [900, 15],
    [1190, 15],
  ], 1);
  assert.deepEqual(second.map((c) => c.sequences), [0, 0, 0]);
  // Third cycle: recomputed at 1200 with Ti 20.5, To 1 → 0.3 + 0.2 = 0.5 → 300 s.
  const third = run(t, [
    [1200, 20.5],
    [1490, 25],
    [1500, 25],
  ], 1);
  assert.deepEqual(third.map((c) => c.sequences > 0), [true, true, false]);
});

test('tpi: ticks that do not divide 600 start the cycle at its k·600 boundary', () => {
  const t = createTpi(cfg);
  // Tick 7 s. Cycle 1 (0..600): Ti 21, To 21 → 0 → off. Cycle 2 seen first at 602: Ti 20, To 1 → 480 s from 600.
  const times = [0, 595, 602, 1078, 1085];
  const cmds = times.map((tS) => t.step({ tS, roomTempC: tS < 600 ? 21 : 20, setpointC: 21, outdoorC: tS < 600 ? 21 : 1 }));
  assert.deepEqual(cmds.map((c) => c.sequences > 0), [false, false, true, true, false]);
});

test('tpi: demand is on%, model kept keep_alive_s after the last on period', () => {
  const t = createTpi(cfg);
  const cmds = run(t, [
    [0, 20], // 0.6 + 0.21 = 0.81 → 486 s
    [480, 20],
    [490, 20], // off from 486 → tick 490
    [600, 22], // on% 0
    [1080, 22], // 590 s off
    [1090, 22], // 600 s off: unload
  ]);
  assert.ok(Math.abs(cmds[0]!.demand - 0.81) < 1e-9);
  assert.deepEqual(cmds.map((c) => c.sequences > 0), [true, true, false, false, false, false]);
  assert.deepEqual(cmds.map((c) => c.modelWanted), [true, true, true, true, true, false]);
  assert.deepEqual(cmds.map((c) => c.accepting), [true, true, false, false, false, false]);
});

test('baselines start off and do not load a model they have not used', () => {
  for (const c of [createHysteresis(cfg), createTpi(cfg)]) {
    const [cmd] = run(c, [[0, 25]]);
    assert.equal(cmd!.sequences, 0, c.name);
    assert.equal(cmd!.modelWanted, false, c.name);
    assert.equal(cmd!.accepting, false, c.name);
  }
});
