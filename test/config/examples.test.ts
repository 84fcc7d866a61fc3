import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../agent/config/load.js';
import { controlConfigFrom } from '../../agent/config/control-config.js';

const example = (name: string) => fileURLToPath(new URL(`../../examples/${name}`, import.meta.url));

describe('examples/', () => {
  it('agent.yaml is a valid, complete configuration for run', async () => {
    const cfg = await loadConfig({ path: example('agent.yaml'), env: {}, requireMqttUrl: true, hostname: 'x' });
    assert.equal(cfg.node.id, 'h204');
    for (const name of ['room_temperature', 'setpoint', 'outdoor_temperature', 'wall_power', 'window_open'] as const) {
      assert.equal(controlConfigFrom(cfg).inputs[name].configured, true, name);
    }
    assert.ok(cfg.thermostat.schedule.entries.length > 0);
  });

  it('minimal.yaml is valid for run: version, mqtt.url, a z2m room temperature', async () => {
    const cfg = await loadConfig({ path: example('minimal.yaml'), env: {}, requireMqttUrl: true, hostname: 'Minimal-Host' });
    assert.equal(cfg.node.id, 'minimal-host');
    assert.deepEqual(cfg.inputs.room_temperature, { preset: 'z2m', device: 'room204/trv' });
    assert.equal(cfg.mqtt.url, 'mqtt://broker.example:1883');
  });
});
