import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { COMMAND_HANDLERS, COMMANDS } from '../../agent/ops/command-handlers.js';
import { OpsError } from '../../agent/ops/ops-error.js';
import type { CommandContext } from '../../agent/ops/command-handler.js';
import { FakeOpsPort } from '../fakes/ops-port.js';

const ctx: CommandContext = { fleet: false, delayMs: 0 };
const handler = (name: string) => {
  const h = COMMAND_HANDLERS.find((x) => x.command === name);
  assert.ok(h, `handler ${name}`);
  return h;
};
const run = (name: string, args: Record<string, unknown>, port = new FakeOpsPort(), c = ctx) => handler(name).run(args, port, c);

async function rejects(name: string, args: Record<string, unknown>, code: string, messageStart: RegExp, port = new FakeOpsPort()) {
  await assert.rejects(run(name, args, port), (err: unknown) => {
    assert.ok(err instanceof OpsError, `OpsError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, messageStart);
    return true;
  });
  return port;
}

describe('command handlers', () => {
  it('cover exactly the v1 commands of the contract', () => {
    assert.deepEqual([...COMMANDS].sort(), [
      'drain', 'health_check', 'log_level', 'mode', 'model_load', 'model_unload', 'power_cap', 'preset',
      'reload_config', 'restart', 'resume', 'schedule', 'setpoint_override', 'status',
    ]);
  });

  it('happy paths: the operator command given to the port, and the answer data', async () => {
    const cases: Array<[string, Record<string, unknown>, unknown, Record<string, unknown>]> = [
      ['mode', { mode: 'heat' }, { kind: 'mode', mode: 'heat' }, { mode: 'heat' }],
      ['preset', { preset: 'eco' }, { kind: 'preset', preset: 'eco' }, { preset: 'eco' }],
      ['setpoint_override', { setpoint_c: 22.5 }, { kind: 'setpoint', setpointC: 22.5, durationS: null }, { setpoint_c: 22.5, duration_s: 14400, applies_as: 'override' }],
      ['setpoint_override', { setpoint_c: 8, duration_s: 600 }, { kind: 'setpoint', setpointC: 8, durationS: 600 }, { setpoint_c: 8, duration_s: 600, applies_as: 'override' }],
      ['setpoint_override', { setpoint_c: 27 }, { kind: 'setpoint', setpointC: 27, durationS: null }, { setpoint_c: 27, duration_s: 14400, applies_as: 'override' }],
      ['power_cap', { watts: 200.4 }, { kind: 'power_cap', watts: 200 }, { power_cap_w: 200 }],
      ['power_cap', { watts: null }, { kind: 'power_cap', watts: null }, { power_cap_w: null }],
      ['power_cap', { watts: 300 }, { kind: 'power_cap', watts: 300 }, { power_cap_w: 300 }],
      ['resume', {}, { kind: 'resume' }, { drain: false }],
    ];
    for (const [name, args, cmd, data] of cases) {
      const port = new FakeOpsPort();
      const out = await run(name, args, port);
      assert.deepEqual(port.commands, [cmd], `${name} ${JSON.stringify(args)}`);
      assert.deepEqual(out.data, data, `${name} ${JSON.stringify(args)}`);
    }
  });

  it('setpoint_override in heat sets the manual setpoint', async () => {
    const port = new FakeOpsPort();
    port.mode = 'heat';
    const out = await run('setpoint_override', { setpoint_c: 20 }, port);
    assert.deepEqual(out.data, { setpoint_c: 20, duration_s: null, applies_as: 'manual_setpoint' });
  });

  it('invalid arguments: invalid_request naming the field, nothing applied', async () => {
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['mode', {}, /^mode: required/],
      ['mode', { mode: 'cool' }, /^mode: must be one of off\|heat\|auto/],
      ['mode', { mode: 'heat', extra: 1 }, /^extra: unknown field \(expected mode\)/],
      ['preset', { preset: 'warm' }, /^preset: must be one of/],
      ['setpoint_override', {}, /^setpoint_c: required/],
      ['setpoint_override', { setpoint_c: '21' }, /^setpoint_c: must be a number/],
      ['setpoint_override', { setpoint_c: 7.9 }, /^setpoint_c: 7.9 is outside \[8, 27\] °C/],
      ['setpoint_override', { setpoint_c: 27.1 }, /^setpoint_c: 27.1 is outside \[8, 27\] °C/],
      ['setpoint_override', { setpoint_c: 21, duration_s: 0 }, /^duration_s: must be positive/],
      ['setpoint_override', { setpoint_c: 21, duration_s: 14401 }, /^duration_s: 14401 s is longer than thermostat.override_s/],
      ['setpoint_override', { setpoint: 21 }, /^setpoint: unknown field \(expected setpoint_c, duration_s\)/],
      ['power_cap', {}, /^watts: required/],
      ['power_cap', { watts: 99 }, /^watts: 99 W is outside \[100, 300\] W/],
      ['power_cap', { watts: 301 }, /^watts: 301 W is outside \[100, 300\] W/],
      ['power_cap', { watts: 'none' }, /^watts: must be a number of W or null/],
      ['drain', { timeout_s: -1 }, /^timeout_s: must be positive/],
      ['resume', { now: true }, /^now: unknown field \(this command takes no arguments\)/],
      ['log_level', { level: 'loud' }, /^level: must be one of fatal\|error/],
      ['model_load', {}, /^model: required/],
      ['model_load', { model: '../etc/passwd' }, /^model: must be a model id/],
      ['status', { verbose: true }, /^verbose: unknown field/],
    ];
    for (const [name, args, message] of cases) {
      const port = await rejects(name, args, 'invalid_request', message);
      assert.deepEqual(port.commands, [], `${name} ${JSON.stringify(args)} applied nothing`);
    }
  });

  it('drain passes the timeout on and answers the one in force', async () => {
    const port = new FakeOpsPort();
    assert.deepEqual((await run('drain', { timeout_s: 30 }, port)).data, { drain: true, timeout_s: 30 });
    assert.deepEqual((await run('drain', {}, port)).data, { drain: true, timeout_s: 120 });
    assert.deepEqual(port.drains, [30, null]);
  });

  it('status, health_check, schedule and log_level read or set through the port', async () => {
    const port = new FakeOpsPort();
    assert.equal(((await run('status', {}, port)).data.agent as { log_level: string }).log_level, 'info');
    const h = (await run('health_check', {}, port)).data;
    assert.equal(h.healthy, false, 'an unhealthy heater is an ok answer with healthy false');
    assert.deepEqual((await run('log_level', { level: 'debug' }, port)).data, { level: 'debug', previous: 'info' });
    assert.equal(port.logLevel, 'debug');
    assert.equal((await run('schedule', {}, port)).data.timezone, 'UTC');
  });

  it('reload_config: ok answers the plan; an invalid file is an error listing every issue', async () => {
    const port = new FakeOpsPort();
    port.reloadResult = { ok: true, config_hash: 'h2', changed: ['thermostat.presets'], restart_required: ['mqtt.url'] };
    assert.deepEqual((await run('reload_config', {}, port)).data, { ok: true, config_hash: 'h2', changed: ['thermostat.presets'], restart_required: ['mqtt.url'] });
    port.reloadResult = { ok: false, message: 'configuration x invalid: 1 issue; running configuration kept', errors: [{ path: 'thermostat.mode', message: 'bad' }] };
    await assert.rejects(run('reload_config', {}, port), (err: unknown) => {
      assert.ok(err instanceof OpsError);
      assert.equal(err.code, 'internal');
      assert.deepEqual(err.details, { errors: [{ path: 'thermostat.mode', message: 'bad' }] });
      return true;
    });
  });

  it('restart answers first: the restart itself runs after the answer', async () => {
    const port = new FakeOpsPort();
    const out = await run('restart', {}, port, { fleet: true, delayMs: 12_000 });
    assert.deepEqual(out.data, { restarting: true, in_s: 12 });
    assert.equal(port.restarts, 0, 'not before the answer');
    out.afterAnswer?.();
    assert.equal(port.restarts, 1);
    port.restartable = false;
    await rejects('restart', {}, 'internal', /restart is not supported here/, port);
  });

  it('model_load / model_unload go to the port; its errors pass through', async () => {
    const port = new FakeOpsPort();
    port.models = { load: async () => ({ loaded: true }), unload: async () => ({ loaded: false }) };
    assert.deepEqual((await run('model_load', { model: 'qwen2.5-7b-q4' }, port)).data, { model: 'qwen2.5-7b-q4', loaded: true });
    assert.deepEqual((await run('model_unload', {}, port)).data, { loaded: false });
  });
});
