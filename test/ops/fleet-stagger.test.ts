import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fleetStaggerMs, FLEET_STAGGER_MAX_S } from '../../agent/ops/fleet-stagger.js';

describe('fleet stagger', () => {
  it('spreads fleet-wide restart/reload_config uniformly over 0–30 s', () => {
    assert.equal(FLEET_STAGGER_MAX_S, 30);
    const cases: Array<[number, number]> = [
      [0, 0],
      [0.5, 15_000],
      [0.999999, 29_999],
      [-1, 0],
      [Number.NaN, 0],
      [2, 30_000],
    ];
    for (const [r, ms] of cases) assert.equal(fleetStaggerMs(() => r), ms, `random ${r}`);
    assert.equal(fleetStaggerMs(() => 0.5, 2), 1000, 'another maximum');
  });

  it('with Math.random stays in [0, 30 s) and is not constant', () => {
    const values = Array.from({ length: 200 }, () => fleetStaggerMs(Math.random));
    assert.ok(values.every((v) => v >= 0 && v < 30_000));
    assert.ok(new Set(values).size > 100);
  });
});
