import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { InputName } from '../../../agent/core/types.js';
import { resolveInputSpec, type InputConfig, type ResolvedInput } from '../../../agent/adapters/mqtt/input-presets.js';
import { mulberry32 as rng } from '../../../agent/sim/work.js';
import {
  mapInput,
  MAX_INPUT_PAYLOAD_BYTES,
  PLAUSIBLE_RANGES,
  type InputErrorCode,
  type InputResult,
} from '../../../agent/adapters/mqtt/input-mapping.js';

const FIXTURES = new URL('../../fixtures/payloads/', import.meta.url);
const fixture = (file: string): Buffer => readFileSync(new URL(file, FIXTURES));

const CODES: readonly InputErrorCode[] = ['not_json', 'path_missing', 'not_a_number', 'not_a_boolean', 'not_finite', 'implausible', 'too_large', 'empty'];

const spec = (name: InputName, cfg: InputConfig): ResolvedInput => resolveInputSpec(name, cfg);
const room = (cfg: InputConfig = {}): ResolvedInput => spec('room_temperature', { topic: 't', ...cfg });
const power = (cfg: InputConfig = {}): ResolvedInput => spec('wall_power', { topic: 't', ...cfg });
const windowSpec = (cfg: InputConfig = {}): ResolvedInput => spec('window_open', { topic: 't', ...cfg });

function ok(r: InputResult): { value: number | boolean; sourceTimeMs: number | null } {
  assert.ok(r.ok, `expected ok, got ${JSON.stringify(r)}`);
  return r;
}

function err(r: InputResult, code: InputErrorCode, ...inReason: string[]): void {
  assert.ok(!r.ok, `expected ${code}, got ${JSON.stringify(r)}`);
  assert.equal(r.code, code, r.reason);
  assert.ok(r.reason.length > 0);
  for (const s of inReason) assert.ok(r.reason.includes(s), `${JSON.stringify(r.reason)} should contain ${JSON.stringify(s)}`);
}

describe('mapInput: captured payloads → values', () => {
  const cases: Array<[string, InputName, InputConfig, number | boolean, number | null]> = [
    ['z2m-trv-danfoss-ally.json', 'room_temperature', { preset: 'z2m', device: 'room204/trv' }, 19.5, null],
    ['z2m-trv-danfoss-ally.json', 'setpoint', { preset: 'z2m', device: 'room204/trv' }, 21, null],
    ['z2m-trv-danfoss-ally.json', 'room_temperature', { preset: 'z2m', device: 'room204/trv', timestamp_path: 'last_seen' }, 19.5, Date.UTC(2026, 10, 26, 6, 58, 12, 345)],
    ['z2m-temperature-sensor-aqara.json', 'room_temperature', { preset: 'z2m', device: 's', path: 'temperature', timestamp_path: 'last_seen' }, 21.37, 1795676292345],
    ['z2m-temperature-sensor-aqara.json', 'outdoor_temperature', { preset: 'z2m', device: 'outside' }, 21.37, null],
    ['z2m-window-contact-open.json', 'window_open', { preset: 'z2m', device: 'w' }, true, null],
    ['z2m-window-contact-closed.json', 'window_open', { preset: 'z2m', device: 'w' }, false, null],
    ['z2m-smart-plug.json', 'wall_power', { preset: 'z2m', device: 'plug' }, 298, null],
    ['tasmota-tele-sensor.json', 'wall_power', { preset: 'tasmota', device: 'pow' }, 298, null],
    ['tasmota-tele-sensor.json', 'room_temperature', { preset: 'tasmota', device: 'pow' }, 20.4, null],
    ['shelly-gen1-relay-0-power.txt', 'wall_power', { preset: 'shelly_gen1', device: 'shellyplug-s-A1' }, 12.34, null],
    ['shelly-gen1-ext-temperature-0.txt', 'room_temperature', { preset: 'shelly_gen1', device: 'shelly1-A1' }, 20.75, null],
    ['shelly-gen2-status-switch-0.json', 'wall_power', { preset: 'shelly_gen2', device: 'plug' }, 298.4, null],
    ['shelly-gen2-status-switch-0.json', 'wall_power', { preset: 'shelly_gen2', device: 'plug', timestamp_path: 'aenergy.minute_ts' }, 298.4, 1795676400000],
    ['shelly-gen2-status-temperature-0.json', 'room_temperature', { preset: 'shelly_gen2', device: 'ht' }, 20.4, null],
    ['ha-statestream-temperature.txt', 'room_temperature', { topic: 'homeassistant/sensor/r204_temperature/state' }, 21.5, null],
    ['ha-statestream-temperature.txt', 'room_temperature', { topic: 'homeassistant/sensor/r204_temperature/state', format: 'number' }, 21.5, null],
    ['ha-statestream-temperature.txt', 'outdoor_temperature', { topic: 'homeassistant/sensor/out/state', format: 'text' }, 21.5, null],
    ['ha-statestream-temperature.txt', 'setpoint', { topic: 'homeassistant/sensor/sp/state', format: 'json' }, 21.5, null],
    ['node-red-value.json', 'room_temperature', { topic: 'nodered/r204', path: 'value' }, 21.5, null],
    ['node-red-value.json', 'room_temperature', { topic: 'nodered/r204', format: 'json', path: 'value' }, 21.5, null],
    // z2m energy (kWh) read as power would be wrong; Tasmota total in kWh → Wh via scale (any number input works the same).
    ['tasmota-tele-sensor.json', 'wall_power', { preset: 'tasmota', device: 'pow', path: 'ENERGY.ApparentPower' }, 305, null],
  ];
  for (const [file, name, cfg, value, sourceTimeMs] of cases) {
    it(`${file} → ${name} ${JSON.stringify(cfg)} = ${String(value)}`, () => {
      const s = spec(name, cfg);
      const buf = fixture(file);
      assert.deepEqual(mapInput(s, buf), { ok: true, value, sourceTimeMs });
      assert.deepEqual(mapInput(s, buf.toString('utf8')), { ok: true, value, sourceTimeMs }, 'string payloads read the same');
    });
  }

  it("a Shelly Gen2 switch's temperature.tC is the plug's own, readable but not the room's", () => {
    assert.equal(ok(mapInput(room({ path: 'temperature.tC' }), fixture('shelly-gen2-status-switch-0.json'))).value, 41.2);
  });

  it('a z2m TRV message routed to a plain temperature-sensor path is path_missing', () => {
    err(mapInput(spec('room_temperature', { preset: 'z2m', device: 'trv', path: 'temperature' }), fixture('z2m-trv-danfoss-ally.json')), 'path_missing', 'temperature');
  });
});

describe('mapInput: every error code', () => {
  const z2mRoom = spec('room_temperature', { preset: 'z2m', device: 'trv' });
  const cases: Array<[string, ResolvedInput, string | Buffer, InputErrorCode, string[]]> = [
    ['json format, not JSON', room({ format: 'json' }), '21.5 °C', 'not_json', ['not JSON']],
    ['a path, not JSON', z2mRoom, '19.5', 'path_missing', ['local_temperature']],
    ['a path, text payload', room({ path: 'value' }), 'hello', 'not_json', ['not JSON', 'hello']],
    ['key missing', z2mRoom, '{"battery":87}', 'path_missing', ['local_temperature']],
    ['segment is not an object', power({ path: 'ENERGY.Power' }), '{"ENERGY":298}', 'path_missing', ['ENERGY.Power']],
    ['index out of range', room({ path: 'sensors[2]' }), '{"sensors":[20,21]}', 'path_missing', ['sensors[2]']],
    ['a word', room(), 'warm', 'not_a_number', ['warm']],
    ['comma decimal', room(), ' 21,5 ', 'not_a_number', ['21,5', 'decimal separator']],
    ['comma decimal in JSON string', room({ path: 't' }), '{"t":"21,5"}', 'not_a_number', ['21,5']],
    ['hex', room({ format: 'number' }), '0x15', 'not_a_number', ['0x15']],
    ['unit suffix', room({ format: 'text' }), '21.5 C', 'not_a_number', ['21.5 C']],
    ['JSON boolean for a number', room({ path: 't' }), '{"t":true}', 'not_a_number', ['boolean']],
    ['JSON null for a number', room({ path: 't' }), '{"t":null}', 'not_a_number', ['null']],
    ['empty string at path', room({ path: 't' }), '{"t":""}', 'not_a_number', []],
    ['object without path', room(), '{"value":21.5}', 'not_a_number', ['object', 'path']],
    ['array without path', room(), '[21.5]', 'not_a_number', ['array']],
    ['not a boolean word', windowSpec(), 'ajar', 'not_a_boolean', ['ajar']],
    ['not 1 or 0', windowSpec(), '2', 'not_a_boolean', ['2']],
    ['null for a boolean', windowSpec({ path: 'contact' }), '{"contact":null}', 'not_a_boolean', ['null']],
    ['object for a boolean', windowSpec({ path: 'contact' }), '{"contact":{"state":true}}', 'not_a_boolean', ['object']],
    ['boolean word with number format', windowSpec({ format: 'number' }), 'ON', 'not_a_boolean', ['1 or 0']],
    ['NaN text', room(), 'NaN', 'not_finite', ['NaN']],
    ['Infinity text', room({ format: 'number' }), '-Infinity', 'not_finite', []],
    ['inf text', power({ format: 'text' }), 'inf', 'not_finite', []],
    ['1e400 text', room({ format: 'number' }), '1e400', 'not_finite', ['1e400']],
    ['1e400 JSON', room({ path: 't' }), '{"t":1e400}', 'not_finite', []],
    ['-1e400 auto', room(), '-1e400', 'not_finite', []],
    ['NaN string at path', room({ path: 't' }), '{"t":"NaN"}', 'not_finite', []],
    ['overflow after scale', room({ scale: 1e300 }), '1e10', 'not_finite', ['1e+300']],
    ['room too hot', room(), '85', 'implausible', ['85', '-40…70']],
    ['room too cold', room(), '-40.5', 'implausible', ['-40.5']],
    ['setpoint too high', spec('setpoint', { topic: 't' }), '71', 'implausible', ['71']],
    ['outdoor too cold', spec('outdoor_temperature', { topic: 't' }), '-60', 'implausible', ['-60']],
    ['negative power', power(), '-5', 'implausible', ['-5', '0…10000']],
    ['power over 10 kW', power(), '10000.5', 'implausible', ['10000.5']],
    ['tenths without scale', room({ path: 't' }), '{"t":215}', 'implausible', ['215']],
    ['scale makes it implausible', power({ scale: 1000 }), '298', 'implausible', ['298000']],
    ['over 64 KiB', room(), ' '.repeat(MAX_INPUT_PAYLOAD_BYTES) + '2', 'too_large', ['65537']],
    ['over 64 KiB as Buffer', room(), Buffer.alloc(MAX_INPUT_PAYLOAD_BYTES + 1, 0x31), 'too_large', []],
    ['over 64 KiB in UTF-8 bytes', room(), 'é'.repeat(40_000), 'too_large', ['80000']],
    ['empty string', room(), '', 'empty', []],
    ['empty Buffer', room(), Buffer.alloc(0), 'empty', []],
    ['whitespace', power(), ' \n\t\r ', 'empty', []],
    ['BOM only', room(), '\ufeff', 'empty', []],
    ['BOM only in bytes', windowSpec(), Buffer.from([0xef, 0xbb, 0xbf]), 'empty', []],
  ];
  for (const [title, s, payload, code, inReason] of cases) {
    it(`${title} → ${code}`, () => err(mapInput(s, payload), code, ...inReason));
  }

  it('covers every code', () => {
    assert.deepEqual([...new Set(cases.map((c) => c[3]))].sort(), [...CODES].sort());
  });

  const okCases: Array<[string, ResolvedInput, string | Buffer, number | boolean]> = [
    ['exactly 64 KiB', room(), ' '.repeat(MAX_INPUT_PAYLOAD_BYTES - 4) + '21.5', 21.5],
    ['bounds are inclusive (−40)', room(), '-40', -40],
    ['bounds are inclusive (70)', room(), '70', 70],
    ['0 W', power(), '0', 0],
    ['-0 W is 0', power(), '-0.00', 0],
    ['10 kW', power(), '10000', 10000],
    ['leading plus and spaces', room(), '  +21.5\n', 21.5],
    ['exponent', power(), '2.98e2', 298],
    ['leading dot', room(), '.5', 0.5],
    ['trailing dot', room(), '21.', 21],
    ['JSON string number', room(), '"21.5"', 21.5],
    ['BOM before JSON', room({ path: 't' }), '\ufeff{"t":21.5}', 21.5],
    ['BOM bytes before a number', room(), Buffer.from([0xef, 0xbb, 0xbf, 0x32, 0x31]), 21],
  ];
  for (const [title, s, payload, value] of okCases) {
    it(`${title} → ${String(value)}`, () => assert.equal(ok(mapInput(s, payload)).value, value));
  }
});

describe('mapInput: odd keys and paths', () => {
  const payload = JSON.stringify({
    'temp.room': 21,
    'a b': { 'c]d': 22 },
    sensors: [{ t: 1 }, { t: 23 }],
    'say "hi"': 24,
    'ünï': 25,
    '': 26,
    nested: { deeper: { deepest: [[0, 27]] } },
    __proto__polluted: 1,
  });
  const found: Array<[string, number]> = [
    ['["temp.room"]', 21],
    ["['temp.room']", 21],
    ['["a b"]["c]d"]', 22],
    ['sensors.1.t', 23],
    ['sensors[1].t', 23],
    ['["say \\"hi\\""]', 24],
    ['ünï', 25],
    ['[""]', 26],
    ['nested.deeper.deepest.0.1', 27],
    ['nested.deeper.deepest[0][1]', 27],
  ];
  for (const [path, value] of found) {
    it(`${path} → ${value}`, () => assert.equal(ok(mapInput(room({ path }), payload)).value, value));
  }
  const missing = ['temp.room', 'sensors.01.t', 'sensors.length', '__proto__', 'constructor', 'sensors.2.t', 'toString', 'nested.deeper.deepest.0.2'];
  for (const path of missing) {
    it(`${path} → path_missing (own keys only)`, () => err(mapInput(room({ path }), payload), 'path_missing', path));
  }

  it('a JSON "__proto__" key is an ordinary key', () => {
    assert.equal(ok(mapInput(room({ path: '__proto__.t' }), '{"__proto__":{"t":20}}')).value, 20);
  });

  it('an invalid path in a hand-built spec is path_missing, not a throw', () => {
    err(mapInput({ ...room(), path: 'a..b' }, '{"a":1}'), 'path_missing', 'a..b');
    err(mapInput({ ...room(), timestampPath: '[' }, '{"a":1}'), 'path_missing', 'timestamp_path');
  });
});

describe('mapInput: booleans and invert', () => {
  const cases: Array<[string | Buffer, boolean]> = [
    ['true', true], ['false', false], ['TRUE', true], ['False', false],
    ['ON', true], ['OFF', false], ['on', true], ['off', false],
    ['open', true], ['closed', false], ['OPEN', true], ['Closed', false],
    ['1', true], ['0', false], [' ON\n', true],
    ['"ON"', true], ['"closed"', false],
  ];
  for (const [payload, value] of cases) {
    it(`${JSON.stringify(payload)} → ${value}, inverted ${!value}`, () => {
      assert.equal(ok(mapInput(windowSpec(), payload)).value, value);
      assert.equal(ok(mapInput(windowSpec({ invert: true }), payload)).value, !value);
      assert.equal(ok(mapInput(windowSpec({ format: 'text' }), payload.toString().replace(/"/g, ''))).value, value);
    });
  }

  const jsonCases: Array<[string, boolean]> = [
    ['{"contact":true}', true], ['{"contact":false}', false], ['{"contact":1}', true], ['{"contact":0}', false],
    ['{"contact":"ON"}', true], ['{"contact":"OFF"}', false], ['{"contact":"open"}', true],
  ];
  for (const [payload, value] of jsonCases) {
    it(`${payload} at contact → ${value}, inverted ${!value}`, () => {
      assert.equal(ok(mapInput(windowSpec({ path: 'contact' }), payload)).value, value);
      assert.equal(ok(mapInput(windowSpec({ path: 'contact', invert: true }), payload)).value, !value);
    });
  }

  it('number format takes only 1 and 0', () => {
    assert.equal(ok(mapInput(windowSpec({ format: 'number' }), '1')).value, true);
    assert.equal(ok(mapInput(windowSpec({ format: 'number', invert: true }), '0')).value, true);
    err(mapInput(windowSpec({ format: 'number' }), 'true'), 'not_a_boolean');
  });

  it('"yes", "1.0" as text and 0.5 are not booleans', () => {
    err(mapInput(windowSpec(), 'yes'), 'not_a_boolean');
    err(mapInput(windowSpec({ format: 'text' }), '1.0'), 'not_a_boolean');
    assert.equal(ok(mapInput(windowSpec(), '1.0')).value, true, 'auto reads 1.0 as the JSON number 1');
    err(mapInput(windowSpec(), '0.5'), 'not_a_boolean');
  });
});

describe('mapInput: scale then offset', () => {
  const cases: Array<[string, InputName, InputConfig, string, number]> = [
    ['scale then offset, not the reverse', 'room_temperature', { scale: 2, offset: 1 }, '10', 21],
    ['tenths of a degree', 'room_temperature', { path: 't', scale: 0.1 }, '{"t":215}', 21.5],
    ['Fahrenheit', 'room_temperature', { scale: 5 / 9, offset: -160 / 9 }, '70.7', 21.5],
    ['kW to W', 'wall_power', { scale: 1000 }, '0.298', 298],
    ['calibration offset', 'outdoor_temperature', { offset: -0.5 }, '4.5', 4],
    ['negative scale', 'setpoint', { scale: -1 }, '-21', 21],
    ['scale on a JSON string number', 'wall_power', { path: 'p', scale: 0.001 }, '{"p":"298000"}', 298],
  ];
  for (const [title, name, cfg, payload, value] of cases) {
    it(`${title}: ${payload} → ${value}`, () => {
      const v = ok(mapInput(spec(name, { topic: 't', ...cfg }), payload)).value;
      assert.equal(typeof v, 'number');
      assert.ok(Math.abs((v as number) - value) < 1e-9, `${String(v)} ≈ ${value}`);
    });
  }

  it('plausibility is checked after scale and offset', () => {
    assert.equal(ok(mapInput(power({ scale: 1000 }), '9.9')).value, 9900);
    err(mapInput(power({ scale: 1000 }), '10.1'), 'implausible', '10100');
  });
});

describe('mapInput: timestamp_path → sourceTimeMs', () => {
  const t0 = Date.UTC(2026, 10, 26, 7, 0, 0, 0);
  const cases: Array<[unknown, number]> = [
    ['2026-11-26T07:00:00Z', t0],
    ['2026-11-26T07:00:00.000Z', t0],
    ['2026-11-26T07:00:00.123456Z', t0 + 123],
    ['2026-11-26T08:00:00+01:00', t0],
    ['2026-11-26T08:00:00.5+0100', t0 + 500],
    ['2026-11-26T08:00:00+01', t0],
    ['2026-11-26T02:30:00-04:30', t0],
    ['2026-11-26 07:00:00Z', t0],
    ['2026-11-26t07:00:00z', t0],
    ['2026-11-26T07:00Z', t0],
    [t0 / 1000, t0],
    [t0, t0],
    [String(t0 / 1000), t0],
    [` ${t0} `, t0],
    [1795676400.25, t0 + 250],
  ];
  for (const [ts, ms] of cases) {
    it(`${JSON.stringify(ts)} → ${new Date(ms).toISOString()}`, () => {
      const r = mapInput(room({ path: 't', timestamp_path: 'meta.ts' }), JSON.stringify({ t: 20, meta: { ts } }));
      assert.deepEqual(r, { ok: true, value: 20, sourceTimeMs: ms });
    });
  }

  const bad: unknown[] = [
    'yesterday', '2026-11-26T08:00:00', '2026-11-26', '2026-02-30T00:00:00Z', '2026-13-01T00:00:00Z', '2026-11-26T24:00:00Z',
    '2026-11-26T07:00:00+25:00', 'Thu, 26 Nov 2026 07:00:00 GMT', '1969-12-31T23:59:59Z', '', -5, 0, true, null, { s: 1 }, [1], 'NaN', '1e400', 1e300,
  ];
  for (const ts of bad) {
    it(`${JSON.stringify(ts)} → not_a_number naming the timestamp path`, () => {
      err(mapInput(room({ path: 't', timestamp_path: 'meta.ts' }), JSON.stringify({ t: 20, meta: { ts } })), 'not_a_number', 'meta.ts');
    });
  }

  it('a missing timestamp → path_missing naming the timestamp path', () => {
    err(mapInput(room({ path: 't', timestamp_path: 'meta.ts' }), '{"t":20}'), 'path_missing', 'meta.ts');
  });

  it('a bad value is reported before the timestamp', () => {
    err(mapInput(room({ path: 't', timestamp_path: 'ts' }), '{"t":"x"}'), 'not_a_number', '"t"');
  });

  it('no timestamp_path → sourceTimeMs null, even with a time in the payload', () => {
    assert.equal(ok(mapInput(room({ path: 't' }), `{"t":20,"ts":${t0}}`)).sourceTimeMs, null);
  });

  it('timestamp_path on a plain payload → not_json', () => {
    err(mapInput(room({ timestamp_path: 'ts' }), '21.5'), 'path_missing', 'ts');
    err(mapInput(room({ timestamp_path: 'ts' }), 'ON'), 'not_json');
  });
});

/* ---------- malformed payloads ---------- */

const SPECS: ResolvedInput[] = [
  spec('room_temperature', { preset: 'z2m', device: 'trv' }),
  spec('setpoint', { preset: 'z2m', device: 'trv' }),
  spec('window_open', { preset: 'z2m', device: 'w' }),
  spec('wall_power', { preset: 'tasmota', device: 'p' }),
  spec('wall_power', { preset: 'shelly_gen1', device: 'p' }),
  spec('wall_power', { preset: 'shelly_gen2', device: 'p', timestamp_path: 'aenergy.minute_ts' }),
  spec('room_temperature', { topic: 't' }),
  spec('room_temperature', { topic: 't', format: 'text' }),
  spec('outdoor_temperature', { topic: 't', format: 'json' }),
  spec('outdoor_temperature', { topic: 't', path: '["a b"][0]', scale: 0.1, offset: -1 }),
  spec('window_open', { topic: 't' }),
  spec('window_open', { topic: 't', format: 'number', invert: true }),
  spec('room_temperature', { preset: 'z2m', device: 'trv', timestamp_path: 'last_seen' }),
];

function assertWellFormed(r: InputResult, s: ResolvedInput, what: string): void {
  if (r.ok) {
    assert.equal(typeof r.value, s.kind, `${what}: value type`);
    if (s.kind === 'number') {
      const v = r.value as number;
      assert.ok(Number.isFinite(v), `${what}: finite`);
      const range = PLAUSIBLE_RANGES[s.name as Exclude<InputName, 'window_open'>];
      assert.ok(v >= range.min && v <= range.max, `${what}: plausible`);
    }
    assert.ok(r.sourceTimeMs === null || Number.isFinite(r.sourceTimeMs), `${what}: sourceTimeMs`);
    assert.equal(r.sourceTimeMs === null, s.timestampPath === null, `${what}: sourceTimeMs iff timestamp_path`);
  } else {
    assert.ok(CODES.includes(r.code), `${what}: code ${r.code}`);
    assert.equal(typeof r.reason, 'string');
    assert.ok(r.reason.length > 0 && r.reason.length < 400, `${what}: reason length ${r.reason.length}`);
  }
}

describe('mapInput: malformed payloads never throw and say why', () => {
  const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n);
  const malformed: Array<[string, string | Buffer]> = [
    ['truncated JSON', '{"local_temperature": 19.'],
    ['truncated TRV fixture', fixture('z2m-trv-danfoss-ally.json').subarray(0, 200)],
    ['truncated Shelly fixture', fixture('shelly-gen2-status-switch-0.json').subarray(0, 60)],
    ['binary garbage', Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1])],
    ['NUL bytes', Buffer.alloc(16)],
    ['a lone continuation byte before a number', Buffer.from([0x80, 0x32, 0x31])],
    ['huge payload', '{"local_temperature":' + '1'.repeat(MAX_INPUT_PAYLOAD_BYTES) + '}'],
    ['huge array', JSON.stringify(Array.from({ length: 20_000 }, (_, i) => i))],
    ['nested arrays, deep', deep(30_000)],
    ['nested arrays at the path', '{"local_temperature":[[[[21]]]],"contact":[[true]],"ENERGY":{"Power":[[298]]},"apower":[1],"a b":[[1]]}'],
    ['nested objects, deep', '{"a":'.repeat(5_000) + '1' + '}'.repeat(5_000)],
    ['null', 'null'],
    ['JSON null at every path', '{"local_temperature":null,"occupied_heating_setpoint":null,"contact":null,"ENERGY":null,"apower":null,"a b":null,"last_seen":null}'],
    ['empty object', '{}'],
    ['empty array', '[]'],
    ['JSON NaN literal', '{"local_temperature": NaN}'],
    ['single-quoted JSON', "{'local_temperature': 21}"],
    ['trailing comma', '{"local_temperature": 21,}'],
    ['duplicate keys', '{"local_temperature": 21, "local_temperature": "x"}'],
    ['zero-width space in a number', '21\u200b.5'],
    ['RTL mark', '\u200f21.5'],
    ['fullwidth digits', '２１.５'],
    ['Arabic-Indic digits', '٢١٫٥'],
    ['minus sign U+2212', '\u22123'],
    ['lone surrogate', '\ud800'],
    ['emoji', '🔥'],
    ['combining marks', 'O\u0301N'],
    ['NaN and Infinity strings', '{"local_temperature":"NaN","occupied_heating_setpoint":"Infinity","apower":"-inf","contact":"NaN"}'],
    ['1e400 everywhere', '{"local_temperature":1e400,"occupied_heating_setpoint":-1e400,"apower":1e400,"ENERGY":{"Power":1e400},"a b":[1e400]}'],
    ['wrong types everywhere', '{"local_temperature":true,"occupied_heating_setpoint":{},"apower":[],"ENERGY":{"Power":"W"},"contact":"maybe","a b":["x"]}'],
    ['prototype keys', '{"__proto__":{"local_temperature":21},"constructor":{"prototype":{"apower":1}}}'],
    ['only whitespace and newlines', '\r\n\t  \n'],
    ['a number too large for the range', '1e308'],
    ['an HTML error page', '<html><body>502 Bad Gateway</body></html>'],
  ];
  for (const [title, payload] of malformed) {
    it(title, () => {
      for (const s of SPECS) {
        let r: InputResult | undefined;
        assert.doesNotThrow(() => { r = mapInput(s, payload); }, `${title} / ${s.name} ${s.topic} ${String(s.path)}`);
        assertWellFormed(r as InputResult, s, `${title} / ${s.name} ${String(s.path)}`);
      }
    });
  }

  it('the usual suspects are rejected for every spec', () => {
    for (const payload of ['{"local_temperature": 19.', 'null', '{}', '[]', '\ud800', deep(30_000)]) {
      for (const s of SPECS) {
        const r = mapInput(s, payload);
        assert.equal(r.ok, false, `${JSON.stringify(payload.slice(0, 30))} / ${s.name} ${String(s.path)}: ${JSON.stringify(r)}`);
      }
    }
  });
});


describe('mapInput: 2 000 seeded random payloads', () => {
  it('never throws, always returns a well-formed result', () => {
    const rand = rng(0xa2c1a1e);
    const int = (n: number): number => Math.floor(rand() * n);
    const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
    const fixtures = [
      'z2m-trv-danfoss-ally.json', 'z2m-temperature-sensor-aqara.json', 'z2m-window-contact-open.json', 'z2m-smart-plug.json',
      'tasmota-tele-sensor.json', 'shelly-gen1-relay-0-power.txt', 'shelly-gen2-status-switch-0.json', 'node-red-value.json',
    ].map(fixture);
    const keys = ['local_temperature', 'occupied_heating_setpoint', 'contact', 'ENERGY', 'Power', 'apower', 'aenergy', 'minute_ts', 'last_seen', 'a b', '__proto__', 't'];
    const atoms: unknown[] = [0, 1, -1, 21.5, -40, 70, 10000, 1e308, -0, '21.5', '21,5', 'ON', 'off', 'open', 'NaN', '', ' ', true, false, null, '2026-11-26T07:00:00Z', 1795676400, '\u0000', '🔥'];
    const randomJson = (depth: number): unknown => {
      const r = rand();
      if (depth > 4 || r < 0.4) return pick(atoms);
      if (r < 0.6) return Array.from({ length: int(4) }, () => randomJson(depth + 1));
      const o: Record<string, unknown> = {};
      for (let i = int(5); i > 0; i--) o[pick(keys)] = randomJson(depth + 1);
      return o;
    };
    const generators: Array<() => string | Buffer> = [
      () => Buffer.from(Array.from({ length: int(64) }, () => int(256))),
      () => JSON.stringify(randomJson(0)),
      () => { const f = pick(fixtures); return f.subarray(0, int(f.length + 1)); },
      () => { const f = Buffer.from(pick(fixtures)); if (f.length > 0) f[int(f.length)] = int(256); return f; },
      () => { const s = pick(fixtures).toString('utf8'); const i = int(s.length + 1); return s.slice(0, i) + String.fromCharCode(int(0x10000)) + s.slice(i); },
      () => `${rand() < 0.5 ? '-' : ''}${(rand() * 10 ** int(8)).toFixed(int(4))}${pick(['', 'e', 'e5', 'e-3', '.', ',5', ' W', '°'])}`,
      () => pick(atoms) === null ? 'null' : String(pick(atoms)),
      () => Array.from({ length: int(40) }, () => String.fromCharCode(int(0x10000))).join(''),
    ];
    const counts = { ok: 0, fail: 0 };
    for (let i = 0; i < 2000; i++) {
      const payload = pick(generators)();
      for (const s of SPECS) {
        let r: InputResult | undefined;
        assert.doesNotThrow(() => { r = mapInput(s, payload); }, `payload #${i}`);
        assertWellFormed(r as InputResult, s, `payload #${i} / ${s.name}`);
        counts[(r as InputResult).ok ? 'ok' : 'fail']++;
      }
    }
    // The generator exercises both outcomes (mutated fixtures still parse often).
    assert.ok(counts.ok > 100, `ok results: ${counts.ok}`);
    assert.ok(counts.fail > 1000, `failed results: ${counts.fail}`);
  });
});
