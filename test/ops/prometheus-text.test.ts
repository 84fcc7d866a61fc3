import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatSampleValue, renderPrometheusText, PROMETHEUS_CONTENT_TYPE } from '../../agent/ops/prometheus-text.js';

describe('Prometheus text format 0.0.4', () => {
  it('HELP, TYPE, then one line per sample; labels quoted; a family without samples keeps its header', () => {
    const text = renderPrometheusText([
      { name: 'anchiale_heat_watts', type: 'gauge', help: 'Heat (W)', samples: [{ value: 298.5 }] },
      { name: 'anchiale_phase', type: 'gauge', help: 'Phase', samples: [{ labels: { phase: 'idle' }, value: 0 }, { labels: { phase: 'heating' }, value: 1 }] },
      { name: 'anchiale_room_temperature_celsius', type: 'gauge', help: 'Room', samples: [] },
      { name: 'anchiale_events_total', type: 'counter', help: 'Events', samples: [{ labels: { type: 'command', severity: 'info' }, value: 3 }] },
    ]);
    assert.equal(
      text,
      [
        '# HELP anchiale_heat_watts Heat (W)',
        '# TYPE anchiale_heat_watts gauge',
        'anchiale_heat_watts 298.5',
        '# HELP anchiale_phase Phase',
        '# TYPE anchiale_phase gauge',
        'anchiale_phase{phase="idle"} 0',
        'anchiale_phase{phase="heating"} 1',
        '# HELP anchiale_room_temperature_celsius Room',
        '# TYPE anchiale_room_temperature_celsius gauge',
        '# HELP anchiale_events_total Events',
        '# TYPE anchiale_events_total counter',
        'anchiale_events_total{type="command",severity="info"} 3',
        '',
      ].join('\n'),
    );
    assert.equal(PROMETHEUS_CONTENT_TYPE, 'text/plain; version=0.0.4; charset=utf-8');
  });

  it('escapes label values (\\ " newline) and help text (\\ newline)', () => {
    const text = renderPrometheusText([
      { name: 'x', type: 'gauge', help: 'a\\b\nc', samples: [{ labels: { l: 'q"u\\o\nte' }, value: 1 }] },
    ]);
    assert.match(text, /^# HELP x a\\\\b\\nc$/m);
    assert.match(text, /^x\{l="q\\"u\\\\o\\nte"\} 1$/m);
  });

  it('special values', () => {
    const cases: Array<[number, string]> = [[NaN, 'NaN'], [Infinity, '+Inf'], [-Infinity, '-Inf'], [0, '0'], [-1.5, '-1.5'], [1e21, '1e+21']];
    for (const [v, s] of cases) assert.equal(formatSampleValue(v), s);
  });

  it('refuses invalid metric and label names and duplicates', () => {
    const bad: Array<Parameters<typeof renderPrometheusText>[0]> = [
      [{ name: '9x', type: 'gauge', help: '', samples: [] }],
      [{ name: 'a-b', type: 'gauge', help: '', samples: [] }],
      [{ name: 'x', type: 'gauge', help: '', samples: [{ labels: { 'bad-label': 'v' }, value: 1 }] }],
      [{ name: 'x', type: 'gauge', help: '', samples: [{ labels: { __reserved: 'v' }, value: 1 }] }],
      [{ name: 'x', type: 'gauge', help: '', samples: [] }, { name: 'x', type: 'gauge', help: '', samples: [] }],
    ];
    for (const families of bad) assert.throws(() => renderPrometheusText(families), /invalid|twice/);
  });
});
