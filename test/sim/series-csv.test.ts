import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seriesToCsv } from '../../agent/sim/series-csv.js';
import type { SimSeriesRow } from '../../agent/sim/simulator.js';

const row: SimSeriesRow = {
  t_h: 1 / 60,
  ti: 20.12345,
  tm: 19,
  to: -0.0001,
  tset: 21,
  occupied: true,
  demand: null,
  limit_w: 300,
  gpu_w: 222,
  wall_w: 291.1111111,
  busy: 1,
  queued: 0,
  model_loaded: true,
  accepting: false,
  tokens_per_s: 66.76432,
};

test('CSV: header, controller column, rounding, booleans, empty demand', () => {
  const csv = seriesToCsv([
    { controller: 'tpi', series: [row] },
    { controller: 'a,b', series: [{ ...row, demand: 0.5 }] },
  ]);
  assert.equal(
    csv,
    'controller,t_h,ti,tm,to,tset,occupied,demand,limit_w,gpu_w,wall_w,busy,queued,model_loaded,accepting,tokens_per_s\n' +
      'tpi,0.0167,20.123,19,0,21,1,,300,222,291.111,1,0,1,0,66.764\n' +
      '"a,b",0.0167,20.123,19,0,21,1,0.5,300,222,291.111,1,0,1,0,66.764\n',
  );
});
