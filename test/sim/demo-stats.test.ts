import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DemoStatsAccumulator, type DemoStatsSample } from '../../agent/sim/demo-stats.js';

const JOBS = { done: 3, active: 1, rejected: 2 };
const close = (a: number | null, b: number, what: string) => assert.ok(a !== null && Math.abs(a - b) < 1e-9, `${what}: ${a} vs ${b}`);

describe('DemoStatsAccumulator', () => {
  it('weights temperatures, band time and energy by duration', () => {
    const acc = new DemoStatsAccumulator();
    const samples: DemoStatsSample[] = [
      // 1 h at 19 °C (below the band of 21 °C), heating 300 W busy
      { dtS: 3600, roomTempC: 19, setpointC: 21, wallW: 300, busy: true, tokens: 1000 },
      // 3 h at 21.5 °C (in band), 100 W not busy
      { dtS: 10_800, roomTempC: 21.5, setpointC: 21, wallW: 100, busy: false },
    ];
    for (const s of samples) acc.add(s);
    const st = acc.stats({ realElapsedS: 240, simElapsedS: 14_400, jobs: JOBS, nodeId: 'h1' });
    assert.deepEqual([st.roomTempC.min, st.roomTempC.max], [19, 21.5]);
    close(st.roomTempC.mean, (19 * 1 + 21.5 * 3) / 4, 'mean');
    close(st.timeInBand, 0.75, 'time in band');
    close(st.energyKwh, 0.3 + 0.3, 'energy');
    close(st.usefulShare, 0.5, 'useful share');
    assert.equal(st.tokens, 1000);
    assert.deepEqual(st.jobs, JOBS);
    assert.equal(st.nodeId, 'h1');
  });

  // [case, sample, in band?]
  const edges: Array<[string, DemoStatsSample, boolean]> = [
    ['setpoint − 0.5 (edge)', { dtS: 1, roomTempC: 20.5, setpointC: 21, wallW: 0, busy: false }, true],
    ['setpoint + 1.0 (edge)', { dtS: 1, roomTempC: 22, setpointC: 21, wallW: 0, busy: false }, true],
    ['just under', { dtS: 1, roomTempC: 20.49, setpointC: 21, wallW: 0, busy: false }, false],
    ['just over', { dtS: 1, roomTempC: 22.01, setpointC: 21, wallW: 0, busy: false }, false],
  ];
  for (const [name, sample, inBand] of edges) {
    it(`band edge: ${name} → ${inBand ? 'in' : 'out'}`, () => {
      const acc = new DemoStatsAccumulator();
      acc.add(sample);
      assert.equal(acc.stats({ realElapsedS: 1, simElapsedS: 1, jobs: JOBS }).timeInBand, inBand ? 1 : 0);
    });
  }

  it('unknown values do not count; nothing known gives nulls', () => {
    const acc = new DemoStatsAccumulator();
    acc.add({ dtS: 60, roomTempC: null, setpointC: 21, wallW: null, busy: true });
    acc.add({ dtS: 0, roomTempC: 30, setpointC: 21, wallW: 500, busy: true });
    acc.add({ dtS: Number.NaN, roomTempC: 30, setpointC: 21, wallW: 500, busy: true });
    const st = acc.stats({ realElapsedS: 1, simElapsedS: 60, jobs: JOBS, tokens: 42 });
    assert.deepEqual(st.roomTempC, { min: null, mean: null, max: null });
    assert.equal(st.timeInBand, null);
    assert.equal(st.energyKwh, 0);
    assert.equal(st.usefulShare, null);
    assert.equal(st.tokens, 42, 'tokens given to stats() win');
  });

  it('no setpoint: temperatures count, time in band does not', () => {
    const acc = new DemoStatsAccumulator();
    acc.add({ dtS: 60, roomTempC: 20, setpointC: null, wallW: 0, busy: false });
    const st = acc.stats({ realElapsedS: 1, simElapsedS: 60, jobs: JOBS });
    assert.equal(st.roomTempC.mean, 20);
    assert.equal(st.timeInBand, null);
  });
});
