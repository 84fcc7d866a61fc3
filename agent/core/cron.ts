/**
 * Cron expressions as node-cron reads them (the contract: spec/config.md says schedule entries are
 * node-cron expressions, and the daemon arms node-cron tasks with them), parsed and walked purely on
 * "floating" wall time: epoch ms that encode a local date and time as if it were UTC. Time zones and
 * daylight saving are the caller's business (core/schedule.ts).
 *
 * Syntax (node-cron 4.6, mirrored step by step so that validation here is validation there; the
 * tests compare both on a table and on seeded random expressions):
 *  - 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first; a 5-field
 *    expression fires at second 0. Nicknames: @yearly @annually @monthly @weekly @daily @midnight
 *    @hourly.
 *  - Per field: numbers, `*`, lists `a,b`, ranges `a-b` (wrapping when a > b: `22-2` is 22,23,0,1,2),
 *    steps `a-b/n` and `* /n` (no space); `?` for a whole day-of-month or day-of-week field is `*`.
 *  - Month names (jan…dec, january…december) and day names (sun…sat, sunday…saturday), any case;
 *    day-of-week 7 is Sunday.
 *  - Day of month: `L` (last day), `L-n` (n days before it), `nW` / `LW` (nearest weekday).
 *    Day of week: `nL` (last such day of the month), `n#k` (k-th such day).
 *  - Day of month AND day of week must both match (node-cron's rule; classic Vixie cron ORs them).
 */
import { AgentError } from '../errors.js';

type DomToken = number | 'L' | { lastMinus: number } | { weekdayNear: number | 'L' };
type DowToken = number | { lastOf: number } | { nth: number; weekday: number };

/** A parsed expression: ascending value lists per field. */
export interface CronSpec {
  readonly source: string;
  readonly seconds: readonly number[];
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly daysOfMonth: readonly DomToken[];
  readonly months: readonly number[];
  readonly daysOfWeek: readonly DowToken[];
}

const NICKNAMES: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};
const ALLOWED_CHARS = /^[a-zA-Z0-9-*/,#? ]+$/;
const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const MONTHS_SHORT = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const DAYS_SHORT = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const FIELD_NAMES = ['second', 'minute', 'hour', 'day of month', 'month', 'week day'] as const;
const BOUNDS: ReadonlyArray<readonly [number, number]> = [[0, 59], [0, 59], [0, 23], [1, 31], [1, 12], [0, 6]];
const STAR_RANGES = ['0-59', '0-59', '0-23', '1-31', '1-12', '0-6'];
const MAX_DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const DOM_W = /^(\d{1,2}|L)W$/i;
const DOM_L_MINUS = /^L-(\d{1,2})$/i;
const DOW_LAST = /^([0-7])L$/i;
const DOW_NTH = /^([0-7])#([1-5])$/;
const PLAIN = /^\d+$/;

function invalid(expr: string, message: string): AgentError {
  return new AgentError('invalid_cron', `invalid cron expression "${expr}": ${message}`, { cron: expr });
}

function replaceNames(field: string, names: readonly string[], first: number): string {
  let out = field;
  names.forEach((name, i) => {
    out = out.replace(new RegExp(name, 'gi'), String(i + first));
  });
  return out;
}

/** `a-b` or `a-b/n` → the listed values (wrapping past the field's end when a > b). */
function expandRanges(field: string, [min, max]: readonly [number, number]): string {
  return field
    .split(',')
    .map((token) => {
      const m = /^(\d+)-(\d+)(?:\/(\d+))?$/.exec(token.trim());
      if (!m) return token;
      const step = Number.parseInt(m[3] ?? '1', 10);
      if (!(step >= 1)) return token;
      const a = Number.parseInt(m[1]!, 10);
      const b = Number.parseInt(m[2]!, 10);
      const values: number[] = [];
      if (a <= b) {
        for (let v = a; v <= b; v += step) values.push(v);
      } else {
        const size = max - min + 1;
        const span = (((b - a) % size) + size) % size;
        for (let off = 0; off <= span; off += step) values.push(a + off > max ? a + off - size : a + off);
      }
      return values.join(',');
    })
    .join(',');
}

function plainValues(tokens: readonly string[], field: number, expr: string, raw: string): number[] {
  const [min, max] = BOUNDS[field]!;
  const values = tokens.map((t) => {
    const v = PLAIN.test(t) ? Number.parseInt(t, 10) : NaN;
    // Day of week allows 7 (Sunday) before it is folded to 0.
    if (!(v >= min && v <= (field === 5 ? 7 : max))) throw invalid(expr, `${raw} is a invalid expression for ${FIELD_NAMES[field]}`);
    return v;
  });
  return [...new Set(values)].sort((x, y) => x - y);
}

/** Parses a node-cron expression; throws AgentError `invalid_cron` naming the bad field. */
export function parseCron(expression: string): CronSpec {
  const expr = expression;
  const resolved = NICKNAMES[expr.trim().toLowerCase()] ?? expr;
  if (!ALLOWED_CHARS.test(resolved)) throw invalid(expr, 'pattern includes illegal characters');
  const raw = resolved.replace(/\s{2,}/g, ' ').trim().split(' ');
  if (raw.length !== 5 && raw.length !== 6) throw invalid(expr, `expected 5 or 6 fields but got ${raw.length}`);
  const patterns = raw.length === 5 ? ['0', ...raw] : raw;

  const fields = [...patterns];
  if (fields[3] === '?') fields[3] = '*';
  if (fields[5] === '?') fields[5] = '*';
  fields[4] = replaceNames(replaceNames(fields[4]!, MONTHS, 1), MONTHS_SHORT, 1);
  fields[5] = replaceNames(replaceNames(fields[5]!, DAYS, 0), DAYS_SHORT, 0);
  const tokens = fields.map((f, i) =>
    expandRanges(
      f
        .split(',')
        .map((t) => (t.includes('*') ? t.replace('*', STAR_RANGES[i]!) : t))
        .join(','),
      BOUNDS[i]!,
    )
      .split(',')
      .map((t) => t.trim()),
  );

  const [seconds, minutes, hours] = [0, 1, 2].map((i) => plainValues(tokens[i]!, i, expr, patterns[i]!)) as [number[], number[], number[]];

  const domPlain: string[] = [];
  const dom: DomToken[] = [];
  for (const t of tokens[3]!) {
    const w = DOM_W.exec(t);
    const lm = DOM_L_MINUS.exec(t);
    if (/^l$/i.test(t)) dom.push('L');
    else if (w) {
      const target = w[1]!.toUpperCase() === 'L' ? 'L' : Number.parseInt(w[1]!, 10);
      if (target !== 'L' && (target < 1 || target > 31)) throw invalid(expr, `${patterns[3]} is a invalid expression for day of month`);
      dom.push({ weekdayNear: target });
    } else if (lm) {
      const n = Number.parseInt(lm[1]!, 10);
      if (n < 1 || n > 30) throw invalid(expr, `${patterns[3]} is a invalid expression for day of month`);
      dom.push({ lastMinus: n });
    } else if (/w/i.test(t)) throw invalid(expr, `${patterns[3]} is a invalid expression for day of month`);
    else domPlain.push(t);
  }
  dom.push(...plainValues(domPlain, 3, expr, patterns[3]!));
  const months = plainValues(tokens[4]!, 4, expr, patterns[4]!);

  const dowPlain: string[] = [];
  const dowSpecial: DowToken[] = [];
  for (const t of tokens[5]!) {
    const last = DOW_LAST.exec(t);
    const nth = DOW_NTH.exec(t);
    if (last) dowSpecial.push({ lastOf: Number.parseInt(last[1]!, 10) % 7 });
    else if (nth) dowSpecial.push({ nth: Number.parseInt(nth[2]!, 10), weekday: Number.parseInt(nth[1]!, 10) % 7 });
    else dowPlain.push(t);
  }
  const dow: DowToken[] = [...new Set(plainValues(dowPlain, 5, expr, patterns[5]!).map((d) => d % 7))].sort((x, y) => x - y);
  dow.push(...dowSpecial);

  if (dom.every((d) => typeof d === 'number') && !months.some((m) => dom.some((d) => (d as number) <= MAX_DAYS_IN_MONTH[m - 1]!))) {
    throw invalid(expr, `${patterns[3]} ${patterns[4]} is an impossible day of month for the given month`);
  }
  return { source: expr, seconds, minutes, hours, daysOfMonth: dom, months, daysOfWeek: dow };
}

/** The reason an expression is invalid, or null when it is valid. */
export function cronError(expression: string): string | null {
  try {
    parseCron(expression);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

const DAY_MS = 86_400_000;

function lastDayOfMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function nearestWeekday(year: number, month: number, target: number): number {
  const last = lastDayOfMonth(year, month);
  if (target < 1 || target > last) return -1;
  const wd = new Date(Date.UTC(year, month - 1, target)).getUTCDay();
  if (wd === 6) return target === 1 ? target + 2 : target - 1;
  if (wd === 0) return target === last ? target - 2 : target + 1;
  return target;
}

/** Whether the floating day starting at `dayMs` (00:00) matches the date fields. */
function dayMatches(s: CronSpec, dayMs: number): boolean {
  const d = new Date(dayMs);
  const year = d.getUTCFullYear();
  const month = d.getUTCMonth() + 1;
  const day = d.getUTCDate();
  if (!s.months.includes(month)) return false;
  const last = lastDayOfMonth(year, month);
  const domOk = s.daysOfMonth.some((t) =>
    typeof t === 'number'
      ? t === day
      : t === 'L'
        ? day === last
        : 'lastMinus' in t
          ? last - t.lastMinus === day
          : nearestWeekday(year, month, t.weekdayNear === 'L' ? last : t.weekdayNear) === day,
  );
  if (!domOk) return false;
  const weekday = d.getUTCDay();
  return s.daysOfWeek.some((t) =>
    typeof t === 'number'
      ? t === weekday
      : 'lastOf' in t
        ? t.lastOf === weekday && day + 7 > last
        : t.weekday === weekday && Math.floor((day - 1) / 7) + 1 === t.nth,
  );
}

/** The smallest second of the day ≥ fromS that the time fields allow, or null. */
function firstTimeFrom(s: CronSpec, fromS: number): number | null {
  for (const h of s.hours) {
    if (h * 3600 + 3599 < fromS) continue;
    for (const m of s.minutes) {
      if (h * 3600 + m * 60 + 59 < fromS) continue;
      for (const sec of s.seconds) {
        const tod = h * 3600 + m * 60 + sec;
        if (tod >= fromS) return tod;
      }
    }
  }
  return null;
}

/** The largest second of the day ≤ toS that the time fields allow, or null. */
function lastTimeTo(s: CronSpec, toS: number): number | null {
  for (let hi = s.hours.length - 1; hi >= 0; hi--) {
    const h = s.hours[hi]!;
    if (h * 3600 > toS) continue;
    for (let mi = s.minutes.length - 1; mi >= 0; mi--) {
      const m = s.minutes[mi]!;
      if (h * 3600 + m * 60 > toS) continue;
      for (let si = s.seconds.length - 1; si >= 0; si--) {
        const tod = h * 3600 + m * 60 + s.seconds[si]!;
        if (tod <= toS) return tod;
      }
    }
  }
  return null;
}

/** Whether the expression fires at floating time `wallMs` (whole seconds only). */
export function cronMatches(s: CronSpec, wallMs: number): boolean {
  if (wallMs % 1000 !== 0) return false;
  const dayMs = Math.floor(wallMs / DAY_MS) * DAY_MS;
  const tod = (wallMs - dayMs) / 1000;
  return dayMatches(s, dayMs) && firstTimeFrom(s, tod) === tod;
}

/** The earliest firing strictly after `afterMs` and no later than `limitMs` (floating ms), or null. */
export function cronNext(s: CronSpec, afterMs: number, limitMs: number): number | null {
  const start = Math.floor(afterMs / 1000) * 1000 + 1000;
  for (let day = Math.floor(start / DAY_MS) * DAY_MS; day <= limitMs; day += DAY_MS) {
    if (!dayMatches(s, day)) continue;
    const tod = firstTimeFrom(s, day < start ? (start - day) / 1000 : 0);
    if (tod === null) continue;
    const at = day + tod * 1000;
    return at <= limitMs ? at : null;
  }
  return null;
}

/** The latest firing strictly before `beforeMs` and no earlier than `floorMs` (floating ms), or null. */
export function cronPrev(s: CronSpec, beforeMs: number, floorMs: number): number | null {
  const end = Math.ceil(beforeMs / 1000) * 1000 - 1000;
  for (let day = Math.floor(end / DAY_MS) * DAY_MS; day + DAY_MS > floorMs; day -= DAY_MS) {
    if (!dayMatches(s, day)) continue;
    const tod = lastTimeTo(s, Math.min(86_399, (end - day) / 1000));
    if (tod === null) continue;
    const at = day + tod * 1000;
    return at >= floorMs ? at : null;
  }
  return null;
}
