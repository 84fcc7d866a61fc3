import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { escapeXml, histogramSvg, lineChartSvg, niceTicks, quantile } from '../../bench/svg-chart.js';
import { latencyStats, reactionTable } from '../../bench/reaction.js';
import { footprintTable } from '../../bench/footprint.js';
import { pidListeningOn } from '../../bench/broker-load.js';

describe('bench charts and tables', () => {
  it('nice ticks are round steps covering the range', () => {
    const table: Array<[number, number, number[]]> = [
      [0, 10, [0, 2, 4, 6, 8, 10]],
      [0, 1, [0, 0.2, 0.4, 0.6, 0.8, 1]],
      [13, 87, [20, 40, 60, 80]],
      [5, 5, [5, 5.2, 5.4, 5.6, 5.8, 6]],
    ];
    for (const [lo, hi, want] of table) assert.deepEqual(niceTicks(lo, hi), want, `${lo}..${hi}`);
  });

  it('quantiles by nearest rank', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(quantile(v, 0.5), 50);
    assert.equal(quantile(v, 0.99), 99);
    assert.equal(quantile(v, 1), 100);
    assert.equal(quantile([7], 0.99), 7);
    assert.ok(Number.isNaN(quantile([], 0.5)));
    assert.deepEqual(latencyStats([1, 2, 3, 4]), { n: 4, p50: 2, p90: 4, p99: 4, max: 4 });
  });

  it('draws well-formed SVG with escaped text', () => {
    const line = lineChartSvg({
      title: 'a < b & "c"',
      xLabel: 't',
      panels: [{ yLabel: 'y', series: [{ name: 's', points: [[0, 1], [1, 2], [2, NaN]] }], refs: [{ y: 3, label: 'goal' }] }],
    });
    assert.match(line, /^<svg [^>]*>.*<\/svg>\n$/s);
    assert.ok(line.includes(escapeXml('a < b & "c"')));
    assert.ok(!line.includes('NaN'));
    const hist = histogramSvg({ title: 'h', xLabel: 'ms', series: [{ name: 'x', values: [1, 2, 2, 3, 40] }], markers: [{ x: 50, label: 'goal' }] });
    assert.match(hist, /^<svg [^>]*>.*<\/svg>\n$/s);
    assert.equal((hist.match(/<rect /g) ?? []).length, 2 + 4, 'background, frame and 4 non-empty bins');
    assert.ok(!hist.includes('NaN'));
  });

  it('tables say whether each goal is met', () => {
    const fp = footprintTable({
      durationS: 60,
      agent: { rssMeanMiB: 70, rssMaxMiB: 71, cpuPct: 0.2 },
      jobsAgent: { rssMeanMiB: 76, rssMaxMiB: 77, cpuPct: 0.3, childProcesses: 0 },
      jobsRssRatio: 1.9,
      bare: { rssMeanMiB: 40, rssMaxMiB: 40, cpuPct: 0 },
      rssRatio: 1.75,
      goals: { rss: true, cpu: true },
    });
    assert.match(fp, /1\.75× \(goal ≤ 2×: met\)/);
    assert.match(fp, /With jobs on: 1\.90× bare, CPU 0\.300 %, 0 child process/);
    const s = { n: 2, p50: 3, p90: 4, p99: 60, max: 60 };
    const rt = reactionTable([{ broker: 'b', stats: { setpoint_decision: s, room_decision: s, all_decision: s, actuation: s }, missed: 0, noLimitChange: 1, goalMet: false }]);
    assert.match(rt, /goal p99 ≤ 50 ms \(decision\): NOT met/);
  });

  it('finds the broker process by its listening port', async () => {
    const pid = await pidListeningOn(1883);
    assert.ok(pid !== null && pid > 0, 'the system broker listens on 1883');
  });
});
