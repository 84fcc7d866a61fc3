import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentError } from '../../agent/errors.js';
import { loadScenario, parseScenario, scenarioCardLimits, type ScenarioIssue } from '../../agent/sim/scenario.js';

const minimal = { name: 'm', duration_h: 1, outdoor_c: [[0, 5]] };

function issues(raw: unknown): ScenarioIssue[] {
  try {
    parseScenario(raw);
  } catch (err) {
    assert.ok(err instanceof AgentError);
    assert.equal(err.code, 'scenario_invalid');
    return (err.details as { errors: ScenarioIssue[] }).errors;
  }
  assert.fail('expected scenario_invalid');
}

test('defaults of a minimal scenario', () => {
  const s = parseScenario(minimal);
  assert.equal(s.stepS, 1);
  assert.equal(s.tickS, 10);
  assert.deepEqual(s.room, { ciJPerK: 2.0e5, cmJPerK: 3.3e6, rimKPerW: 0.0054, rioKPerW: 0.1, rmoKPerW: 0.067, ti0C: 19, tm0C: 19 });
  assert.deepEqual(s.baseHeatingW, [[0, 0]]);
  assert.deepEqual(s.gainsW, [[0, 0]]);
  assert.deepEqual(s.occupied, [[0, true]]);
  assert.equal(s.setpointC, null);
  assert.deepEqual(s.jobs, { mode: 'backlog' });
  assert.equal(s.heater.max_limit_w, 350);
  assert.deepEqual(s.agent, {});
  assert.deepEqual(s.settings, {
    maxPowerW: 300,
    maxParallel: 4,
    keepAliveS: 600,
    schedule: null,
    presets: { frost: 8, eco: 17, comfort: 21, boost: 23 },
    defaultSetpointC: 20,
  });
  assert.deepEqual(scenarioCardLimits(s), { minLimitW: 100, maxLimitW: 350, defaultLimitW: 350, powerManagement: true });
});

test('agent overrides: typed reads, the rest kept as given', () => {
  const s = parseScenario({
    ...minimal,
    agent: {
      heater: { max_power_w: 250, limit_deadband_w: 10 },
      llm: { max_parallel: 2, keep_alive_s: 120 },
      thermostat: {
        presets: { comfort: 22 },
        default_setpoint_c: 19,
        min_on_s: 600,
        schedule: { timezone: 'Europe/Paris', entries: [{ cron: '0 7 * * 1-5', preset: 'comfort' }, { cron: '0 19 * * *', setpoint_c: 16 }] },
      },
      safety: { max_room_temp_c: 26 },
    },
  });
  assert.equal(s.settings.maxPowerW, 250);
  assert.equal(s.settings.maxParallel, 2);
  assert.equal(s.settings.keepAliveS, 120);
  assert.deepEqual(s.settings.presets, { frost: 8, eco: 17, comfort: 22, boost: 23 });
  assert.equal(s.settings.defaultSetpointC, 19);
  assert.deepEqual(s.settings.schedule, {
    timezone: 'Europe/Paris',
    entries: [
      { cron: '0 7 * * 1-5', preset: 'comfort' },
      { cron: '0 19 * * *', setpoint_c: 16 },
    ],
  });
  assert.deepEqual(s.agent.safety, { max_room_temp_c: 26 });
  assert.deepEqual((s.agent.heater as Record<string, unknown>).limit_deadband_w, 10);
  assert.equal((s.agent.thermostat as Record<string, unknown>).min_on_s, 600);
});

test('every error is reported with its key path', () => {
  const got = issues({
    name: '',
    duration_h: -1,
    outdoor_c: [[0, 1], [0, 2]],
    room: { ci_j_per_k: 'big', volume: 3 },
    jobs: { mode: 'periodic', every_s: 0, tokens: 10 },
    heater: { idle_w: -5 },
    agent: { heater: { max_power_w: 'lots' }, llm: { max_parallel: 1.5 } },
    extra: true,
  }).map((i) => i.path);
  for (const path of [
    'name',
    'duration_h',
    'outdoor_c.1.0',
    'room.ci_j_per_k',
    'room',
    'jobs.every_s',
    'heater.idle_w',
    'agent.heater.max_power_w',
    'agent.llm.max_parallel',
    '(root)',
  ]) {
    assert.ok(got.includes(path), `${path} in ${JSON.stringify(got)}`);
  }
});

test('semantic checks: schedule, step stability, tick ≥ step, limits', () => {
  assert.deepEqual(issues({ ...minimal, agent: { thermostat: { schedule: { timezone: 'Mars/Base', entries: [] } } } }).map((i) => i.path), [
    'agent.thermostat.schedule.timezone',
  ]);
  assert.deepEqual(
    issues({ ...minimal, agent: { thermostat: { schedule: { timezone: 'UTC', entries: [{ cron: 'not a cron', preset: 'eco' }] } } } }).map((i) => i.path),
    ['agent.thermostat.schedule'],
  );
  assert.deepEqual(
    issues({ ...minimal, agent: { thermostat: { schedule: { timezone: 'UTC', entries: [{ cron: '0 7 * * *', preset: 'eco', setpoint_c: 20 }] } } } }).map((i) => i.path),
    ['agent.thermostat.schedule.entries.0'],
  );
  assert.deepEqual(issues({ ...minimal, step_s: 2000, tick_s: 2000 }).map((i) => i.path), ['step_s']);
  assert.deepEqual(issues({ ...minimal, step_s: 10, tick_s: 5 }).map((i) => i.path), ['tick_s']);
  assert.deepEqual(issues({ ...minimal, heater: { min_limit_w: 400 } }).map((i) => i.path), ['heater.min_limit_w']);
  assert.deepEqual(issues({ ...minimal, jobs: { mode: 'nope' } }).map((i) => i.path), ['jobs.mode']);
});

test('loadScenario: YAML and JSON files; unreadable and unparsable files are invalid', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'anchiale-scenario-'));
  try {
    await writeFile(join(dir, 'a.json'), JSON.stringify({ ...minimal, jobs: { mode: 'poisson', rate_per_min: [[0, 1]], tokens: 100 } }));
    const s = await loadScenario(join(dir, 'a.json'));
    assert.deepEqual(s.jobs, { mode: 'poisson', rate_per_min: [[0, 1]], tokens: 100, seed: 1 });
    await writeFile(join(dir, 'b.yaml'), 'name: b\nduration_h: 2\noutdoor_c: [[0, 1], [2, 3]]\n');
    assert.equal((await loadScenario(join(dir, 'b.yaml'))).durationH, 2);
    await writeFile(join(dir, 'c.yaml'), 'name: [unclosed\n');
    await assert.rejects(loadScenario(join(dir, 'c.yaml')), (err: unknown) => err instanceof AgentError && err.code === 'scenario_invalid');
    await assert.rejects(loadScenario(join(dir, 'missing.yaml')), (err: unknown) => err instanceof AgentError && err.code === 'scenario_invalid');
    await writeFile(join(dir, 'd.yaml'), 'name: d\nduration_h: 0\n');
    await assert.rejects(loadScenario(join(dir, 'd.yaml')), /duration_h: .*\n\s+outdoor_c: /);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('every shipped scenario is valid', async () => {
  const dir = new URL('../../scenarios/', import.meta.url).pathname;
  const files = (await readdir(dir)).filter((f) => /\.(ya?ml|json)$/.test(f));
  assert.ok(files.length >= 6, `scenarios: ${files.join(', ')}`);
  for (const f of files) {
    const s = await loadScenario(join(dir, f));
    assert.equal(`${s.name}.yaml`, f, 'file named after the scenario');
  }
});

test('steady-day.yaml is the spec example', async () => {
  const s = await loadScenario(new URL('../../scenarios/steady-day.yaml', import.meta.url).pathname);
  assert.equal(s.durationH, 24);
  assert.deepEqual(s.outdoorC, [[0, 2], [6, 0], [14, 8], [24, 3]]);
  assert.deepEqual(s.gainsW, [[0, 0], [8, 150], [12, 50], [13, 150], [18, 0]]);
  assert.deepEqual(s.setpointC, [[0, 21]]);
  assert.deepEqual(s.occupied, [[0, false], [8, true], [18, false]]);
  assert.deepEqual(s.baseHeatingW, [[0, 150]]);
  assert.deepEqual(s.room, { ciJPerK: 2.0e5, cmJPerK: 3.3e6, rimKPerW: 0.0054, rioKPerW: 0.1, rmoKPerW: 0.067, ti0C: 19, tm0C: 19 });
});
