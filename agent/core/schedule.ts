/**
 * Schedule evaluation: which `thermostat.schedule` entry is active at a wall time, when the next
 * transition comes and what it sets. Pure: the wall time is an argument (epoch ms, UTC).
 *
 * Semantics
 *  - An entry fires at every instant its cron expression (5 fields, or 6 with seconds first, as
 *    node-cron) matches the local wall clock of `timezone`.
 *  - Active at t: the entry whose most recent firing ≤ t is the latest; two entries firing at the
 *    same instant: the later one in the list wins. `sinceWallMs` is that firing. Nothing fired in
 *    the last SCHEDULE_LOOKBACK_MS (t − 14 days included): null.
 *  - `nextWallMs`: the earliest firing of any entry after t (within SCHEDULE_LOOKAHEAD_MS, else
 *    null); `next` what it sets (same tie rule).
 *  - Daylight saving time: each local wall-clock time fires at most once, at the instant the
 *    'compatible' rule gives it (the rule of JS Date and Temporal):
 *      · a local time that does not exist (spring forward, Europe/Paris 2026-03-29 02:00→03:00)
 *        is shifted forward by the gap: 02:30 fires at 03:30 CEST (01:30Z), 02:00 at 03:00 CEST;
 *      · a local time that happens twice (fall back, Europe/Paris 2026-10-25 03:00→02:00) fires
 *        once, at its first occurrence: 02:30 fires at 02:30 CEST (00:30Z), not again at 02:30 CET.
 *        An hourly entry therefore skips 02:00 CET (01:00Z) on that night.
 *
 * How: the cron expression is matched on local wall-clock time encoded as UTC ("floating" time,
 * no DST there; core/cron.ts), and each local firing is mapped to its instant with Intl by the rule
 * above, so past, next and listed transitions agree. (cron-parser's own `tz` option, used before,
 * disagreed between prev and next around the 2026 Europe/Paris transitions.)
 */
import { cronNext, cronPrev, parseCron, type CronSpec } from './cron.js';
import { AgentError, errorMessage } from '../errors.js';
import type { ActiveSchedule, Preset } from './types.js';

export interface ScheduleEntry {
  cron: string;
  preset?: 'frost' | 'eco' | 'comfort' | 'boost';
  setpoint_c?: number;
}

export interface ScheduleSpec {
  /** IANA time zone the cron expressions are read in (e.g. Europe/Paris). */
  timezone: string;
  entries: ScheduleEntry[];
}

/** One firing of the schedule: what it sets from `wallMs` on. */
export interface ScheduleTransition {
  wallMs: number;
  preset: Preset | null;
  setpointC: number | null;
}

export interface ScheduleCursor {
  /** Same result as `activeSchedule(spec, wallMs)`, recomputed only when it can have changed. */
  at(wallMs: number): ActiveSchedule | null;
}

const DAY_MS = 86_400_000;
/** How far back the last firing is looked for; older: no active entry. */
export const SCHEDULE_LOOKBACK_MS = 14 * DAY_MS;
/** How far ahead the next firing is looked for; further: `nextWallMs` null. */
export const SCHEDULE_LOOKAHEAD_MS = 14 * DAY_MS;
/** Guard against absurdly dense expressions (e.g. every second) in loops over firings. */
const MAX_FIRINGS = 200_000;

/** True when `timezone` is an IANA zone this runtime knows. */
export function isTimeZone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return timezone.length > 0;
  } catch {
    return false;
  }
}

/** The instant (epoch ms) of a local wall-clock time in `timezone` (DST gaps move forward). */
export function localWallToInstant(timezone: string, localMs: number): number {
  return createZone(timezone).toInstant(localMs);
}

interface Zone {
  /** Offset (ms) of local wall time from UTC at an instant. */
  offsetAt(instantMs: number): number;
  /** The instant of a local wall time (floating ms), 'compatible' disambiguation. */
  toInstant(localMs: number): number;
  /** Smallest and largest offset over [fromMs, toMs] (sampled daily, plus the ends). */
  band(fromMs: number, toMs: number): { minOff: number; maxOff: number };
}

interface CompiledEntry {
  expr: CronSpec;
  preset: Preset | null;
  setpointC: number | null;
}

interface Compiled {
  zone: Zone;
  entries: CompiledEntry[];
}

function createZone(timezone: string): Zone {
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch (err) {
    throw new AgentError('invalid_schedule', `unknown schedule timezone: ${timezone}`, { timezone, cause: errorMessage(err) });
  }

  const offsetAt = (instantMs: number): number => {
    const ms = ((instantMs % 1000) + 1000) % 1000;
    const base = instantMs - ms;
    let y = 0, mo = 1, d = 1, h = 0, mi = 0, s = 0;
    for (const p of fmt.formatToParts(base)) {
      if (p.type === 'year') y = Number(p.value);
      else if (p.type === 'month') mo = Number(p.value);
      else if (p.type === 'day') d = Number(p.value);
      else if (p.type === 'hour') h = Number(p.value);
      else if (p.type === 'minute') mi = Number(p.value);
      else if (p.type === 'second') s = Number(p.value);
    }
    return Date.UTC(y, mo - 1, d, h, mi, s) - base;
  };

  const toInstant = (localMs: number): number => {
    const offBefore = offsetAt(localMs - DAY_MS);
    const offAfter = offsetAt(localMs + DAY_MS);
    const a = localMs - offBefore;
    const aOk = offsetAt(a) === offBefore;
    if (offBefore === offAfter) return a;
    const b = localMs - offAfter;
    const bOk = offsetAt(b) === offAfter;
    if (aOk && bOk) return Math.min(a, b); // repeated local time: the first occurrence
    if (aOk) return a;
    if (bOk) return b;
    return a; // skipped local time: read with the offset before the jump (shifted by the gap)
  };

  const band = (fromMs: number, toMs: number): { minOff: number; maxOff: number } => {
    let minOff = Infinity;
    let maxOff = -Infinity;
    for (let t = fromMs; ; t = Math.min(t + DAY_MS, toMs)) {
      const o = offsetAt(t);
      if (o < minOff) minOff = o;
      if (o > maxOff) maxOff = o;
      if (t >= toMs) break;
    }
    return { minOff, maxOff };
  };

  return { offsetAt, toInstant, band };
}

function compile(spec: ScheduleSpec): Compiled {
  const zone = createZone(spec.timezone);
  const entries = spec.entries.map((entry, index): CompiledEntry => {
    let expr: CronSpec;
    try {
      expr = parseCron(entry.cron);
    } catch (err) {
      throw new AgentError('invalid_schedule', `schedule entry ${index}: invalid cron "${entry.cron}": ${errorMessage(err)}`, {
        index,
        cron: entry.cron,
      });
    }
    return { expr, preset: entry.preset ?? null, setpointC: entry.setpoint_c ?? null };
  });
  return { zone, entries };
}

type Band = { minOff: number; maxOff: number };

/** The entry's latest firing in [floorMs, t], or null. */
function lastFiring(e: CompiledEntry, zone: Zone, t: number, floorMs: number, b: Band): number | null {
  // The instant of local time w lies in [w − maxOff, w − minOff].
  let cursor = t + b.maxOff + 1;
  let best: number | null = null;
  for (let i = 0; i < MAX_FIRINGS; i++) {
    const w = cronPrev(e.expr, cursor, floorMs + b.minOff);
    if (w === null || (best !== null && w - b.minOff < best)) break;
    cursor = w;
    const u = zone.toInstant(w);
    if (u <= t && u >= floorMs && (best === null || u > best)) best = u;
  }
  return best;
}

/** The entry's earliest firing in (t, ceilMs], or null. */
function nextFiring(e: CompiledEntry, zone: Zone, t: number, ceilMs: number, b: Band): number | null {
  let cursor = t + b.minOff;
  let best: number | null = null;
  for (let i = 0; i < MAX_FIRINGS; i++) {
    const w = cronNext(e.expr, cursor, ceilMs + b.maxOff);
    if (w === null || (best !== null && w - b.maxOff > best)) break;
    cursor = w;
    const u = zone.toInstant(w);
    if (u > t && u <= ceilMs && (best === null || u < best)) best = u;
  }
  return best;
}

interface Evaluation {
  result: ActiveSchedule | null;
  /** The result holds for every wall time in [validFromMs, validUntilMs). */
  validFromMs: number;
  validUntilMs: number;
}

function evaluate(c: Compiled, t: number): Evaluation {
  const floorMs = t - SCHEDULE_LOOKBACK_MS;
  const ceilMs = t + SCHEDULE_LOOKAHEAD_MS;
  const b = c.zone.band(floorMs - 2 * DAY_MS, ceilMs + 2 * DAY_MS);

  let active: { at: number; e: CompiledEntry } | null = null;
  let next: { at: number; e: CompiledEntry } | null = null;
  for (const e of c.entries) {
    const last = lastFiring(e, c.zone, t, floorMs, b);
    if (last !== null && (active === null || last >= active.at)) active = { at: last, e };
    const nxt = nextFiring(e, c.zone, t, ceilMs, b);
    if (nxt !== null && (next === null || nxt <= next.at)) next = { at: nxt, e };
  }

  if (active === null) {
    return { result: null, validFromMs: t, validUntilMs: next === null ? t + 1 : next.at };
  }
  const result: ActiveSchedule = {
    preset: active.e.preset,
    setpointC: active.e.setpointC,
    sinceWallMs: active.at,
    nextWallMs: next === null ? null : next.at,
    next: next === null ? null : { preset: next.e.preset, setpointC: next.e.setpointC },
  };
  // Without a next firing in sight, a later call may see one appear: no caching then.
  if (next === null) return { result, validFromMs: t, validUntilMs: t + 1 };
  return {
    result,
    // Earlier than next − look-ahead, the next firing is out of sight; later than since + look-back, the entry is forgotten.
    validFromMs: Math.max(active.at, next.at - SCHEDULE_LOOKAHEAD_MS),
    validUntilMs: Math.min(next.at, active.at + SCHEDULE_LOOKBACK_MS + 1),
  };
}

/**
 * The entry active at `wallMs`, since when, and the next transition; null when the schedule has no
 * entry or none fired within the look-back. Throws AgentError `invalid_schedule` on a bad cron
 * expression or time zone.
 */
export function activeSchedule(spec: ScheduleSpec, wallMs: number): ActiveSchedule | null {
  if (spec.entries.length === 0) return null;
  return evaluate(compile(spec), wallMs).result;
}

/**
 * A cached evaluator for a fixed spec (the simulator asks every few seconds): the result is kept
 * while it cannot change (from its firing to the next one) and recomputed otherwise. Any order of
 * wall times is allowed. Throws AgentError `invalid_schedule` at creation on a bad spec.
 */
export function createScheduleCursor(spec: ScheduleSpec): ScheduleCursor {
  if (spec.entries.length === 0) return { at: () => null };
  const compiled = compile(spec);
  let cached: Evaluation | null = null;
  return {
    at(wallMs: number): ActiveSchedule | null {
      if (cached === null || wallMs < cached.validFromMs || wallMs >= cached.validUntilMs) cached = evaluate(compiled, wallMs);
      return cached.result;
    },
  };
}

/**
 * Every firing in [fromMs, toMs), in time order; entries firing at the same instant give one
 * transition (the later entry's). A firing is listed even when it sets what was already set
 * (it still ends an override). Throws AgentError `schedule_too_dense` past 200 000 firings.
 */
export function scheduleTransitionsBetween(spec: ScheduleSpec, fromMs: number, toMs: number): ScheduleTransition[] {
  if (spec.entries.length === 0 || !(toMs > fromMs)) return [];
  const c = compile(spec);
  const b = c.zone.band(fromMs - 2 * DAY_MS, toMs + 2 * DAY_MS);
  const winner = new Map<number, CompiledEntry>();
  let count = 0;
  for (const e of c.entries) {
    let cursor = fromMs + b.minOff - 1;
    for (;;) {
      const w = cronNext(e.expr, cursor, toMs + b.maxOff - 1);
      if (w === null) break;
      cursor = w;
      const u = c.zone.toInstant(w);
      if (u >= fromMs && u < toMs) winner.set(u, e); // later entries overwrite: they win ties
      if (++count > MAX_FIRINGS) {
        throw new AgentError('schedule_too_dense', `more than ${MAX_FIRINGS} schedule firings between the two times`, { fromMs, toMs });
      }
    }
  }
  return [...winner.entries()]
    .sort((x, y) => x[0] - y[0])
    .map(([wallMs, e]) => ({ wallMs, preset: e.preset, setpointC: e.setpointC }));
}
