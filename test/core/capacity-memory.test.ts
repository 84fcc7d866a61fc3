import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { initialCapacityState, trackCapacity, type CapacityState } from '../../agent/core/capacity-memory.js';

const DAY = 24 * 3600;

/** Runs rows [t, room, saturated] through trackCapacity (setpoint 21, band from 20.5). */
function run(rows: Array<[number, number | null, boolean]>): Array<{ phase: CapacityState['phase']; limited: boolean; fellNow: boolean }> {
  let s = initialCapacityState;
  return rows.map(([nowS, roomC, saturated]) => {
    const r = trackCapacity(s, { nowS, roomC, setpointC: 21, saturated, memoryS: DAY });
    s = r.state;
    return { phase: r.state.phase, limited: r.limited, fellNow: r.fellNow };
  });
}

describe('capacity memory', () => {
  it('a fall out of the band while saturated is a shortfall, remembered for a day after the last one', () => {
    // [t, room, saturated, phase, limited, fellNow]
    const table: Array<[number, number | null, boolean, CapacityState['phase'], boolean, boolean]> = [
      [0, 20.8, false, 'none', false, false],
      [10, 20.6, true, 'armed', false, false], // full power, inside the band
      [20, 20.4, true, 'short', true, true], // fell out of it at full power
      [3600, 20.1, true, 'short', true, false], // still short: refreshed
      [3610, 20.1, false, 'none', true, false], // a pause (a sensor probe): not the end of it
      [3620, 20.0, true, 'short', true, false], // back at full power under the band: still a shortfall
      [3630, 21.0, false, 'none', true, false],
      [3620 + DAY - 10, 21.0, false, 'none', true, false],
      [3620 + DAY, 21.0, false, 'none', false, false], // a day after the last short tick
      [3620 + DAY + 10, 20.0, true, 'none', false, false], // under the band without having been in it: not a fall
    ];
    const out = run(table.map(([t, room, sat]) => [t, room, sat]));
    table.forEach(([t, , , phase, limited, fellNow], i) => {
      assert.deepEqual(out[i], { phase, limited, fellNow }, `t=${t}`);
    });
  });

  it('a warm-up from under the band at full power is not a shortfall', () => {
    const out = run([
      [0, 19.0, true],
      [600, 19.8, true],
      [1200, 20.4, true],
      [1800, 20.6, true],
      [2400, 21.0, false],
    ]);
    assert.deepEqual(out.map((o) => o.phase), ['none', 'none', 'none', 'armed', 'none']);
    assert.ok(out.every((o) => !o.limited));
  });

  it('an unknown room temperature neither arms nor records a shortfall', () => {
    const out = run([
      [0, 20.6, true],
      [10, null, true],
      [20, 20.4, true],
    ]);
    assert.deepEqual(out.map((o) => [o.phase, o.limited]), [['armed', false], ['none', false], ['none', false]]);
  });
});
