import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  FALLBACK_OUTDOOR_C,
  LEAD_MARGIN_S,
  MAX_LEAD_S,
  WARMUP_PRIOR,
  WARMUP_WINDOW_S,
  initialOptimalStartState,
  leadTimeS,
  learnWarmup,
  observeWarmup,
  planOptimalStart,
  restoreOptimalStart,
  serializeOptimalStart,
  transitionSetpointC,
  type OptimalStartInput,
  type OptimalStartState,
  type WarmupObservation,
} from '../../agent/core/optimal-start.js';
import type { ActiveSchedule } from '../../agent/core/types.js';

/** Feeds observations in order, collecting the samples learned. */
function feed(obs: WarmupObservation[], start: OptimalStartState = initialOptimalStartState) {
  let state = start;
  const samples = obs.map((o) => {
    const r = observeWarmup(state, o);
    state = r.state;
    return r.sample;
  });
  return { state, samples };
}

/**
 * A first-order room that truly follows dT/dt = a·P − b·(T − To) (K/h, P in kW), heated in windows
 * of WARMUP_WINDOW_S at the given heats and outdoor temperatures, observed every 10 s.
 */
function firstOrderRoom(truth: { a: number; b: number }, windows: Array<{ heatW: number; outdoorC: number }>, t0C = 16): WarmupObservation[] {
  const obs: WarmupObservation[] = [];
  let t = 0;
  let room = t0C;
  for (const w of windows) {
    for (let k = 0; k < WARMUP_WINDOW_S / 10; k += 1) {
      obs.push({ nowS: t, roomC: room, outdoorC: w.outdoorC, heatW: w.heatW, warming: true });
      const rate = truth.a * (w.heatW / 1000) - truth.b * (room - w.outdoorC);
      room += (rate * 10) / 3600;
      t += 10;
    }
  }
  obs.push({ nowS: t, roomC: room, outdoorC: windows.at(-1)!.outdoorC, heatW: windows.at(-1)!.heatW, warming: true });
  return obs;
}

describe('optimal start: the warm-up learner', () => {
  it('a window gives one sample after WARMUP_WINDOW_S of continuous warming; pauses, gaps and jumps give none', () => {
    const at = (nowS: number, roomC: number | null, warming = true, heatW: number | null = 340): WarmupObservation => ({ nowS, roomC, outdoorC: 0, heatW, warming });
    /** Observations every 60 s from `from` to `to` (both included), the room linear between the two. */
    const ramp = (from: number, to: number, roomFrom: number, roomTo: number): WarmupObservation[] => {
      const out: WarmupObservation[] = [];
      for (let t = from; t <= to; t += 60) out.push(at(t, roomFrom + ((roomTo - roomFrom) * (t - from)) / (to - from)));
      return out;
    };
    // [observations, the samples' rates (K/h) they give, why]
    const table: Array<[WarmupObservation[], number[], string]> = [
      [ramp(0, 1740, 18, 18.48), [], 'gathering: 29 min'],
      [[at(1800, 18.5)], [1], 'complete at 30 min: +0.5 K in 0.5 h; a new window opens'],
      [ramp(1860, 2400, 18.52, 18.7), [], ''],
      [[at(2460, 18.72, false)], [], 'warming stops: the window is dropped'],
      [ramp(2520, 3000, 18.7, 18.8), [], 'a new window opens at 2520'],
      [[at(3300, 18.9)], [], 'a gap of 300 s (> 120 s): dropped, reopened at 3300'],
      [ramp(3360, 5040, 18.9, 19.2), [], 'not yet 30 min since 3300'],
      [[at(5100, 19.2)], [0.6], 'complete: +0.3 K in 0.5 h'],
      [ramp(5160, 6840, 19.2, 29), [], ''],
      [[at(6900, 29.2)], [], 'a 10 K rise in 30 min (20 K/h) is a sensor fault: no sample'],
      [[at(6960, 29.2, true, null)], [], 'no heat figure: dropped'],
      [[at(7020, null)], [], 'no room reading: dropped'],
    ];
    let state = initialOptimalStartState;
    for (const [obs, rates, why] of table) {
      const r = feed(obs, state);
      state = r.state;
      const got = r.samples.filter((x) => x !== null);
      assert.equal(got.length, rates.length, `t=${obs[0]!.nowS}: ${why}`);
      got.forEach((x, i) => {
        assert.ok(Math.abs(x.rateKPerH - rates[i]!) < 1e-9, `t=${obs[0]!.nowS}: rate ${x.rateKPerH}`);
        assert.ok(Math.abs(x.heatKw - 0.34) < 1e-9);
      });
    }
    assert.equal(state.samples, 2);
    assert.equal(state.window, null);
  });

  it('without data it holds the prior', () => {
    assert.deepEqual(initialOptimalStartState.fit, WARMUP_PRIOR);
  });

  // [true a (K/h per kW), true b (1/h)]
  const rooms: Array<[number, number]> = [
    [1.0, 0.02],
    [2.4, 0.017],
    [6.0, 0.08],
    [12.0, 0.15],
    [4.0, 0.04],
  ];
  for (const [a, b] of rooms) {
    it(`learns a first-order room (a = ${a} K/h per kW, b = ${b} /h): its rises and its warm-up time`, () => {
      const windows = Array.from({ length: 60 }, (_, i) => ({ heatW: i % 3 === 0 ? 200 : 340, outdoorC: 8 * Math.sin(i / 3) }));
      // Restart from a cold room now and then, as mornings do.
      const obs: WarmupObservation[] = [];
      for (let day = 0; day < 4; day += 1) {
        const part = firstOrderRoom({ a, b }, windows.slice(day * 15, day * 15 + 15), 15 + day);
        for (const o of part) obs.push({ ...o, nowS: o.nowS + day * 100_000 });
      }
      const { state } = feed(obs);
      assert.ok(state.samples >= 56, `samples ${state.samples}`);
      // The rise at the heats and room − outdoor differences seen (what the lead needs), and the parameters.
      for (const [heatW, gapK] of [[340, 10], [340, 18], [340, 24], [200, 15]] as const) {
        const truth = a * (heatW / 1000) - b * gapK;
        const got = state.fit.a * (heatW / 1000) - state.fit.b * gapK;
        assert.ok(Math.abs(got - truth) < 0.05 + 0.1 * Math.abs(truth), `rise at ${heatW} W, ${gapK} K: ${got} vs ${truth}`);
      }
      assert.ok(Math.abs(state.fit.a - a) < 0.1 * a, `a ${state.fit.a} vs ${a}`);
      assert.ok(Math.abs(state.fit.b - b) < 0.15 * b + 0.003, `b ${state.fit.b} vs ${b}`);
      // The lead agrees with the true room's warm-up (within 10 %; the cap when out of reach or longer).
      const want = { roomC: 18, targetC: 20, outdoorC: 0, maxHeatW: 340 };
      const r = (t: number) => a * 0.34 - b * t;
      const trueS = r(20) > 0.05 ? Math.min(MAX_LEAD_S, (Math.log(r(18) / r(20)) / b) * 3600 + LEAD_MARGIN_S) : MAX_LEAD_S;
      const got = leadTimeS(state, want);
      assert.ok(Math.abs(got - trueS) <= 0.1 * trueS, `lead ${got} s vs ${trueS} s`);
    });
  }

  it('a direction the data never excite (one heat only) stays near the prior; the fit stays within bounds', () => {
    const obs = firstOrderRoom({ a: 2.4, b: 0.017 }, Array.from({ length: 40 }, () => ({ heatW: 340, outdoorC: 2 })));
    const { state } = feed(obs);
    assert.ok(state.fit.a > 0.1 && state.fit.a < 30 && state.fit.b >= 0 && state.fit.b <= 0.5);
    // What matters for the lead at that heat is learned: the predicted rise at the room's state.
    const rate = state.fit.a * 0.34 - state.fit.b * (19 - 2);
    const truth = 2.4 * 0.34 - 0.017 * (19 - 2);
    assert.ok(Math.abs(rate - truth) < 0.1, `rate ${rate} vs ${truth}`);
    // Absurd samples cannot push the fit out of its bounds.
    let s = initialOptimalStartState;
    for (let i = 0; i < 50; i += 1) s = learnWarmup(s, { rateKPerH: -14, heatKw: 0.34, gapK: 1 });
    assert.ok(s.fit.a >= 0.1 && s.fit.b <= 0.5, JSON.stringify(s.fit));
  });
});

describe('optimal start: lead time', () => {
  const fitted = (a: number, b: number) => ({ fit: { a, b } });
  // [fit, room, target, outdoor, heat W, expected s, why]
  const table: Array<[{ fit: { a: number; b: number } }, number, number, number | null, number, number, string]> = [
    [fitted(10, 0.05), 21, 21, 0, 340, 0, 'already there'],
    [fitted(10, 0.05), 22, 21, 0, 340, 0, 'above the target'],
    [fitted(10, 0), 19, 21, 0, 400, 1800 + LEAD_MARGIN_S, 'no losses: 2 K at 4 K/h'],
    [fitted(10, 0.1), 19, 21, 1, 400, (Math.log((4 - 1.8) / (4 - 2)) / 0.1) * 3600 + LEAD_MARGIN_S, 'closed form'],
    [fitted(10, 0.1), 19, 21, null, 400, (Math.log((4 - 1.4) / (4 - 1.6)) / 0.1) * 3600 + LEAD_MARGIN_S, `outdoor unknown: ${FALLBACK_OUTDOOR_C} °C assumed`],
    [fitted(2, 0.03), 17, 21, 0, 340, MAX_LEAD_S, 'out of reach at the target: the cap'],
    [fitted(1, 0), 15, 21, 0, 340, MAX_LEAD_S, 'long: capped'],
  ];
  for (const [s, roomC, targetC, outdoorC, maxHeatW, want, why] of table) {
    it(why, () => {
      const got = leadTimeS(s, { roomC, targetC, outdoorC, maxHeatW });
      assert.ok(Math.abs(got - want) < 1e-6, `${got} vs ${want}`);
    });
  }
});

describe('optimal start: the plan', () => {
  const H = 3600_000;
  const rise: ActiveSchedule = { preset: 'eco', setpointC: null, sinceWallMs: -12 * H, nextWallMs: 7 * H, next: { preset: 'comfort', setpointC: null } };
  const fast = { ...initialOptimalStartState, fit: { a: 10, b: 0 } }; // 3.4 K/h at 340 W
  const base: OptimalStartInput = {
    enabled: true,
    nowWallMs: 0,
    mode: 'auto',
    setpointInputC: null,
    schedule: rise,
    setpointC: 17,
    nextSetpointC: 21,
    roomC: 17.6,
    outdoorC: 0,
    maxHeatW: 340,
  };
  const leadS = 3.4 / 3.4 * 3600 + LEAD_MARGIN_S; // 1 h 10 min
  const startMs = 7 * H - leadS * 1000;
  // [input changes, early start expected, why]
  const table: Array<[Partial<OptimalStartInput>, boolean, string]> = [
    [{ nowWallMs: 4 * H }, false, 'more than the cap before the transition'],
    [{ nowWallMs: startMs - 60_000 }, false, 'a minute before transition − lead'],
    [{ nowWallMs: startMs }, true, 'at transition − lead'],
    [{ nowWallMs: startMs, enabled: false }, false, 'optimal_start off'],
    [{ nowWallMs: startMs, mode: 'heat' }, false, 'mode heat: the schedule does not apply'],
    [{ nowWallMs: startMs, setpointInputC: 20 }, false, 'a fresh setpoint input wins over the schedule'],
    [{ nowWallMs: startMs, nextSetpointC: 17 }, false, 'no rise'],
    [{ nowWallMs: startMs, setpointC: 21, nextSetpointC: 17 }, false, 'a falling setpoint'],
    [{ nowWallMs: startMs, roomC: 21.2 }, false, 'the room is already above the next setpoint'],
    [{ nowWallMs: startMs, roomC: null }, false, 'no room reading'],
    [{ nowWallMs: startMs, schedule: { ...rise, nextWallMs: null, next: null }, nextSetpointC: null }, false, 'no next transition'],
  ];
  for (const [over, early, why] of table) {
    it(`${early ? 'starts early' : 'does not start early'}: ${why}`, () => {
      const p = planOptimalStart(fast, { ...base, ...over });
      assert.equal(p.targetC, early ? 21 : null);
      assert.equal(p.state.earlyForWallMs, early ? 7 * H : null);
    });
  }

  it('once started it holds on until the transition, though the lead shrinks as the room warms', () => {
    const started = planOptimalStart(fast, { ...base, nowWallMs: startMs });
    assert.equal(started.targetC, 21);
    // Half an hour later the room is 1.5 K warmer: its own lead (45 min) would start later than now.
    const later = planOptimalStart(started.state, { ...base, nowWallMs: startMs + 1800_000 - 1, roomC: 19.9 });
    assert.ok(later.leadS! * 1000 < 7 * H - (startMs + 1800_000), 'the fresh lead alone would not start now');
    assert.equal(later.targetC, 21);
    const after = planOptimalStart(later.state, { ...base, nowWallMs: 7 * H + 1, schedule: { ...rise, preset: 'comfort', nextWallMs: 19 * H, next: { preset: 'eco', setpointC: null } }, setpointC: 21, nextSetpointC: 17 });
    assert.deepEqual([after.targetC, after.state.earlyForWallMs], [null, null]);
  });

  it('the setpoint of a transition: its own, else its preset, clamped', () => {
    const t = { presets: { frost: 8, eco: 17, comfort: 21, boost: 23 }, minSetpointC: 5, maxSetpointC: 22 };
    assert.equal(transitionSetpointC({ preset: 'comfort', setpointC: null }, t), 21);
    assert.equal(transitionSetpointC({ preset: null, setpointC: 19.5 }, t), 19.5);
    assert.equal(transitionSetpointC({ preset: 'boost', setpointC: null }, t), 22);
    assert.equal(transitionSetpointC({ preset: 'none', setpointC: null }, t), null);
    assert.equal(transitionSetpointC(null, t), null);
  });
});

describe('optimal start: persistence', () => {
  it('round-trips through JSON what was learned, without a window or a plan in progress', () => {
    const obs = firstOrderRoom({ a: 6, b: 0.08 }, Array.from({ length: 10 }, (_, i) => ({ heatW: i % 2 ? 200 : 340, outdoorC: i })));
    const { state } = feed(obs);
    const json = JSON.parse(JSON.stringify(serializeOptimalStart({ ...state, earlyForWallMs: 123 })));
    const back = restoreOptimalStart(json);
    assert.deepEqual(back.fit, state.fit);
    assert.deepEqual(back.stats, state.stats);
    assert.equal(back.samples, state.samples);
    assert.deepEqual([back.window, back.earlyForWallMs], [null, null]);
  });

  // [raw, why]
  const bad: Array<[unknown, string]> = [
    [null, 'nothing'],
    ['x', 'not an object'],
    [{ version: 2, stats: {} }, 'unknown version'],
    [{ version: 1 }, 'no stats'],
    [{ version: 1, stats: { s11: 1, s12: 0, s22: 1, s1y: 1, s2y: 'x' } }, 'a non-number'],
    [{ version: 1, stats: { s11: -1, s12: 0, s22: 1, s1y: 1, s2y: 1 } }, 'a negative square sum'],
    [{ version: 1, stats: { s11: 1, s12: 5, s22: 1, s1y: 1, s2y: 1 } }, 'an impossible cross term'],
  ];
  for (const [raw, why] of bad) {
    it(`anything inconsistent gives the prior: ${why}`, () => {
      assert.deepEqual(restoreOptimalStart(raw), initialOptimalStartState);
    });
  }
});
