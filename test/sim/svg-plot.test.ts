import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseScenario } from '../../agent/sim/scenario.js';
import { baselineController } from '../../agent/sim/baseline-controller.js';
import { runSimulation } from '../../agent/sim/simulator.js';
import { CONTROLLER_COLOURS, niceStep, plotSvg } from '../../agent/sim/svg-plot.js';

const scenario = parseScenario({
  name: 'plot <test>',
  duration_h: 6,
  outdoor_c: [[0, 0], [6, 5]],
  setpoint_c: [[0, 21]],
  occupied: [[0, false], [2, true], [4, false]],
});

test('an SVG with title, metrics, panels and one colour per controller', () => {
  const runs = (['hysteresis', 'tpi'] as const).map((k) => runSimulation(scenario, baselineController(k, scenario)));
  const svg = plotSvg(runs);
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\n$/);
  assert.ok(svg.includes('Simulation: plot &lt;test&gt;'), 'title escaped');
  for (const caption of ['Temperatures', 'Unit wall power and GPU power limit', 'Busy inference sequences']) assert.ok(svg.includes(caption), caption);
  assert.ok(svg.includes('hysteresis') && svg.includes('tpi'));
  assert.ok(svg.includes(CONTROLLER_COLOURS[0]!) && svg.includes(CONTROLLER_COLOURS[1]!));
  assert.match(svg, /energy \d+\.\d\d kWh/);
  assert.ok(svg.includes('02:00'), 'hour labels');
  // Balanced tags (a cheap well-formedness check).
  const opens = (svg.match(/<g[\s>]/g) ?? []).length;
  const closes = (svg.match(/<\/g>/g) ?? []).length;
  assert.equal(opens, closes);
  assert.ok(!svg.includes('NaN'), 'no NaN coordinates');
});

test('long runs are labelled in days and decimated', () => {
  const week = parseScenario({ name: 'week', duration_h: 72, outdoor_c: [[0, 0]], setpoint_c: [[0, 21]] });
  const svg = plotSvg([runSimulation(week, baselineController('hysteresis', week))]);
  assert.ok(svg.includes('>Mon<') && svg.includes('>Wed<'));
  assert.ok(svg.length < 600_000, `size ${svg.length}`);
  assert.ok(!svg.includes('NaN'));
});

test('niceStep picks 1/2/2.5/5 × 10^k', () => {
  assert.equal(niceStep(10, 5), 2);
  assert.equal(niceStep(400, 4), 100);
  assert.equal(niceStep(7, 6), 2);
  assert.equal(niceStep(0.9, 4), 0.25);
});
