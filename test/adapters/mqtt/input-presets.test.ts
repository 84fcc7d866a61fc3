import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AgentError } from '../../../agent/errors.js';
import type { InputName } from '../../../agent/core/types.js';
import {
  resolveInputSpec,
  resolveInputSpecs,
  supportedPresets,
  type InputConfig,
  type ResolvedInput,
} from '../../../agent/adapters/mqtt/input-presets.js';

const base = { scale: 1, offset: 0, timestampPath: null, invert: false } as const;

function spec(name: InputName, fields: Partial<ResolvedInput>): ResolvedInput {
  return {
    name,
    topic: 'x',
    format: 'auto',
    path: null,
    maxAgeS: null,
    kind: name === 'window_open' ? 'boolean' : 'number',
    ...base,
    ...fields,
  };
}

describe('resolveInputSpec: presets fill topic, format, path, max age', () => {
  const cases: Array<[InputName, InputConfig, Partial<ResolvedInput>]> = [
    // z2m
    ['room_temperature', { preset: 'z2m', device: 'room204/trv' }, { topic: 'zigbee2mqtt/room204/trv', format: 'json', path: 'local_temperature', maxAgeS: 7200 }],
    ['setpoint', { preset: 'z2m', device: 'room204/trv' }, { topic: 'zigbee2mqtt/room204/trv', format: 'json', path: 'occupied_heating_setpoint', maxAgeS: null }],
    ['outdoor_temperature', { preset: 'z2m', device: 'outside' }, { topic: 'zigbee2mqtt/outside', format: 'json', path: 'temperature', maxAgeS: 3600 }],
    ['wall_power', { preset: 'z2m', device: 'plug' }, { topic: 'zigbee2mqtt/plug', format: 'json', path: 'power', maxAgeS: 300 }],
    ['window_open', { preset: 'z2m', device: 'room204/window' }, { topic: 'zigbee2mqtt/room204/window', format: 'json', path: 'contact', invert: true, maxAgeS: null }],
    // tasmota
    ['wall_power', { preset: 'tasmota', device: 'pow-204' }, { topic: 'tele/pow-204/SENSOR', format: 'json', path: 'ENERGY.Power', maxAgeS: 300 }],
    ['room_temperature', { preset: 'tasmota', device: 'th-204' }, { topic: 'tele/th-204/SENSOR', format: 'json', path: 'DS18B20.Temperature', maxAgeS: 3600 }],
    ['outdoor_temperature', { preset: 'tasmota', device: 'th-out' }, { topic: 'tele/th-out/SENSOR', format: 'json', path: 'DS18B20.Temperature', maxAgeS: 3600 }],
    // shelly gen1
    ['wall_power', { preset: 'shelly_gen1', device: 'shellyplug-s-A1B2C3' }, { topic: 'shellies/shellyplug-s-A1B2C3/relay/0/power', format: 'number', path: null, maxAgeS: 300 }],
    ['room_temperature', { preset: 'shelly_gen1', device: 'shelly1-A1' }, { topic: 'shellies/shelly1-A1/ext_temperature/0', format: 'number', path: null, maxAgeS: 3600 }],
    ['outdoor_temperature', { preset: 'shelly_gen1', device: 'shelly1-A1' }, { topic: 'shellies/shelly1-A1/ext_temperature/0', format: 'number', path: null, maxAgeS: 3600 }],
    // shelly gen2
    ['wall_power', { preset: 'shelly_gen2', device: 'shellyplusplugs-a8032ab1' }, { topic: 'shellyplusplugs-a8032ab1/status/switch:0', format: 'json', path: 'apower', maxAgeS: 300 }],
    ['room_temperature', { preset: 'shelly_gen2', device: 'shellyhtg3-1' }, { topic: 'shellyhtg3-1/status/temperature:0', format: 'json', path: 'tC', maxAgeS: 3600 }],
    ['outdoor_temperature', { preset: 'shelly_gen2', device: 'shellyhtg3-1' }, { topic: 'shellyhtg3-1/status/temperature:0', format: 'json', path: 'tC', maxAgeS: 3600 }],
  ];
  for (const [name, cfg, fields] of cases) {
    it(`${cfg.preset} → ${name}`, () => {
      assert.deepEqual(resolveInputSpec(name, cfg), spec(name, fields));
    });
  }
});

describe('resolveInputSpec: explicit keys override the preset', () => {
  const cases: Array<[string, InputName, InputConfig, Partial<ResolvedInput>]> = [
    ['a z2m temperature sensor', 'room_temperature', { preset: 'z2m', device: 's', path: 'temperature' },
      { topic: 'zigbee2mqtt/s', format: 'json', path: 'temperature', maxAgeS: 7200 }],
    ['a TRV with current_heating_setpoint', 'setpoint', { preset: 'z2m', device: 't', path: 'current_heating_setpoint' },
      { topic: 'zigbee2mqtt/t', format: 'json', path: 'current_heating_setpoint' }],
    ['max age and last_seen', 'room_temperature', { preset: 'z2m', device: 't', max_age_s: 900, timestamp_path: 'last_seen' },
      { topic: 'zigbee2mqtt/t', format: 'json', path: 'local_temperature', maxAgeS: 900, timestampPath: 'last_seen' }],
    ['no max age for outdoor', 'outdoor_temperature', { preset: 'tasmota', device: 'o', max_age_s: null },
      { topic: 'tele/o/SENSOR', format: 'json', path: 'DS18B20.Temperature', maxAgeS: null }],
    ['another Tasmota sensor', 'room_temperature', { preset: 'tasmota', device: 'th', path: 'AM2301.Temperature' },
      { topic: 'tele/th/SENSOR', format: 'json', path: 'AM2301.Temperature', maxAgeS: 3600 }],
    ['a Plus Add-on sensor id', 'room_temperature', { preset: 'shelly_gen2', device: 'plus1', topic: 'plus1/status/temperature:100' },
      { topic: 'plus1/status/temperature:100', format: 'json', path: 'tC', maxAgeS: 3600 }],
    ['a window sensor that already says open', 'window_open', { preset: 'z2m', device: 'w', path: 'window_open', invert: false },
      { topic: 'zigbee2mqtt/w', format: 'json', path: 'window_open', invert: false }],
    ['format and scale', 'wall_power', { preset: 'shelly_gen1', device: 'p', format: 'text', scale: 1000 },
      { topic: 'shellies/p/relay/0/power', format: 'text', path: null, scale: 1000, maxAgeS: 300 }],
  ];
  for (const [title, name, cfg, fields] of cases) {
    it(title, () => {
      assert.deepEqual(resolveInputSpec(name, cfg), spec(name, fields));
    });
  }
});

describe('resolveInputSpec: plain inputs and defaults', () => {
  const cases: Array<[InputName, InputConfig, Partial<ResolvedInput>]> = [
    ['room_temperature', { topic: 'bms/r204/temp' }, { topic: 'bms/r204/temp', maxAgeS: 3600 }],
    ['outdoor_temperature', { topic: 'weather/lyon/temp_c', max_age_s: 7200 }, { topic: 'weather/lyon/temp_c', maxAgeS: 7200 }],
    ['setpoint', { topic: 'zigbee2mqtt/room204/trv', path: 'occupied_heating_setpoint' }, { topic: 'zigbee2mqtt/room204/trv', path: 'occupied_heating_setpoint', maxAgeS: null }],
    ['wall_power', { topic: 'plug/power', format: 'number' }, { topic: 'plug/power', format: 'number', maxAgeS: 300 }],
    ['window_open', { topic: 'zigbee2mqtt/room204/window', path: 'contact', invert: true }, { topic: 'zigbee2mqtt/room204/window', path: 'contact', invert: true }],
    ['room_temperature', { topic: 'bms/+/temp', scale: 0.1, offset: -0.5 }, { topic: 'bms/+/temp', scale: 0.1, offset: -0.5, maxAgeS: 3600 }],
    ['room_temperature', { topic: 't', format: null, scale: null, offset: null, invert: null }, { topic: 't', maxAgeS: 3600 }],
  ];
  for (const [name, cfg, fields] of cases) {
    it(`${name} ${JSON.stringify(cfg)}`, () => {
      assert.deepEqual(resolveInputSpec(name, cfg), spec(name, fields));
    });
  }

  it('resolves the example of spec/config.md', () => {
    const specs = resolveInputSpecs({
      room_temperature: { preset: 'z2m', device: 'room204/trv' },
      setpoint: { topic: 'zigbee2mqtt/room204/trv', path: 'occupied_heating_setpoint' },
      outdoor_temperature: { topic: 'weather/lyon/temp_c', max_age_s: 7200 },
      wall_power: { preset: 'shelly_gen2', device: 'shellyplusplugs-a8032ab1' },
      window_open: { topic: 'zigbee2mqtt/room204/window', path: 'contact', invert: true },
    });
    assert.deepEqual(
      specs.map((s) => [s.name, s.topic, s.format, s.path, s.maxAgeS, s.invert]),
      [
        ['room_temperature', 'zigbee2mqtt/room204/trv', 'json', 'local_temperature', 7200, false],
        ['setpoint', 'zigbee2mqtt/room204/trv', 'auto', 'occupied_heating_setpoint', null, false],
        ['outdoor_temperature', 'weather/lyon/temp_c', 'auto', null, 7200, false],
        ['wall_power', 'shellyplusplugs-a8032ab1/status/switch:0', 'json', 'apower', 300, false],
        ['window_open', 'zigbee2mqtt/room204/window', 'auto', 'contact', null, true],
      ],
    );
  });

  it('skips unconfigured inputs', () => {
    assert.deepEqual(resolveInputSpecs({ room_temperature: { topic: 't' }, setpoint: null }).map((s) => s.name), ['room_temperature']);
  });
});

function throwsCode(fn: () => unknown, code: string, ...inMessage: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AgentError, `expected AgentError, got ${String(err)}`);
    assert.equal(err.code, code);
    for (const s of inMessage) assert.ok(err.message.includes(s), `${JSON.stringify(err.message)} should contain ${JSON.stringify(s)}`);
    return true;
  });
}

describe('resolveInputSpec: unsupported presets', () => {
  const cases: Array<[InputName, string]> = [
    ['setpoint', 'shelly_gen1'],
    ['setpoint', 'shelly_gen2'],
    ['setpoint', 'tasmota'],
    ['window_open', 'tasmota'],
    ['window_open', 'shelly_gen1'],
    ['window_open', 'shelly_gen2'],
    ['room_temperature', 'hue'],
  ];
  for (const [name, preset] of cases) {
    it(`${preset} for ${name} → input_preset_unsupported`, () => {
      throwsCode(() => resolveInputSpec(name, { preset: preset as 'z2m', device: 'd' }), 'input_preset_unsupported', preset, name);
    });
  }

  it('supportedPresets lists what exists', () => {
    assert.deepEqual(supportedPresets('setpoint'), ['z2m']);
    assert.deepEqual(supportedPresets('wall_power'), ['z2m', 'tasmota', 'shelly_gen1', 'shelly_gen2']);
  });
});

describe('resolveInputSpec: invalid configs name the key', () => {
  const cases: Array<[string, InputName, InputConfig, string]> = [
    ['no topic', 'room_temperature', {}, 'topic'],
    ['preset without device', 'room_temperature', { preset: 'z2m' }, 'device'],
    ['empty device', 'room_temperature', { preset: 'z2m', device: '' }, 'device'],
    ['wildcard in device', 'room_temperature', { preset: 'z2m', device: 'room/+' }, 'device'],
    ['device without preset', 'room_temperature', { topic: 't', device: 'd' }, 'device'],
    ['# not last', 'room_temperature', { topic: 'a/#/b' }, 'topic'],
    ['+ inside a level', 'room_temperature', { topic: 'a/b+/c' }, 'topic'],
    ['empty topic', 'room_temperature', { topic: '' }, 'topic'],
    ['shared subscription', 'room_temperature', { topic: '$share/g/t' }, 'topic'],
    ['unknown format', 'room_temperature', { topic: 't', format: 'xml' as 'json' }, 'format'],
    ['bad path', 'room_temperature', { topic: 't', path: 'a..b' }, 'path'],
    ['unclosed bracket', 'room_temperature', { topic: 't', path: 'a["b' }, 'path'],
    ['path with a text format', 'room_temperature', { topic: 't', format: 'number', path: 'a' }, 'path'],
    ['preset path with a text format', 'room_temperature', { preset: 'z2m', device: 'd', format: 'text' }, 'path'],
    ['timestamp path with a text format', 'room_temperature', { topic: 't', format: 'text', timestamp_path: 'ts' }, 'timestamp_path'],
    ['zero scale', 'room_temperature', { topic: 't', scale: 0 }, 'scale'],
    ['NaN scale', 'room_temperature', { topic: 't', scale: Number.NaN }, 'scale'],
    ['infinite offset', 'room_temperature', { topic: 't', offset: Infinity }, 'offset'],
    ['zero max age', 'wall_power', { topic: 't', max_age_s: 0 }, 'max_age_s'],
    ['negative max age', 'wall_power', { topic: 't', max_age_s: -5 }, 'max_age_s'],
    ['room temperature without max age', 'room_temperature', { topic: 't', max_age_s: null }, 'max_age_s'],
    ['invert on a number', 'room_temperature', { topic: 't', invert: true }, 'invert'],
    ['scale on a boolean', 'window_open', { topic: 't', scale: 2 }, 'scale'],
    ['offset on a boolean', 'window_open', { topic: 't', offset: 1 }, 'offset'],
    ['unknown key', 'room_temperature', { topic: 't', max_age: 5 } as InputConfig, 'max_age'],
  ];
  for (const [title, name, cfg, key] of cases) {
    it(title, () => {
      throwsCode(() => resolveInputSpec(name, cfg), 'input_config_invalid', `inputs.${name}.${key}`);
    });
  }

  it('an unknown input name', () => {
    throwsCode(() => resolveInputSpec('humidity' as InputName, { topic: 't' }), 'input_config_invalid', 'humidity');
  });
});
