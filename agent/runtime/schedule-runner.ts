/**
 * The schedule's clock: node-cron tasks that fire at every `thermostat.schedule` entry and at local
 * midnight. A runtime extension (started and stopped with the runtime).
 *
 *  - An entry firing asks the runtime for a decision at once (requestTick(): the core resolves the
 *    schedule's active entry itself, core/schedule.ts, on every tick; this only makes the change
 *    immediate instead of up to a tick late) and emits `schedule_transition {preset, setpoint_c,
 *    cron}`. Around daylight-saving changes node-cron may fire a skipped or repeated local time
 *    differently from core/schedule.ts; the decision always follows the core.
 *  - Local midnight (in the schedule's time zone) emits `energy_report {date, energy_kwh_day,
 *    useful_kwh_day, tokens_day, jobs_day}`: the runtime's counters minus their value at the start
 *    of the day. That day-start snapshot is persisted (energy-day.json), so a restart during the day
 *    keeps counting from the day's start; a snapshot from an earlier day (the agent was down at
 *    midnight) is replaced by the counters at start, without a report.
 *  - A configuration reload (event `config_reloaded`) re-arms the tasks when the schedule changed.
 *  - An entry node-cron cannot arm is logged and left to the core (its tick still applies it).
 */
import cron from 'node-cron';
import type { ScheduleEntry, ScheduleSpec } from '../core/schedule.js';
import type { EnergyCounters } from '../core/energy.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import type { RuntimeExtension } from './agent-runtime.js';
import type { Severity } from './event-publisher.js';

/** The daily energy report: local midnight. */
export const ENERGY_REPORT_CRON = '0 0 * * *';
/** Where the day-start snapshot of the counters is kept. */
export const ENERGY_DAY_FILE = 'energy-day.json';

/** What the runner needs of a cron library (node-cron in the daemon, a fake in tests). */
export interface CronPort {
  /** Runs `fn` at every match of `expression` in `timezone`; throws on an expression it cannot read. */
  schedule(expression: string, fn: () => void, opts: { timezone: string; name: string }): { stop(): unknown };
}

/** node-cron v4: tasks start at once (unref: they never hold the process up); stop destroys them. Its warnings (missed runs) go to our log. */
export function nodeCronPort(log: Logger): CronPort {
  const logger = {
    info: (m: string) => log.debug({ source: 'node-cron' }, m),
    warn: (m: string) => log.warn({ source: 'node-cron' }, m),
    error: (m: string | Error, err?: Error) => log.error({ source: 'node-cron', err: errorMessage(err ?? m) }, String(m)),
    debug: (m: string | Error) => log.debug({ source: 'node-cron' }, String(m)),
  };
  return {
    schedule(expression, fn, opts) {
      const task = cron.schedule(expression, () => fn(), { timezone: opts.timezone, name: opts.name, logger, unref: true });
      return { stop: () => task.destroy() };
    },
  };
}

export interface ScheduleRunnerRuntime {
  requestTick(): void;
  emitEvent(type: string, severity: Severity, fields?: Record<string, unknown>): void;
  readonly energy: EnergyCounters;
  onEvent(listener: (type: string, severity: Severity) => void): () => void;
}

export interface ScheduleRunnerDeps {
  runtime: ScheduleRunnerRuntime;
  /** The running schedule (read again after a configuration reload). */
  schedule: () => ScheduleSpec;
  store: { read<T>(name: string): Promise<T | null>; write(name: string, value: unknown): Promise<void> };
  clock: Pick<Clock, 'wallMs'>;
  log: Logger;
  /** Default: node-cron. */
  cron?: CronPort;
}

/** energy-day.json */
export interface EnergyDaySnapshot {
  version: 1;
  /** Local date (YYYY-MM-DD, schedule time zone) the snapshot starts. */
  date: string;
  start: EnergyCounters;
}

export interface EnergyReport {
  date: string;
  energy_kwh_day: number;
  useful_kwh_day: number;
  tokens_day: number;
  jobs_day: number;
}

export class ScheduleRunner implements RuntimeExtension {
  private readonly log: Logger;
  private tasks: Array<{ name: string; stop(): unknown }> = [];
  private armedFor: string | null = null;
  private day: EnergyDaySnapshot | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly deps: ScheduleRunnerDeps) {
    this.log = deps.log.child({ component: 'schedule' });
  }

  /** Names of the tasks armed now (entries `entry <i> <cron>`, then `energy_report`). */
  get armed(): string[] {
    return this.tasks.map((t) => t.name);
  }

  async start(): Promise<void> {
    await this.restoreDay();
    this.arm();
    this.unsubscribe = this.deps.runtime.onEvent((type) => {
      if (type === 'config_reloaded') this.arm();
    });
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.disarm();
    if (this.day) await this.persistDay();
  }

  /** An entry fired: decide now, and say so. */
  onTransition(entry: ScheduleEntry): void {
    this.log.info({ cron: entry.cron, preset: entry.preset ?? null, setpoint_c: entry.setpoint_c ?? null }, 'schedule transition');
    this.deps.runtime.emitEvent('schedule_transition', 'info', { preset: entry.preset ?? null, setpoint_c: entry.setpoint_c ?? null, cron: entry.cron });
    this.deps.runtime.requestTick();
  }

  /** Local midnight: the day's report, and a new day starts from the counters now. */
  async onMidnight(): Promise<EnergyReport> {
    const now = this.deps.runtime.energy;
    const tz = this.timezone();
    const start = this.day?.start ?? now;
    // The day that ended: the local date a minute before now (node-cron fires at 00:00:00).
    const date = this.day?.date ?? localDate(tz, this.deps.clock.wallMs() - 60_000);
    const report: EnergyReport = {
      date,
      energy_kwh_day: round3(Math.max(0, now.energyKwh - start.energyKwh)),
      useful_kwh_day: round3(Math.max(0, now.usefulKwh - start.usefulKwh)),
      tokens_day: Math.max(0, Math.round(now.tokens - start.tokens)),
      jobs_day: Math.max(0, Math.round(now.jobsDone - start.jobsDone)),
    };
    this.deps.runtime.emitEvent('energy_report', 'info', { ...report });
    this.day = { version: 1, date: localDate(tz, this.deps.clock.wallMs()), start: { ...now } };
    await this.persistDay();
    return report;
  }

  private timezone(): string {
    return this.deps.schedule().timezone;
  }

  /** (Re-)arms the tasks when the schedule differs from the one armed. */
  private arm(): void {
    const spec = this.deps.schedule();
    const key = JSON.stringify(spec);
    if (key === this.armedFor) return;
    this.disarm();
    const cronPort = this.deps.cron ?? nodeCronPort(this.log);
    const add = (name: string, expression: string, fn: () => void): void => {
      try {
        this.tasks.push({ name, ...cronPort.schedule(expression, fn, { timezone: spec.timezone, name }) });
      } catch (err) {
        this.log.error({ task: name, cron: expression, err: errorMessage(err) }, 'schedule task not armed: the control tick still applies the schedule');
      }
    };
    spec.entries.forEach((entry, i) => add(`entry ${i} ${entry.cron}`, entry.cron, () => this.onTransition(entry)));
    add('energy_report', ENERGY_REPORT_CRON, () => {
      this.onMidnight().catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'energy report failed'));
    });
    this.armedFor = key;
    this.log.debug({ tasks: this.armed, timezone: spec.timezone }, 'schedule armed');
  }

  private disarm(): void {
    for (const t of this.tasks.splice(0)) {
      try {
        t.stop();
      } catch (err) {
        this.log.warn({ task: t.name, err: errorMessage(err) }, 'schedule task stop failed');
      }
    }
    this.armedFor = null;
  }

  private async restoreDay(): Promise<void> {
    const today = localDate(this.timezone(), this.deps.clock.wallMs());
    const now = this.deps.runtime.energy;
    let saved: EnergyDaySnapshot | null = null;
    try {
      saved = sanitizeSnapshot(await this.deps.store.read<unknown>(ENERGY_DAY_FILE));
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'energy-day.json unreadable: the day starts now');
    }
    if (saved && saved.date === today) {
      // Counters never go back; a snapshot above them (a counters file lost) would give negative days.
      this.day = { ...saved, start: minCounters(saved.start, now) };
      return;
    }
    if (saved) this.log.info({ date: saved.date, today }, 'energy day snapshot from an earlier day: the day starts now, no report');
    this.day = { version: 1, date: today, start: { ...now } };
    await this.persistDay();
  }

  private async persistDay(): Promise<void> {
    try {
      await this.deps.store.write(ENERGY_DAY_FILE, this.day);
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'cannot persist the energy day snapshot');
    }
  }
}

/** The local date (YYYY-MM-DD) of an instant in a time zone. */
export function localDate(timezone: string, wallMs: number): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(wallMs);
  const get = (t: string): string => parts.find((p) => p.type === t)?.value ?? '00';
  return `${get('year')}-${get('month')}-${get('day')}`;
}

function sanitizeSnapshot(raw: unknown): EnergyDaySnapshot | null {
  const o = raw as Partial<EnergyDaySnapshot> | null;
  if (o === null || typeof o !== 'object' || o.version !== 1 || typeof o.date !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(o.date)) return null;
  const s = o.start as Partial<EnergyCounters> | undefined;
  const n = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null);
  if (!s || typeof s !== 'object') return null;
  const c = { energyKwh: n(s.energyKwh), usefulKwh: n(s.usefulKwh), tokens: n(s.tokens), jobsDone: n(s.jobsDone) };
  if (c.energyKwh === null || c.usefulKwh === null || c.tokens === null || c.jobsDone === null) return null;
  return { version: 1, date: o.date, start: c as EnergyCounters };
}

function minCounters(a: EnergyCounters, b: EnergyCounters): EnergyCounters {
  return {
    energyKwh: Math.min(a.energyKwh, b.energyKwh),
    usefulKwh: Math.min(a.usefulKwh, b.usefulKwh),
    tokens: Math.min(a.tokens, b.tokens),
    jobsDone: Math.min(a.jobsDone, b.jobsDone),
  };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
