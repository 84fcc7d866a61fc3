import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { controlConfigFrom } from '../../agent/config/control-config.js';
import { configSchema } from '../../agent/config/schema.js';
import type { InputName } from '../../agent/core/types.js';

const base = { version: 1, inputs: { room_temperature: { preset: 'z2m', device: 'trv' } } };

describe('controlConfigFrom', () => {
  it('maps thermostat, heater, safety, llm and jobs settings', () => {
    const cfg = configSchema.parse({
      ...base,
      thermostat: { min_on_s: 600, pi: { kp: 1.5, ti_s: 1800, outdoor_gain: 0.02 }, cycle_s: 900, precharge_k: 0.2, controller: 'tpi', optimal_start: false },
      heater: { max_power_w: 280, min_power_w: 110, efficient_power_w: 220, limit_deadband_w: 8, limit_min_interval_s: 45, host_w: 55 },
      safety: { stale_action: 'hold_minimum', hold_minimum_max_s: 3600, gpu_throttle_temp_c: 78 },
      llm: { max_parallel: 2, keep_alive_s: 300 },
      jobs: { enabled: false, serve_without_heat: true, stretch_wait_s: 12 },
    });
    const cc = controlConfigFrom(cfg);
    assert.deepEqual(cc.thermostat, {
      defaultSetpointC: 20,
      minSetpointC: 5,
      maxSetpointC: 30,
      overrideS: 14400,
      presets: { frost: 8, eco: 17, comfort: 21, boost: 23 },
      controller: 'tpi',
      minOnS: 600,
      minOffS: 300,
      pi: { kp: 1.5, tiS: 1800, outdoorGain: 0.02 },
      cycleS: 900,
      prechargeK: 0.2,
      optimalStart: false,
    });
    assert.deepEqual(cc.heater, { maxPowerW: 280, minPowerW: 110, efficientPowerW: 220, limitDeadbandW: 8, limitMinIntervalS: 45, hostW: 55 });
    assert.deepEqual(cc.safety, {
      staleAction: 'hold_minimum',
      maxRoomTempC: 27,
      gpuThrottleTempC: 78,
      gpuStopTempC: 88,
      implausibleAfterS: 7200,
      holdMinimumMaxS: 3600,
    });
    assert.deepEqual(cc.llm, { maxParallel: 2, keepAliveS: 300 });
    assert.deepEqual(cc.jobs, { enabled: false, serveWithoutHeat: true, stretchWaitS: 12 });
  });

  const maxAges: [string, Record<string, unknown>, InputName, { configured: boolean; maxAgeS: number | null }][] = [
    ['z2m room temperature', {}, 'room_temperature', { configured: true, maxAgeS: 7200 }],
    ['plain room temperature', { room_temperature: { topic: 'r/t' } }, 'room_temperature', { configured: true, maxAgeS: 3600 }],
    ['explicit max age wins over the preset', { room_temperature: { preset: 'z2m', device: 'trv', max_age_s: 900 } }, 'room_temperature', { configured: true, maxAgeS: 900 }],
    ['shelly_gen2 room temperature', { room_temperature: { preset: 'shelly_gen2', device: 'plus1' } }, 'room_temperature', { configured: true, maxAgeS: 3600 }],
    ['outdoor temperature', { outdoor_temperature: { topic: 'w/t' } }, 'outdoor_temperature', { configured: true, maxAgeS: 3600 }],
    ['shelly_gen2 wall power', { wall_power: { preset: 'shelly_gen2', device: 'plug' } }, 'wall_power', { configured: true, maxAgeS: 300 }],
    ['tasmota wall power', { wall_power: { preset: 'tasmota', device: 'plug' } }, 'wall_power', { configured: true, maxAgeS: 300 }],
    ['shelly_gen1 wall power', { wall_power: { preset: 'shelly_gen1', device: 'plug' } }, 'wall_power', { configured: true, maxAgeS: 300 }],
    ['setpoint: no max age', { setpoint: { topic: 'z/trv', path: 'occupied_heating_setpoint' } }, 'setpoint', { configured: true, maxAgeS: null }],
    ['z2m setpoint: no max age', { setpoint: { preset: 'z2m', device: 'trv' } }, 'setpoint', { configured: true, maxAgeS: null }],
    ['window: no max age unless given', { window_open: { topic: 'z/w', path: 'contact', invert: true } }, 'window_open', { configured: true, maxAgeS: null }],
    ['window with a max age', { window_open: { topic: 'z/w', path: 'contact', max_age_s: 600 } }, 'window_open', { configured: true, maxAgeS: 600 }],
    ['absent input: not configured', {}, 'setpoint', { configured: false, maxAgeS: null }],
    ['null input: not configured', { wall_power: null }, 'wall_power', { configured: false, maxAgeS: null }],
  ];
  for (const [name, inputs, key, expected] of maxAges) {
    it(`inputs: ${name}`, () => {
      const cfg = configSchema.parse({ ...base, inputs: { ...base.inputs, ...inputs } });
      assert.deepEqual(controlConfigFrom(cfg).inputs[key], expected);
    });
  }

  it('lists every input of the core', () => {
    const cc = controlConfigFrom(configSchema.parse(base));
    assert.deepEqual(Object.keys(cc.inputs).sort(), ['outdoor_temperature', 'room_temperature', 'setpoint', 'wall_power', 'window_open']);
  });
});
