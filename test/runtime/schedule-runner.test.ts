import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonFileStore } from '../../agent/adapters/system/json-file-store.js';
import type { EnergyCounters } from '../../agent/core/energy.js';
import type { ScheduleSpec } from '../../agent/core/schedule.js';
import { silentLogger } from '../../agent/log.js';
import { ENERGY_DAY_FILE, ScheduleRunner, localDate, type CronPort, type EnergyDaySnapshot, type ScheduleRunnerRuntime } from '../../agent/runtime/schedule-runner.js';
import type { Severity } from '../../agent/runtime/event-publisher.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempStore(): Promise<JsonFileStore> {
  const dir = await mkdtemp(join(tmpdir(), 'anchiale-schedule-runner-'));
  dirs.push(dir);
  const store = new JsonFileStore(dir);
  await store.ensureDir();
  return store;
}

/** A cron library that fires only when told to. */
class FakeCron implements CronPort {
  readonly tasks: Array<{ expression: string; timezone: string; name: string; fn: () => void; stopped: boolean }> = [];
  failOn: string | null = null;
  schedule(expression: string, fn: () => void, opts: { timezone: string; name: string }): { stop(): void } {
    if (expression === this.failOn) throw new Error(`bad expression ${expression}`);
    const task = { expression, fn, stopped: false, ...opts };
    this.tasks.push(task);
    return { stop: () => void (task.stopped = true) };
  }
  live(): string[] {
    return this.tasks.filter((t) => !t.stopped).map((t) => t.expression);
  }
  fire(expression: string): void {
    const t = this.tasks.find((x) => !x.stopped && x.expression === expression);
    assert.ok(t, `no live task ${expression}`);
    t.fn();
  }
}

/** The runtime as the runner sees it: counters it can set, events and ticks it records. */
class FakeRuntime implements ScheduleRunnerRuntime {
  energy: EnergyCounters = { energyKwh: 100, usefulKwh: 80, tokens: 1_000_000, jobsDone: 50 };
  readonly events: Array<{ type: string; severity: Severity; fields: Record<string, unknown> }> = [];
  ticks = 0;
  private listeners: Array<(type: string, severity: Severity) => void> = [];
  requestTick(): void {
    this.ticks += 1;
  }
  emitEvent(type: string, severity: Severity, fields: Record<string, unknown> = {}): void {
    this.events.push({ type, severity, fields });
    for (const l of this.listeners) l(type, severity);
  }
  onEvent(listener: (type: string, severity: Severity) => void): () => void {
    this.listeners.push(listener);
    return () => (this.listeners = this.listeners.filter((l) => l !== listener));
  }
  add(d: Partial<EnergyCounters>): void {
    const e = this.energy;
    this.energy = { energyKwh: e.energyKwh + (d.energyKwh ?? 0), usefulKwh: e.usefulKwh + (d.usefulKwh ?? 0), tokens: e.tokens + (d.tokens ?? 0), jobsDone: e.jobsDone + (d.jobsDone ?? 0) };
  }
}

const SPEC: ScheduleSpec = {
  timezone: 'Europe/Paris',
  entries: [
    { cron: '0 7 * * 1-5', preset: 'comfort' },
    { cron: '30 12 * * 6', setpoint_c: 19.5 },
    { cron: '0 19 * * 1-5', preset: 'eco' },
  ],
};

/** Epoch ms of a local Paris time in January 2026 (UTC+1). */
const paris = (day: number, h: number, m = 0): number => Date.UTC(2026, 0, day, h - 1, m);

async function setup(opts: { nowMs?: number; spec?: ScheduleSpec; store?: JsonFileStore } = {}) {
  let nowMs = opts.nowMs ?? paris(5, 10);
  let spec = opts.spec ?? SPEC;
  const cron = new FakeCron();
  const runtime = new FakeRuntime();
  const store = opts.store ?? (await tempStore());
  const runner = new ScheduleRunner({ runtime, schedule: () => spec, store, clock: { wallMs: () => nowMs }, log: silentLogger(), cron });
  return {
    cron,
    runtime,
    store,
    runner,
    setNow: (ms: number) => void (nowMs = ms),
    setSpec: (s: ScheduleSpec) => void (spec = s),
  };
}

describe('ScheduleRunner (fake cron, fake clock)', () => {
  it('arms one task per entry and the midnight report, in the schedule time zone; stop disarms them', async () => {
    const { cron, runner } = await setup();
    await runner.start();
    assert.deepEqual(cron.live(), ['0 7 * * 1-5', '30 12 * * 6', '0 19 * * 1-5', '0 0 * * *']);
    assert.ok(cron.tasks.every((t) => t.timezone === 'Europe/Paris'));
    assert.deepEqual(runner.armed, ['entry 0 0 7 * * 1-5', 'entry 1 30 12 * * 6', 'entry 2 0 19 * * 1-5', 'energy_report']);
    await runner.stop();
    assert.deepEqual(cron.live(), []);
  });

  it('an entry firing: a decision at once and an event schedule_transition {preset | setpoint_c}', async () => {
    const { cron, runtime, runner } = await setup();
    await runner.start();
    // [expression fired, fields expected]
    const table: Array<[string, Record<string, unknown>]> = [
      ['0 7 * * 1-5', { preset: 'comfort', setpoint_c: null, cron: '0 7 * * 1-5' }],
      ['30 12 * * 6', { preset: null, setpoint_c: 19.5, cron: '30 12 * * 6' }],
      ['0 19 * * 1-5', { preset: 'eco', setpoint_c: null, cron: '0 19 * * 1-5' }],
    ];
    table.forEach(([expression, fields], i) => {
      cron.fire(expression);
      assert.equal(runtime.ticks, i + 1, `a tick requested for ${expression}`);
      assert.deepEqual(runtime.events.at(-1), { type: 'schedule_transition', severity: 'info', fields });
    });
    await runner.stop();
  });

  it('energy_report at local midnight: the day\'s differences of the counters; the day-start snapshot is persisted', async () => {
    const { cron, runtime, runner, store, setNow } = await setup({ nowMs: paris(5, 10) });
    await runner.start();
    assert.deepEqual(await store.read<EnergyDaySnapshot>(ENERGY_DAY_FILE), { version: 1, date: '2026-01-05', start: runtime.energy });
    // [local time, counters added since the previous row]
    const day: Array<[number, Partial<EnergyCounters>]> = [
      [paris(5, 12), { energyKwh: 1.2, usefulKwh: 1.0, tokens: 20_000, jobsDone: 3 }],
      [paris(5, 23, 59), { energyKwh: 2.3004, usefulKwh: 2.0, tokens: 30_000, jobsDone: 4 }],
    ];
    for (const [ms, d] of day) {
      setNow(ms);
      runtime.add(d);
    }
    setNow(paris(6, 0));
    cron.fire('0 0 * * *');
    await waitFor(async () => (await store.read<EnergyDaySnapshot>(ENERGY_DAY_FILE))?.date === '2026-01-06');
    const report = runtime.events.find((e) => e.type === 'energy_report')!;
    assert.deepEqual(report.fields, { date: '2026-01-05', energy_kwh_day: 3.5, useful_kwh_day: 3, tokens_day: 50_000, jobs_day: 7 });
    assert.deepEqual((await store.read<EnergyDaySnapshot>(ENERGY_DAY_FILE))!.start, runtime.energy);
    // The next day counts from midnight.
    runtime.add({ energyKwh: 0.5 });
    setNow(paris(7, 0));
    assert.equal((await runner.onMidnight()).energy_kwh_day, 0.5);
    await runner.stop();
  });

  it('a restart during the day keeps counting from the day\'s start; a snapshot of an earlier day is replaced, with no report', async () => {
    const store = await tempStore();
    const snapshot = (date: string, energyKwh: number): EnergyDaySnapshot => ({ version: 1, date, start: { energyKwh, usefulKwh: 70, tokens: 900_000, jobsDone: 40 } });
    // [saved snapshot, day start expected (energyKwh), why]
    const table: Array<[EnergyDaySnapshot | string | null, number, string]> = [
      [snapshot('2026-01-05', 90), 90, 'same day: kept'],
      [snapshot('2026-01-04', 90), 100, 'an earlier day: the day starts now'],
      [snapshot('2026-01-05', 150), 100, 'above the counters (counters lost): clamped to them'],
      ['{not json', 100, 'corrupt: the day starts now'],
      [null, 100, 'absent: the day starts now'],
    ];
    for (const [saved, startKwh, why] of table) {
      if (saved === null) await rm(store.path(ENERGY_DAY_FILE), { force: true });
      else if (typeof saved === 'string') await writeFile(store.path(ENERGY_DAY_FILE), saved);
      else await store.write(ENERGY_DAY_FILE, saved);
      const { cron, runtime, runner, setNow } = await setup({ nowMs: paris(5, 15), store });
      await runner.start();
      setNow(paris(6, 0));
      cron.fire('0 0 * * *');
      await waitFor(() => runtime.events.some((e) => e.type === 'energy_report'));
      const report = runtime.events.filter((e) => e.type === 'energy_report');
      assert.equal(report.length, 1, why);
      assert.equal(report[0]!.fields.energy_kwh_day, 100 - startKwh, why);
      assert.equal(report[0]!.fields.date, '2026-01-05', why);
      await runner.stop();
    }
  });

  it('a configuration reload re-arms the tasks when the schedule changed, only then', async () => {
    const { cron, runtime, runner, setSpec } = await setup();
    await runner.start();
    runtime.emitEvent('config_reloaded', 'info');
    assert.equal(cron.tasks.length, 4, 'same schedule: nothing re-armed');
    setSpec({ timezone: 'UTC', entries: [{ cron: '0 6 * * *', preset: 'comfort' }] });
    runtime.emitEvent('config_reloaded', 'info');
    assert.deepEqual(cron.live(), ['0 6 * * *', '0 0 * * *']);
    assert.ok(cron.tasks.filter((t) => !t.stopped).every((t) => t.timezone === 'UTC'));
    await runner.stop();
    runtime.emitEvent('config_reloaded', 'info');
    assert.deepEqual(cron.live(), [], 'stopped: reloads arm nothing');
  });

  it('an entry the cron library cannot read is left out, the others armed', async () => {
    const { cron, runner } = await setup();
    cron.failOn = '30 12 * * 6';
    await runner.start();
    assert.deepEqual(cron.live(), ['0 7 * * 1-5', '0 19 * * 1-5', '0 0 * * *']);
    await runner.stop();
  });

  it('localDate: the date in the time zone, not UTC', () => {
    // [instant, zone, date]
    const table: Array<[number, string, string]> = [
      [Date.UTC(2026, 0, 5, 23, 30), 'Europe/Paris', '2026-01-06'],
      [Date.UTC(2026, 0, 5, 23, 30), 'UTC', '2026-01-05'],
      [Date.UTC(2026, 0, 6, 3, 0), 'America/New_York', '2026-01-05'],
    ];
    for (const [ms, tz, want] of table) assert.equal(localDate(tz, ms), want);
  });
});

describe('ScheduleRunner with the real node-cron', () => {
  it('a per-second entry (6 fields) fires within 2 s: event and tick', async () => {
    const runtime = new FakeRuntime();
    const runner = new ScheduleRunner({
      runtime,
      schedule: () => ({ timezone: 'Europe/Paris', entries: [{ cron: '* * * * * *', preset: 'boost' }] }),
      store: await tempStore(),
      clock: { wallMs: () => Date.now() },
      log: silentLogger(),
    });
    await runner.start();
    try {
      const t0 = performance.now();
      await waitFor(() => runtime.events.some((e) => e.type === 'schedule_transition'), 2500);
      assert.ok(performance.now() - t0 < 2100, `${performance.now() - t0} ms`);
      assert.deepEqual(runtime.events[0]!.fields, { preset: 'boost', setpoint_c: null, cron: '* * * * * *' });
      assert.ok(runtime.ticks >= 1);
    } finally {
      await runner.stop();
    }
    const n = runtime.events.length;
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(runtime.events.length, n, 'nothing fires after stop');
  });
});

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
