import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkModel, mulberry32, periodicArrivals, poissonArrivals } from '../../agent/sim/work.js';

test('mulberry32 reference values (seed 1)', () => {
  const r = mulberry32(1);
  assert.deepEqual([r(), r(), r()], [0.6270739405881613, 0.002735721180215478, 0.5274470399599522]);
});

test('periodic arrivals at 0, every_s, … before the end', () => {
  assert.deepEqual(periodicArrivals(120, 600), [0, 120, 240, 360, 480]);
  assert.deepEqual(periodicArrivals(120, 601), [0, 120, 240, 360, 480, 600]);
});

test('poisson: same seed, same arrivals; another seed, others', () => {
  const rates: Array<[number, number]> = [
    [0, 2],
    [5, 0],
    [6, 2],
  ];
  const a = poissonArrivals(rates, 10 * 3600, 7);
  const b = poissonArrivals(rates, 10 * 3600, 7);
  const c = poissonArrivals(rates, 10 * 3600, 8);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  // Rate 2/min for 9 h: 1080 expected (sd ≈ 33).
  assert.ok(a.length > 950 && a.length < 1210, `count ${a.length}`);
  assert.ok(a.every((t, i) => i === 0 || t > a[i - 1]!), 'increasing');
  assert.equal(a.filter((t) => t >= 5 * 3600 && t < 6 * 3600).length, 0, 'no arrival while the rate is 0');
  assert.ok(a.every((t) => t >= 0 && t < 10 * 3600));
});

test('work model: rejected while not accepting, FIFO, tokens shared, jobs done', () => {
  const w = new WorkModel({ mode: 'periodic', every_s: 10, tokens: 100 }, 40);
  w.arrive(0, 1, false); // job at 0: rejected
  assert.deepEqual([w.jobsRejected, w.inSystem], [1, 0]);
  w.arrive(1, 10, true); // job at 10: queued
  w.arrive(11, 10, true); // job at 20: queued
  assert.equal(w.inSystem, 2);
  assert.equal(w.waiting(1), 1);
  assert.equal(w.oldestWaitS(1, 25), 5, 'the job of t=20 waits behind the running one');
  assert.equal(w.oldestWaitS(2, 25), 0, 'both run: none waits');
  assert.equal(w.oldestWaitS(0, 25), 15, 'none runs: the job of t=10 is the oldest waiting');
  w.serve(2, 120); // 60 each
  assert.equal(w.jobsDone, 0);
  w.serve(1, 40); // first job: 100 − 60 − 40 = 0 → done
  assert.deepEqual([w.jobsDone, w.inSystem], [1, 1]);
  assert.equal(w.oldestWaitS(0, 26), 6, 'the job of t=20 is now first in line');
  w.serve(4, 1000); // only one job there: it gets all of it
  assert.deepEqual([w.jobsDone, w.inSystem], [2, 0]);
  w.arrive(21, 100, true);
  assert.equal(w.inSystem, 1); // job at 30
  assert.equal(w.jobsAccepted, 3);
});

test('backlog: always work, no jobs counted', () => {
  const w = new WorkModel({ mode: 'backlog' }, 3600);
  assert.equal(w.inSystem, Number.POSITIVE_INFINITY);
  w.arrive(0, 3600, false);
  w.serve(4, 1000);
  assert.deepEqual([w.jobsDone, w.jobsRejected, w.waiting(4), w.oldestWaitS(4, 60)], [0, 0, 0, 0]);
});
