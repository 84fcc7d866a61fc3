import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import cron from 'node-cron';
import { cronError, cronMatches, cronNext, cronPrev, parseCron } from '../../agent/core/cron.js';
import { AgentError } from '../../agent/errors.js';
import { mulberry32 as rng } from '../../agent/sim/work.js';

const ms = (iso: string): number => Date.parse(iso);
const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString().replace('.000Z', 'Z'));
const DAY = 86_400_000;

/** node-cron's own reading of an expression, in our shape (null when it refuses it). */
function nodeCronFields(expr: string): Record<string, unknown[]> | null {
  const r = cron.validateDetailed(expr);
  if (!r.valid) return null;
  const f = r.fields as unknown as Record<string, unknown[]>;
  const nums = (xs: unknown[]) => [...new Set(xs as number[])].sort((a, b) => a - b);
  return { seconds: nums(f.second!), minutes: nums(f.minute!), hours: nums(f.hour!), months: nums(f.month!) };
}

describe('parseCron: the node-cron syntax', () => {
  const table: Array<[expr: string, fields: Partial<Record<'seconds' | 'minutes' | 'hours' | 'months' | 'daysOfWeek' | 'daysOfMonth', unknown[]>>]> = [
    ['0 7 * * 1-5', { seconds: [0], minutes: [0], hours: [7], daysOfWeek: [1, 2, 3, 4, 5] }],
    ['30 */15 6-8 * * *', { seconds: [30], minutes: [0, 15, 30, 45], hours: [6, 7, 8] }],
    ['0 22-2 * * *', { hours: [0, 1, 2, 22, 23] }],
    ['0 8 * jan,Mar-may *', { months: [1, 3, 4, 5] }],
    ['0 8 * * MON,wednesday,7', { daysOfWeek: [0, 1, 3] }],
    ['0 8 ? * ?', { daysOfWeek: [0, 1, 2, 3, 4, 5, 6] }],
    ['@daily', { seconds: [0], minutes: [0], hours: [0] }],
    ['0 0 L * *', { daysOfMonth: ['L'] }],
    ['0 0 15W,L-3 * *', { daysOfMonth: [{ weekdayNear: 15 }, { lastMinus: 3 }] }],
    ['0 0 * * 5L,1#2', { daysOfWeek: [{ lastOf: 5 }, { nth: 2, weekday: 1 }] }],
    ['  0   7  *  *  1-5  ', { hours: [7], daysOfWeek: [1, 2, 3, 4, 5] }],
  ];
  for (const [expr, fields] of table) {
    it(`reads "${expr}"`, () => {
      const s = parseCron(expr);
      for (const [k, v] of Object.entries(fields)) assert.deepEqual(s[k as keyof typeof s], v, k);
    });
  }

  const bad: Array<[expr: string, message: RegExp]> = [
    ['', /expected 5 or 6 fields|illegal characters/],
    ['0 7 * *', /expected 5 or 6 fields but got 4/],
    ['0 7 * * * * *', /expected 5 or 6 fields but got 7/],
    ['60 * * * *', /invalid expression for minute/],
    ['0 24 * * *', /invalid expression for hour/],
    ['0 0 32 * *', /invalid expression for day of month/],
    ['0 0 * 13 *', /invalid expression for month/],
    ['0 0 * * 8', /invalid expression for week day/],
    ['0 0 30 2 *', /impossible day of month/],
    ['*/0 * * * *', /invalid expression for minute/],
    ['5/15 * * * *', /invalid expression for minute/],
    ['0 7 * * mon;tue', /illegal characters/],
    ['0 0 1#2 * *', /invalid expression for day of month/],
    ['0 0 * * L', /invalid expression for week day/],
  ];
  for (const [expr, message] of bad) {
    it(`refuses "${expr}" with a reason`, () => {
      assert.throws(() => parseCron(expr), (err: unknown) => err instanceof AgentError && err.code === 'invalid_cron' && message.test(err.message));
      assert.match(cronError(expr) ?? '', message);
    });
  }

  it('accepts and refuses exactly what node-cron does, and expands fields the same way (3 000 seeded expressions)', () => {
    const next = rng(20261126);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
    // Mostly plausible atoms per field (so that many expressions are valid), some junk.
    const perField: string[][] = [
      ['*', '0', '5', '30', '59'],
      ['*', '0', '15', '45', '59'],
      ['*', '0', '6', '7', '22', '23'],
      ['*', '?', '1', '15', '28', '31', 'L', 'l', 'l-3', '15W', '3w', 'LW'],
      ['*', '1', '2', '6', '12', 'jan', 'Mar', 'december'],
      ['*', '?', '0', '1', '5', '7', 'mon', 'FRI', 'sunday', '5L', '1l', '2#3'],
    ];
    const junk = ['60', '24', '32', '13', '8', '', '-1', 'x', 'W', '1#6', '0#1'];
    const token = (i: number): string => {
      const atom = () => (next() < 0.03 ? pick(junk) : pick(perField[i]!));
      const r = next();
      if (r < 0.7) return atom();
      if (r < 0.85) return `${atom()}-${atom()}`;
      if (r < 0.95) return `${atom()}/${pick(['0', '1', '2', '5', '15', '40'])}`;
      return `${atom()}-${atom()}/${pick(['0', '2', '3'])}`;
    };
    const field = (i: number): string => Array.from({ length: 1 + Math.floor(next() * 2) }, () => token(i)).join(',');
    let agreed = 0;
    let valid = 0;
    for (let i = 0; i < 3000; i++) {
      const six = Array.from({ length: 6 }, (_, i) => field(i));
      const expr = (next() < 0.5 ? six.slice(1) : six).join(' ');
      const theirs = nodeCronFields(expr);
      const ours = cronError(expr) === null ? parseCron(expr) : null;
      assert.equal(ours !== null, theirs !== null, `"${expr}": ours ${ours ? 'valid' : cronError(expr)}, node-cron ${theirs ? 'valid' : 'invalid'}`);
      if (ours && theirs) {
        valid++;
        for (const k of ['seconds', 'minutes', 'hours', 'months'] as const) assert.deepEqual(ours[k], theirs[k], `"${expr}" ${k}`);
      }
      agreed++;
    }
    assert.equal(agreed, 3000);
    assert.ok(valid > 300, `enough valid expressions to compare fields (${valid})`);
  });
});

describe('cronMatches agrees with node-cron on the instants it fires', () => {
  const exprs = ['0 7 * * 1-5', '*/20 6-9 * * *', '0 0 L * *', '0 12 15W * *', '0 12 LW * *', '0 9 L-2 * *', '0 8 * * 5L', '0 8 * * 1#2', '0 8 29 2 *', '0 30 22-2 * * sat,sun', '@weekly'];
  for (const expr of exprs) {
    it(`"${expr}" over 2 000 seeded instants of 2024–2027`, () => {
      const spec = parseCron(expr);
      const task = cron.createTask(expr, () => {}, { timezone: 'UTC' });
      try {
        const next = rng(expr.length * 7919);
        let fired = 0;
        for (let i = 0; i < 2000; i++) {
          // Half the instants are on an exact firing candidate (whole minute of a likely hour).
          const day = ms('2024-01-01T00:00:00Z') + Math.floor(next() * 4 * 365) * DAY;
          const t = next() < 0.5 ? day + Math.floor(next() * 86_400) * 1000 : cronNext(spec, day - 1, day + 40 * DAY) ?? day;
          const ours = cronMatches(spec, t);
          assert.equal(ours, task.match(new Date(t)), `${expr} at ${iso(t)}`);
          if (ours) fired++;
        }
        assert.ok(fired > 0, 'some instants fire');
      } finally {
        void task.destroy();
      }
    });
  }
});

describe('cronNext and cronPrev walk floating time', () => {
  const weekdays = parseCron('0 7 * * 1-5');
  const table: Array<[what: string, got: () => number | null, want: string | null]> = [
    ['next after Friday 19:00 is Monday 07:00', () => cronNext(weekdays, ms('2026-11-27T19:00:00Z'), ms('2026-12-31T00:00:00Z')), '2026-11-30T07:00:00Z'],
    ['next is strict: from 07:00 itself, the next day', () => cronNext(weekdays, ms('2026-11-26T07:00:00Z'), ms('2026-12-31T00:00:00Z')), '2026-11-27T07:00:00Z'],
    ['next from 06:59:59.5 is 07:00', () => cronNext(weekdays, ms('2026-11-26T06:59:59.500Z'), ms('2026-12-31T00:00:00Z')), '2026-11-26T07:00:00Z'],
    ['next beyond the limit: null', () => cronNext(weekdays, ms('2026-11-27T19:00:00Z'), ms('2026-11-30T06:59:59Z')), null],
    ['prev before Monday 06:00 is Friday 07:00', () => cronPrev(weekdays, ms('2026-11-30T06:00:00Z'), ms('2026-11-01T00:00:00Z')), '2026-11-27T07:00:00Z'],
    ['prev is strict: from 07:00 itself, the day before', () => cronPrev(weekdays, ms('2026-11-26T07:00:00Z'), ms('2026-11-01T00:00:00Z')), '2026-11-25T07:00:00Z'],
    ['prev from 07:00:00.5 is 07:00', () => cronPrev(weekdays, ms('2026-11-26T07:00:00.500Z'), ms('2026-11-01T00:00:00Z')), '2026-11-26T07:00:00Z'],
    ['prev below the floor: null', () => cronPrev(weekdays, ms('2026-11-30T06:00:00Z'), ms('2026-11-27T07:00:01Z')), null],
    ['29 February: next from 2025 is 2028', () => cronNext(parseCron('0 8 29 2 *'), ms('2025-01-01T00:00:00Z'), ms('2030-01-01T00:00:00Z')), '2028-02-29T08:00:00Z'],
    ['last day of February 2026', () => cronNext(parseCron('0 0 L * *'), ms('2026-02-01T00:00:00Z'), ms('2026-03-31T00:00:00Z')), '2026-02-28T00:00:00Z'],
    ['second Monday of December 2026', () => cronNext(parseCron('0 8 * * 1#2'), ms('2026-12-01T00:00:00Z'), ms('2027-01-01T00:00:00Z')), '2026-12-14T08:00:00Z'],
    ['wrapping hours: prev of 01:30 is 01:00', () => cronPrev(parseCron('0 22-2 * * *'), ms('2026-11-26T01:30:00Z'), ms('2026-11-01T00:00:00Z')), '2026-11-26T01:00:00Z'],
    ['seconds field: next of 06:00:31 is 06:15:30', () => cronNext(parseCron('30 */15 6-8 * * *'), ms('2026-11-26T06:00:31Z'), ms('2026-11-27T00:00:00Z')), '2026-11-26T06:15:30Z'],
  ];
  for (const [what, got, want] of table) it(what, () => assert.equal(iso(got()), want));

  it('next and prev list the same firings as a second-by-second scan (one week of "*/20 6-9 * * 1,3")', () => {
    const spec = parseCron('*/20 6-9 * * 1,3');
    const from = ms('2026-11-23T00:00:00Z');
    const to = from + 7 * DAY;
    const scan: number[] = [];
    for (let t = from; t < to; t += 1000) if (cronMatches(spec, t)) scan.push(t);
    const forward: number[] = [];
    for (let t = cronNext(spec, from - 1, to - 1); t !== null; t = cronNext(spec, t, to - 1)) forward.push(t);
    const backward: number[] = [];
    for (let t = cronPrev(spec, to, from); t !== null; t = cronPrev(spec, t, from)) backward.unshift(t);
    assert.equal(scan.length, 2 * 4 * 3);
    assert.deepEqual(forward, scan);
    assert.deepEqual(backward, scan);
  });
});
