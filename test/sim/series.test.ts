import { test } from 'node:test';
import assert from 'node:assert/strict';
import { heldAt, heldSeries, linearAt, linearSeries } from '../../agent/sim/series.js';

const outdoor: Array<[number, number]> = [
  [0, 2],
  [6, 0],
  [14, 8],
  [24, 3],
];

test('linear series: between points, held at the ends', () => {
  const cases: Array<[number, number]> = [
    [0, 2],
    [3, 1],
    [6, 0],
    [10, 4],
    [14, 8],
    [19, 5.5],
    [24, 3],
    [30, 3],
  ];
  for (const [h, v] of cases) assert.equal(linearAt(outdoor, h), v, `hour ${h}`);
  assert.equal(linearAt([[2, 5], [4, 7]], 0), 5, 'before the first point: its value');
});

test('held series: each value holds until the next point', () => {
  const occupied: Array<[number, boolean]> = [
    [0, false],
    [8, true],
    [18, false],
  ];
  const cases: Array<[number, boolean]> = [
    [0, false],
    [7.999, false],
    [8, true],
    [17.99, true],
    [18, false],
    [40, false],
  ];
  for (const [h, v] of cases) assert.equal(heldAt(occupied, h), v, `hour ${h}`);
  assert.equal(heldAt([[1, 150]], 0), 150);
});

test('cursor functions give the same answers in any order', () => {
  const lin = linearSeries(outdoor);
  const held = heldSeries(outdoor);
  const hours = [0, 5, 10, 20, 23, 1, 14, 13.5, 30, 2];
  for (const h of hours) {
    assert.equal(lin(h), linearAt(outdoor, h), `linear ${h}`);
    assert.equal(held(h), heldAt(outdoor, h), `held ${h}`);
  }
});
