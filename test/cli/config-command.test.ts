import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configJsonSchemaText } from '../../agent/config/json-schema.js';
import { EXIT_CONFIG, EXIT_OK } from '../../agent/cli/exit-codes.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `anchiale ARGS` as a real process (node --import tsx agent/main.ts). */
function anchiale(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ANCHIALE_')));
    execFile(process.execPath, ['--import', 'tsx', 'agent/main.ts', ...args], { cwd: ROOT, env: { ...clean, ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'anchiale-cli-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('anchiale config (real process)', () => {
  it('check: a good file → "config ok" and exit 0, without mqtt.url', async () => {
    const p = path.join(dir, 'good.yaml');
    await writeFile(p, 'version: 1\nnode: {id: h204}\ninputs:\n  room_temperature: {preset: z2m, device: room204/trv}\n');
    const r = await anchiale(['config', 'check', '--config', p]);
    assert.equal(r.code, EXIT_OK, r.stderr);
    assert.match(r.stdout, new RegExp(`^config ok: ${p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(node h204, hash [0-9a-f]{12}\\)\\n$`));
    assert.equal(r.stderr, '');
  });

  it('check: a broken file → every key path on stderr and exit 78', async () => {
    const p = path.join(dir, 'broken.yaml');
    await writeFile(
      p,
      [
        'version: 1',
        'extra: true',
        'mqtt: {password: x, keepalive_s: -1}',
        'inputs: {setpoint: {preset: z2m}}',
        'thermostat:',
        '  min_setpoint_c: 40',
        '  schedule: {timezone: Nowhere/Town, entries: [{cron: "0 7 * * *", preset: eco}, {cron: "bad cron", preset: eco}]}',
        'safety: {gpu_throttle_temp_c: 95}',
        '',
      ].join('\n'),
    );
    const r = await anchiale(['config', 'check', '--config', p], { ANCHIALE_HEATER__MAX_POWER_W: 'many' });
    assert.equal(r.code, EXIT_CONFIG);
    assert.equal(r.stdout, '');
    for (const key of [
      'extra',
      'mqtt.password',
      'mqtt.keepalive_s',
      'inputs.room_temperature',
      'inputs.setpoint.device',
      'thermostat.min_setpoint_c',
      'thermostat.schedule.timezone',
      'thermostat.schedule.entries.1.cron',
      'safety.gpu_throttle_temp_c',
      'heater.max_power_w',
    ]) {
      assert.match(r.stderr, new RegExp(`^${key.replace(/\./g, '\\.')}: `, 'm'), `${key} missing from:\n${r.stderr}`);
    }
  });

  it('check: a missing file → exit 78', async () => {
    const r = await anchiale(['config', 'check', '--config', path.join(dir, 'absent.yaml')]);
    assert.equal(r.code, EXIT_CONFIG);
    assert.match(r.stderr, /not found/);
  });

  it('show: the effective config as YAML, password redacted', async () => {
    const p = path.join(dir, 'show.yaml');
    await writeFile(p, 'version: 1\ninputs: {room_temperature: {topic: r/t}}\n');
    const r = await anchiale(['config', 'show', '--config', p], { ANCHIALE_MQTT__PASSWORD: 'hunter2', ANCHIALE_HEATER__MAX_POWER_W: '250' });
    assert.equal(r.code, EXIT_OK, r.stderr);
    assert.match(r.stdout, /^ {2}password: "\[redacted\]"$/m);
    assert.match(r.stdout, /^ {2}max_power_w: 250$/m);
    assert.doesNotMatch(r.stdout, /hunter2/);
  });

  it('schema: prints the JSON Schema', async () => {
    const r = await anchiale(['config', 'schema']);
    assert.equal(r.code, EXIT_OK, r.stderr);
    assert.equal(r.stdout, configJsonSchemaText());
  });
});
