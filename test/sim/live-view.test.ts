import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  bar,
  clipLine,
  formatDuration,
  renderLiveView,
  renderSummary,
  sparkline,
  visibleWidth,
  type DemoSummaryStats,
  type LiveViewModel,
  type LiveViewState,
} from '../../agent/sim/live-view.js';

const ESC = '\u001b';
const strip = (s: string) => s.replaceAll(new RegExp(`${ESC}\\[[0-9;]*m`, 'g'), '');

/** The example state document of spec/mqtt-api.md. */
const STATE: LiveViewState = {
  ts: '2026-11-26T07:00:00.000Z',
  mode: 'auto',
  preset: 'comfort',
  phase: 'heating',
  action: 'heating',
  room_temp_c: 20.4,
  setpoint_c: 21.0,
  setpoint_source: 'input',
  outdoor_temp_c: 4.5,
  demand: 0.62,
  power_limit_w: 240,
  gpu: { power_w: 231.5, temp_c: 66, util_pct: 93, pstate: 'P2' },
  wall_power_w: 298.0,
  heat_w: 298.0,
  energy_kwh: 153.27,
  llm: { model: 'qwen2.5-7b-q4', loaded: true, accepting: true, slots: 2, max_slots: 4, jobs_active: 2, jobs_done: 1234, tokens_per_s: 58.1 },
  inputs_stale: [],
  reasons: ['below_setpoint'],
  safe_mode: false,
};

const MODEL: LiveViewModel = {
  nodeId: 'demo-1',
  broker: 'mqtt://127.0.0.1:1883',
  realElapsedS: 135,
  simElapsedS: 8100,
  simNowMs: Date.UTC(2026, 0, 5, 9, 15),
  speed: 60,
  online: true,
  state: STATE,
  roomHistoryC: Array.from({ length: 60 }, (_, i) => 19 + i * 0.025),
  jobs: { done: 12, active: 2, rejected: 3 },
  message: 'q quit',
};

const LONG = 'x'.repeat(120);

describe('renderLiveView', () => {
  // [case, model, texts the screen must contain (no colour)]
  const cases: Array<[string, LiveViewModel, string[]]> = [
    [
      'the spec example state',
      MODEL,
      [
        'node demo-1 · mqtt://127.0.0.1:1883',
        'online',
        'real 00:02:15 · simulated 02:15:00 (×60) · sim clock 2026-01-05 09:15 UTC',
        'Room      20.4 °C   setpoint 21.0 °C (input)   outdoor 4.5 °C',
        '[████████████░░░░░░░░] 62 %',
        'limit 240 W · GPU 231.5 W · wall 298.0 W · heat 298.0 W',
        '153.27 kWh · GPU 66 °C · 93 % util · P2',
        'heating · action heating · mode auto · preset comfort',
        'Reasons   below_setpoint',
        'qwen2.5-7b-q4 · loaded · accepting · slots 2/4 free',
        '58.1 tok/s · jobs done 12 · active 2 · rejected 3',
        'q quit',
      ],
    ],
    [
      'jobs from the state when the demo has no job client',
      { ...MODEL, jobs: null },
      ['jobs done 1,234 · active 2 · rejected —'],
    ],
    ['no state yet', { ...MODEL, state: null, roomHistoryC: [], online: null }, ['waiting for the heater’s retained state', 'Room      —   setpoint —   outdoor —', 'status ?', 'History   —']],
    ['offline', { ...MODEL, online: false }, ['offline']],
    [
      'safe mode with stale inputs',
      { ...MODEL, state: { ...STATE, safe_mode: true, phase: 'safe', action: 'off', inputs_stale: ['room_temperature', 'wall_power'], reasons: ['input_stale', 'min_off_time'] } },
      ['! SAFE MODE · stale inputs: room_temperature, wall_power', 'safe · action off', 'input_stale, min_off_time'],
    ],
    ['credentials in the broker URL are not shown', { ...MODEL, broker: 'mqtts://demo:s3cret@broker:8883' }, ['mqtts://broker:8883']],
    ['a day and more of simulated time', { ...MODEL, simElapsedS: 90_061, speed: 3600 }, ['simulated 1d 01:01:01 (×3600)']],
  ];
  for (const [name, model, texts] of cases) {
    it(`${name}: shows the values, fits 80 columns, no colour codes`, () => {
      const out = renderLiveView(model);
      for (const t of texts) assert.ok(out.includes(t), `missing ${JSON.stringify(t)} in\n${out}`);
      assert.equal(out.includes(ESC), false);
      assert.equal(out.includes('s3cret'), false);
      for (const line of out.split('\n')) assert.ok(visibleWidth(line) <= 80, `too wide (${visibleWidth(line)}): ${line}`);
    });
  }

  it('the sparkline shows the last sparkPoints points and their range', () => {
    const out = renderLiveView({ ...MODEL, roomHistoryC: [18, 30, 19, 19.5, 20] }, { sparkPoints: 3 });
    assert.ok(out.includes('History   ▁▅█  19.0…20.0 °C'), out);
  });

  const extremes: Array<[string, LiveViewModel, number]> = [
    ['long names, reasons and inputs', { ...MODEL, nodeId: LONG, broker: `mqtt://${LONG}:1883`, message: LONG, state: { ...STATE, reasons: Array(20).fill('below_setpoint'), inputs_stale: Array(10).fill('outdoor_temperature'), safe_mode: true, llm: { ...STATE.llm, model: LONG } } }, 80],
    ['huge numbers', { ...MODEL, realElapsedS: 1e9, simElapsedS: 1e12, state: { ...STATE, energy_kwh: 1e15, power_limit_w: 1e12, gpu: { power_w: 1e12 }, llm: { jobs_done: 1e15, tokens_per_s: 1e9 } } }, 80],
    ['a narrow terminal', MODEL, 50],
  ];
  for (const [name, model, width] of extremes) {
    for (const color of [false, true]) {
      it(`${name}${color ? ' (colour)' : ''}: every line fits ${width} columns`, () => {
        const out = renderLiveView(model, { width, color });
        for (const line of out.split('\n')) assert.ok(visibleWidth(line) <= width, `too wide (${visibleWidth(line)}): ${strip(line)}`);
      });
    }
  }

  it('colour changes only the codes, never the text', () => {
    const plain = renderLiveView(MODEL);
    const coloured = renderLiveView(MODEL, { color: true });
    assert.ok(coloured.includes(`${ESC}[`));
    assert.equal(strip(coloured), plain);
  });

  // [room, setpoint, SGR colour of the room temperature]
  const bands: Array<[number, number, string]> = [
    [20.4, 21, '34'], // below setpoint − 0.5: blue
    [20.5, 21, '32'], // the band's lower edge: green
    [22.0, 21, '32'], // upper edge
    [22.1, 21, '31'], // above setpoint + 1: red
  ];
  for (const [roomC, sp, code] of bands) {
    it(`room ${roomC} °C for setpoint ${sp} °C is coloured ${code}`, () => {
      const out = renderLiveView({ ...MODEL, state: { ...STATE, room_temp_c: roomC, setpoint_c: sp } }, { color: true });
      assert.ok(out.includes(`${ESC}[${code};1m${roomC.toFixed(1)} °C`), out);
    });
  }
});

describe('helpers', () => {
  const sparks: Array<[number[], string]> = [
    [[], ''],
    [[1, 2, 3, 4, 5, 6, 7, 8], '▁▂▃▄▅▆▇█'],
    [[20, 20, 20], '▅▅▅'],
    [[20, Number.NaN, 21], '▁ █'],
    [[20, 20.05], '▄▅'], // under the minimum span of 0.2 K: small changes stay small
  ];
  for (const [values, expected] of sparks) {
    it(`sparkline ${JSON.stringify(values)} → ${JSON.stringify(expected)}`, () => assert.equal(sparkline(values), expected));
  }

  const durations: Array<[number, string]> = [
    [0, '00:00:00'],
    [59.9, '00:00:59'],
    [3600, '01:00:00'],
    [90_061, '1d 01:01:01'],
    [-1, '—'],
    [Number.NaN, '—'],
  ];
  for (const [s, expected] of durations) {
    it(`formatDuration(${s}) → ${expected}`, () => assert.equal(formatDuration(s), expected));
  }

  const bars: Array<[number | null, number, string]> = [
    [0, 4, '[░░░░]'],
    [1, 4, '[████]'],
    [0.5, 10, '[█████░░░░░]'],
    [1.7, 4, '[████]'],
    [-1, 4, '[░░░░]'],
    [null, 4, '[░░░░]'],
  ];
  for (const [share, width, expected] of bars) {
    it(`bar(${share}, ${width}) → ${expected}`, () => assert.equal(bar(share, width), expected));
  }

  it('clipLine cuts plain and coloured lines to the width, with … and a reset', () => {
    assert.equal(clipLine('abcdef', 4), 'abc…');
    assert.equal(clipLine('abc', 4), 'abc');
    const coloured = clipLine(`${ESC}[31mabcdef${ESC}[0m`, 4);
    assert.equal(visibleWidth(coloured), 4);
    assert.equal(strip(coloured), 'abc…');
    assert.ok(coloured.endsWith(`${ESC}[0m`));
  });
});

describe('renderSummary', () => {
  const STATS: DemoSummaryStats = {
    nodeId: 'demo-1',
    realElapsedS: 600,
    simElapsedS: 36_000,
    roomTempC: { min: 19.02, mean: 20.61, max: 21.33 },
    timeInBand: 0.87,
    energyKwh: 2.413,
    usefulShare: 0.92,
    tokens: 183_402,
    jobs: { done: 412, active: 0, rejected: 17, failed: 1 },
  };
  const cases: Array<[string, DemoSummaryStats, string[]]> = [
    [
      'a full run',
      STATS,
      [
        'AnchIAle demo summary · node demo-1',
        'real 00:10:00 · simulated 10:00:00',
        'min 19.0 °C · mean 20.6 °C · max 21.3 °C',
        'Time in band      87 %',
        '2.413 kWh · useful 92 %',
        'Tokens            183,402 (76,006 tokens/kWh)',
        'done 412 · rejected 17 · active 0 · failed 1',
      ],
    ],
    [
      'nothing measured',
      { ...STATS, nodeId: null, roomTempC: { min: null, mean: null, max: null }, timeInBand: null, energyKwh: 0, usefulShare: null, tokens: 0, jobs: { done: 0, active: 0, rejected: 0 } },
      ['min — · mean — · max —', 'Time in band      —', '0.000 kWh · useful —', 'Tokens            0\n'],
    ],
  ];
  for (const [name, stats, texts] of cases) {
    it(`${name}: shows the numbers and fits 80 columns`, () => {
      const out = `${renderSummary(stats)}\n`;
      for (const t of texts) assert.ok(out.includes(t), `missing ${JSON.stringify(t)} in\n${out}`);
      assert.equal(out.includes(ESC), false);
      for (const line of out.split('\n')) assert.ok(visibleWidth(line) <= 80, line);
      assert.equal(strip(renderSummary(stats, { color: true })), out.slice(0, -1));
    });
  }
});
