import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerSimCommand, type SimCommandDeps } from '../../agent/cli/sim-command.js';
import { baselineController } from '../../agent/sim/baseline-controller.js';
import type { SimController } from '../../agent/sim/sim-controller.js';

const steadyDay = new URL('../../scenarios/steady-day.yaml', import.meta.url).pathname;

/** A trivial stand-in for the agent's controller: always heating at 200 W. */
const trivialPi = (): SimController => ({ name: 'trivial', step: () => ({ limitW: 200, sequences: 2, accepting: true, modelWanted: true }) });

async function sim(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  let code: number | null = null;
  const deps: SimCommandDeps = {
    controllers: { pi: trivialPi, hysteresis: (s) => baselineController('hysteresis', s), tpi: (s) => baselineController('tpi', s) },
    io: { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), setExitCode: (c) => void (code = c) },
  };
  const program = new Command('anchiale').exitOverride();
  registerSimCommand(program, deps);
  await program.parseAsync(['sim', ...args], { from: 'user' });
  return { code, stdout, stderr };
}

test('sim --controller hysteresis writes result, series and plot; exit 0', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'anchiale-sim-'));
  try {
    const out = join(dir, 'result.json');
    const series = join(dir, 'series.csv');
    const plot = join(dir, 'chart.svg');
    const r = await sim(['--scenario', steadyDay, '--controller', 'hysteresis', '--out', out, '--series', series, '--plot', plot]);
    assert.equal(r.code, 0, r.stderr);
    const printed = JSON.parse(r.stdout);
    assert.equal(printed.scenario, 'steady-day');
    assert.equal(printed.controller, 'hysteresis');
    assert.equal(typeof printed.metrics.energy_kwh, 'number');
    assert.deepEqual(Object.keys(printed), ['scenario', 'controller', 'metrics']);
    assert.deepEqual(JSON.parse(await readFile(out, 'utf8')), printed);
    const csv = (await readFile(series, 'utf8')).trim().split('\n');
    assert.equal(csv.length, 1 + 24 * 60);
    assert.ok(csv[0]!.startsWith('controller,t_h,ti,'));
    assert.ok(csv[1]!.startsWith('hysteresis,0,19,'));
    assert.match(await readFile(plot, 'utf8'), /^<svg[^>]*>[\s\S]*steady-day[\s\S]*<\/svg>\n$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('sim defaults to pi; --controller all prints [pi, hysteresis, tpi] and a table on stderr', async () => {
  const one = await sim(['--scenario', steadyDay]);
  assert.equal(one.code, 0);
  assert.equal(JSON.parse(one.stdout).controller, 'pi');
  const all = await sim(['--scenario', steadyDay, '--controller', 'all']);
  assert.equal(all.code, 0, all.stderr);
  const results = JSON.parse(all.stdout) as Array<{ controller: string }>;
  assert.deepEqual(results.map((r) => r.controller), ['pi', 'hysteresis', 'tpi']);
  assert.match(all.stderr, /metric\s+pi\s+hysteresis\s+tpi/);
  assert.match(all.stderr, /energy_kwh\s+[\d.]+\s+[\d.]+\s+[\d.]+/);
});

test('a broken scenario exits 78 with the key paths', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'anchiale-sim-'));
  try {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'name: bad\nduration_h: -3\noutdoor_c: [[0, 1], [0, 2]]\njobs: {mode: periodic, tokens: 10}\n');
    const r = await sim(['--scenario', bad, '--controller', 'hysteresis']);
    assert.equal(r.code, 78);
    assert.equal(r.stdout, '');
    for (const path of ['duration_h', 'outdoor_c.1.0', 'jobs.every_s']) assert.ok(r.stderr.includes(`${path}:`), `${path} in ${r.stderr}`);
    const missing = await sim(['--scenario', join(dir, 'nope.yaml')]);
    assert.equal(missing.code, 78);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an output file that cannot be written exits 73', async () => {
  const r = await sim(['--scenario', steadyDay, '--controller', 'tpi', '--out', '/nonexistent-dir/x/result.json']);
  assert.equal(r.code, 73);
  assert.match(r.stderr, /cannot write/);
});

test('a controller factory rejecting the agent overrides exits 78 with its issues', async () => {
  const { AgentError } = await import('../../agent/errors.js');
  let stderr = '';
  let code: number | null = null;
  const program = new Command('anchiale').exitOverride();
  registerSimCommand(program, {
    controllers: {
      pi: () => {
        throw new AgentError('config_invalid', 'configuration invalid: 1 issue', { issues: [{ path: 'agent.thermostat.min_on_s', message: 'must be positive' }] });
      },
      hysteresis: (s) => baselineController('hysteresis', s),
      tpi: (s) => baselineController('tpi', s),
    },
    io: { stdout: () => undefined, stderr: (t) => void (stderr += t), setExitCode: (c) => void (code = c) },
  });
  await program.parseAsync(['sim', '--scenario', steadyDay], { from: 'user' });
  assert.equal(code, 78);
  assert.match(stderr, /agent\.thermostat\.min_on_s: must be positive/);
});
