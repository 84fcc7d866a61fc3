import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { initialPiState, piStep, type PiParams, type PiState } from '../../agent/core/pi-controller.js';

const P: PiParams = { kp: 2.5, tiS: 3600, outdoorGain: 0 };
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** Runs the controller over [t, room] steps (setpoint 21 °C); returns [demand, integral] per step. */
function run(steps: Array<[t: number, room: number, canIntegrateUp?: boolean]>, start: PiState = initialPiState, p: PiParams = P): Array<[number, number]> {
  let s = start;
  return steps.map(([t, room, up]) => {
    const out = piStep(s, { nowS: t, setpointC: 21, roomTempC: room, outdoorTempC: null, canIntegrateUp: up ?? true }, p);
    s = out.state;
    return [r3(out.demand), r3(s.integral)];
  });
}

describe('PI controller', () => {
  it('proportional at once, integral kp·error per ti_s (dt at most 60 s per step)', () => {
    // 0.1 K under: P = 0.25; the integral adds 2.5·0.1/3600 per second.
    assert.deepEqual(run([[0, 20.9], [60, 20.9], [120, 20.9], [3720, 20.9]]), [
      [0.25, 0],
      [0.254, 0.004],
      [0.258, 0.008],
      [0.263, 0.013], // a 1 h gap counts as 60 s: a stall or clock jump dumps no step
    ]);
  });

  it('anti-windup: no integration into saturation, nor while heat cannot follow', () => {
    const cold = run([[0, 20], [60, 20], [120, 20]]); // P = 2.5: saturated
    assert.deepEqual(cold.map(([, i]) => i), [0, 0, 0]);
    const blocked = run([[0, 20.9, false], [60, 20.9, false]]);
    assert.deepEqual(blocked.map(([, i]) => i), [0, 0]);
  });

  it('a room lifted over the setpoint by free gains: the integral unwinds near it, and is cut past +0.2 K', () => {
    const held: PiState = { integral: 0.6, lastMonoS: 0 };
    // [t, room] → [demand, integral]
    const table: Array<[number, number, number, number]> = [
      [60, 21.1, 0.346, 0.596], // 0.1 K over: P −0.25, the integral unwinds slowly
      [120, 21.15, 0.215, 0.59],
      [180, 21.25, 0, 0], // 0.25 K over: the integral is cut, no heat
      [240, 21.1, 0, 0], // back near the setpoint: nothing left over to heat with
      [300, 20.9, 0.254, 0.004], // under it again: P at once, the integral grows from zero
    ];
    const out = run(table.map(([t, room]) => [t, room]), held);
    table.forEach(([t, , demand, integral], i) => assert.deepEqual(out[i], [demand, integral], `t=${t}`));
  });
});
