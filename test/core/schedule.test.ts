import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  activeSchedule,
  createScheduleCursor,
  scheduleTransitionsBetween,
  SCHEDULE_LOOKAHEAD_MS,
  SCHEDULE_LOOKBACK_MS,
  type ScheduleSpec,
} from '../../agent/core/schedule.js';
import { AgentError } from '../../agent/errors.js';
import type { ActiveSchedule } from '../../agent/core/types.js';

const ms = (iso: string): number => Date.parse(iso);
const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The contract's example: comfort at 07:00, eco at 19:00, Monday to Friday. */
const weekdayParis: ScheduleSpec = {
  timezone: 'Europe/Paris',
  entries: [
    { cron: '0 7 * * 1-5', preset: 'comfort' },
    { cron: '0 19 * * 1-5', preset: 'eco' },
  ],
};

/** A compact view of a result, with instants in UTC. */
function view(a: ActiveSchedule | null): string {
  if (a === null) return 'null';
  const what = (p: string | null, c: number | null) => (c !== null ? `${c}C` : String(p));
  const next = a.next === null ? 'none' : `${what(a.next.preset, a.next.setpointC)}@${iso(a.nextWallMs)}`;
  return `${what(a.preset, a.setpointC)} since ${iso(a.sinceWallMs)} → ${next}`;
}

describe('schedule: weekday comfort/eco in Europe/Paris (winter, UTC+1)', () => {
  // 2026-01-05 is a Monday.
  const rows: Array<[string, string, string]> = [
    ['Mon 00:00', '2026-01-04T23:00:00.000Z', 'eco since 2026-01-02T18:00:00.000Z → comfort@2026-01-05T06:00:00.000Z'],
    ['Mon 06:59:59.999', '2026-01-05T05:59:59.999Z', 'eco since 2026-01-02T18:00:00.000Z → comfort@2026-01-05T06:00:00.000Z'],
    ['Mon 07:00 exactly', '2026-01-05T06:00:00.000Z', 'comfort since 2026-01-05T06:00:00.000Z → eco@2026-01-05T18:00:00.000Z'],
    ['Mon 12:00', '2026-01-05T11:00:00.000Z', 'comfort since 2026-01-05T06:00:00.000Z → eco@2026-01-05T18:00:00.000Z'],
    ['Mon 19:00 exactly', '2026-01-05T18:00:00.000Z', 'eco since 2026-01-05T18:00:00.000Z → comfort@2026-01-06T06:00:00.000Z'],
    ['Wed 03:00', '2026-01-07T02:00:00.000Z', 'eco since 2026-01-06T18:00:00.000Z → comfort@2026-01-07T06:00:00.000Z'],
    ['Fri 18:59', '2026-01-09T17:59:00.000Z', 'comfort since 2026-01-09T06:00:00.000Z → eco@2026-01-09T18:00:00.000Z'],
    ['Fri 20:00', '2026-01-09T19:00:00.000Z', 'eco since 2026-01-09T18:00:00.000Z → comfort@2026-01-12T06:00:00.000Z'],
    ['Sat 07:30 (no weekend entry)', '2026-01-10T06:30:00.000Z', 'eco since 2026-01-09T18:00:00.000Z → comfort@2026-01-12T06:00:00.000Z'],
    ['Sun 23:59', '2026-01-11T22:59:00.000Z', 'eco since 2026-01-09T18:00:00.000Z → comfort@2026-01-12T06:00:00.000Z'],
  ];
  for (const [label, at, expected] of rows) {
    it(`${label} (${at}) → ${expected}`, () => {
      assert.equal(view(activeSchedule(weekdayParis, ms(at))), expected);
    });
  }

  it('a later entry wins a tie at the same instant, for the active entry and for the next one', () => {
    const spec: ScheduleSpec = {
      timezone: 'Europe/Paris',
      entries: [
        { cron: '0 7 * * *', preset: 'comfort' },
        { cron: '0 7 * * *', setpoint_c: 19.5 },
      ],
    };
    assert.equal(view(activeSchedule(spec, ms('2026-01-05T12:00:00Z'))), '19.5C since 2026-01-05T06:00:00.000Z → 19.5C@2026-01-06T06:00:00.000Z');
  });

  it('an entry with a plain setpoint reports it, with no preset', () => {
    const spec: ScheduleSpec = { timezone: 'Europe/Paris', entries: [{ cron: '0 7 * * *', setpoint_c: 20.5 }] };
    const a = activeSchedule(spec, ms('2026-01-05T12:00:00Z'));
    assert.deepEqual(a, {
      preset: null,
      setpointC: 20.5,
      sinceWallMs: ms('2026-01-05T06:00:00Z'),
      nextWallMs: ms('2026-01-06T06:00:00Z'),
      next: { preset: null, setpointC: 20.5 },
    });
  });

  it('no entries → null', () => {
    assert.equal(activeSchedule({ timezone: 'Europe/Paris', entries: [] }, ms('2026-01-05T12:00:00Z')), null);
    assert.equal(createScheduleCursor({ timezone: 'Europe/Paris', entries: [] }).at(ms('2026-01-05T12:00:00Z')), null);
  });

  it('nothing fired within the 14-day look-back → null; a firing exactly 14 days ago still counts', () => {
    const yearly: ScheduleSpec = { timezone: 'UTC', entries: [{ cron: '0 0 1 1 *', preset: 'frost' }] };
    const fired = ms('2026-01-01T00:00:00Z');
    assert.equal(view(activeSchedule(yearly, fired + SCHEDULE_LOOKBACK_MS)), 'frost since 2026-01-01T00:00:00.000Z → none');
    assert.equal(activeSchedule(yearly, fired + SCHEDULE_LOOKBACK_MS + 1), null);
    assert.equal(activeSchedule(yearly, ms('2025-12-31T23:59:59Z')), null, 'the previous one was a year ago');
  });

  it('the next firing is null beyond the 14-day look-ahead; one exactly 14 days ahead is seen', () => {
    const spec: ScheduleSpec = {
      timezone: 'UTC',
      entries: [
        { cron: '0 0 15 12 *', preset: 'eco' },
        { cron: '0 0 1 1 *', preset: 'frost' },
      ],
    };
    const newYear = ms('2027-01-01T00:00:00Z');
    assert.equal(view(activeSchedule(spec, newYear - SCHEDULE_LOOKAHEAD_MS)), 'eco since 2026-12-15T00:00:00.000Z → frost@2027-01-01T00:00:00.000Z');
    assert.equal(view(activeSchedule(spec, newYear - SCHEDULE_LOOKAHEAD_MS - 1)), 'eco since 2026-12-15T00:00:00.000Z → none');
  });

  it('a bad cron expression or time zone throws AgentError invalid_schedule', () => {
    const bad: ScheduleSpec[] = [
      { timezone: 'Europe/Paris', entries: [{ cron: 'not a cron', preset: 'eco' }] },
      { timezone: 'Europe/Paris', entries: [{ cron: '0 25 * * *', preset: 'eco' }] },
      { timezone: 'Mars/Olympus_Mons', entries: [{ cron: '0 7 * * *', preset: 'eco' }] },
    ];
    for (const spec of bad) {
      assert.throws(() => activeSchedule(spec, 0), (e: unknown) => e instanceof AgentError && e.code === 'invalid_schedule');
      assert.throws(() => createScheduleCursor(spec), (e: unknown) => e instanceof AgentError && e.code === 'invalid_schedule');
    }
  });
});

describe('schedule: daylight saving time in Europe/Paris', () => {
  const nightly: ScheduleSpec = {
    timezone: 'Europe/Paris',
    entries: [
      { cron: '30 2 * * *', preset: 'boost' },
      { cron: '0 22 * * *', preset: 'eco' },
    ],
  };

  it('weekday schedule across spring forward (2026-03-29): 07:00 is 06:00Z before, 05:00Z after', () => {
    const t = scheduleTransitionsBetween(weekdayParis, ms('2026-03-27T00:00:00Z'), ms('2026-03-31T00:00:00Z'));
    assert.deepEqual(
      t.map((x) => `${x.preset}@${iso(x.wallMs)}`),
      ['comfort@2026-03-27T06:00:00.000Z', 'eco@2026-03-27T18:00:00.000Z', 'comfort@2026-03-30T05:00:00.000Z', 'eco@2026-03-30T17:00:00.000Z'],
    );
  });

  it('weekday schedule across fall back (2026-10-25): 07:00 is 05:00Z before, 06:00Z after', () => {
    const t = scheduleTransitionsBetween(weekdayParis, ms('2026-10-23T00:00:00Z'), ms('2026-10-27T00:00:00Z'));
    assert.deepEqual(
      t.map((x) => `${x.preset}@${iso(x.wallMs)}`),
      ['comfort@2026-10-23T05:00:00.000Z', 'eco@2026-10-23T17:00:00.000Z', 'comfort@2026-10-26T06:00:00.000Z', 'eco@2026-10-26T18:00:00.000Z'],
    );
  });

  it('spring forward: 02:30 does not exist on 2026-03-29 and fires at 03:30 CEST (01:30Z), once', () => {
    const t = scheduleTransitionsBetween(nightly, ms('2026-03-28T00:00:00Z'), ms('2026-03-31T00:00:00Z'));
    assert.deepEqual(
      t.map((x) => `${x.preset}@${iso(x.wallMs)}`),
      [
        'boost@2026-03-28T01:30:00.000Z', // 02:30 CET
        'eco@2026-03-28T21:00:00.000Z', // 22:00 CET
        'boost@2026-03-29T01:30:00.000Z', // 02:30 does not exist: 03:30 CEST
        'eco@2026-03-29T20:00:00.000Z', // 22:00 CEST
        'boost@2026-03-30T00:30:00.000Z', // 02:30 CEST
        'eco@2026-03-30T20:00:00.000Z',
      ],
    );
  });

  it('fall back: 02:30 happens twice on 2026-10-25 and fires once, at the first (00:30Z, CEST)', () => {
    const t = scheduleTransitionsBetween(nightly, ms('2026-10-24T00:00:00Z'), ms('2026-10-27T00:00:00Z'));
    assert.deepEqual(
      t.map((x) => `${x.preset}@${iso(x.wallMs)}`),
      [
        'boost@2026-10-24T00:30:00.000Z', // 02:30 CEST
        'eco@2026-10-24T20:00:00.000Z', // 22:00 CEST
        'boost@2026-10-25T00:30:00.000Z', // 02:30 CEST, the first of two; not again at 01:30Z
        'eco@2026-10-25T21:00:00.000Z', // 22:00 CET
        'boost@2026-10-26T01:30:00.000Z', // 02:30 CET
        'eco@2026-10-26T21:00:00.000Z',
      ],
    );
  });

  it('other DST edges: 02:00 on the spring day is 03:00 CEST; an hourly entry skips the repeated 02:00 CET', () => {
    const two: ScheduleSpec = { timezone: 'Europe/Paris', entries: [{ cron: '0 2 * * *', preset: 'eco' }] };
    assert.deepEqual(
      scheduleTransitionsBetween(two, ms('2026-03-28T12:00:00Z'), ms('2026-03-30T12:00:00Z')).map((x) => iso(x.wallMs)),
      ['2026-03-29T01:00:00.000Z', '2026-03-30T00:00:00.000Z'],
    );
    const hourly: ScheduleSpec = { timezone: 'Europe/Paris', entries: [{ cron: '0 * * * *', preset: 'eco' }] };
    assert.deepEqual(
      scheduleTransitionsBetween(hourly, ms('2026-10-24T23:00:00Z'), ms('2026-10-25T03:00:00Z')).map((x) => iso(x.wallMs)),
      ['2026-10-24T23:00:00.000Z', '2026-10-25T00:00:00.000Z', '2026-10-25T02:00:00.000Z'],
    );
    const halfHourly: ScheduleSpec = { timezone: 'Europe/Paris', entries: [{ cron: '*/30 * * * *', preset: 'eco' }] };
    assert.deepEqual(
      scheduleTransitionsBetween(halfHourly, ms('2026-03-29T00:00:00Z'), ms('2026-03-29T02:00:00Z')).map((x) => iso(x.wallMs)),
      ['2026-03-29T00:00:00.000Z', '2026-03-29T00:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-29T01:30:00.000Z'],
    );
  });

  const active: Array<[string, string, string]> = [
    ['spring, 03:15 CEST, before the shifted 02:30', '2026-03-29T01:15:00.000Z', 'eco since 2026-03-28T21:00:00.000Z → boost@2026-03-29T01:30:00.000Z'],
    ['spring, 03:30 CEST, the shifted 02:30', '2026-03-29T01:30:00.000Z', 'boost since 2026-03-29T01:30:00.000Z → eco@2026-03-29T20:00:00.000Z'],
    ['spring, 03:45 CEST', '2026-03-29T01:45:00.000Z', 'boost since 2026-03-29T01:30:00.000Z → eco@2026-03-29T20:00:00.000Z'],
    ['autumn, 02:15 CEST (first pass)', '2026-10-25T00:15:00.000Z', 'eco since 2026-10-24T20:00:00.000Z → boost@2026-10-25T00:30:00.000Z'],
    ['autumn, 02:15 CET (second pass)', '2026-10-25T01:15:00.000Z', 'boost since 2026-10-25T00:30:00.000Z → eco@2026-10-25T21:00:00.000Z'],
    ['autumn, 02:45 CET (second pass)', '2026-10-25T01:45:00.000Z', 'boost since 2026-10-25T00:30:00.000Z → eco@2026-10-25T21:00:00.000Z'],
  ];
  for (const [label, at, expected] of active) {
    it(`active at ${label} (${at}) → ${expected}`, () => {
      assert.equal(view(activeSchedule(nightly, ms(at))), expected);
    });
  }
});

describe('schedule: America/New_York (UTC−5/−4, local day ≠ UTC day)', () => {
  const ny: ScheduleSpec = {
    timezone: 'America/New_York',
    entries: [
      { cron: '0 6 * * 1-5', preset: 'comfort' },
      { cron: '0 22 * * *', preset: 'eco' },
    ],
  };
  const rows: Array<[string, string, string]> = [
    ['Mon 05:59 EST', '2026-01-05T10:59:00.000Z', 'eco since 2026-01-05T03:00:00.000Z → comfort@2026-01-05T11:00:00.000Z'],
    ['Mon 21:00 EST (Tue in UTC)', '2026-01-06T02:00:00.000Z', 'comfort since 2026-01-05T11:00:00.000Z → eco@2026-01-06T03:00:00.000Z'],
    ['Mon 23:00 EST', '2026-01-06T04:00:00.000Z', 'eco since 2026-01-06T03:00:00.000Z → comfort@2026-01-06T11:00:00.000Z'],
    ['Sat 07:00 EST', '2026-01-10T12:00:00.000Z', 'eco since 2026-01-10T03:00:00.000Z → eco@2026-01-11T03:00:00.000Z'],
    ['Sun 2026-03-08 12:00 EDT (spring forward that night)', '2026-03-08T16:00:00.000Z', 'eco since 2026-03-08T03:00:00.000Z → eco@2026-03-09T02:00:00.000Z'],
    ['Mon 2026-03-09 05:00 EDT', '2026-03-09T09:00:00.000Z', 'eco since 2026-03-09T02:00:00.000Z → comfort@2026-03-09T10:00:00.000Z'],
  ];
  for (const [label, at, expected] of rows) {
    it(`${label} (${at}) → ${expected}`, () => {
      assert.equal(view(activeSchedule(ny, ms(at))), expected);
    });
  }
});

describe('schedule: cursor and transitions agree with activeSchedule', () => {
  const specs: Array<[string, ScheduleSpec, string]> = [
    ['weekday Paris, spring-forward week', weekdayParis, '2026-03-23T00:00:00Z'],
    [
      'nightly Paris with a setpoint entry, fall-back week',
      {
        timezone: 'Europe/Paris',
        entries: [
          { cron: '30 2 * * *', preset: 'boost' },
          { cron: '0 22 * * *', setpoint_c: 18.5 },
          { cron: '0 7 * * 6,0', preset: 'comfort' },
        ],
      },
      '2026-10-19T00:00:00Z',
    ],
    ['weekday New York, spring-forward week', { timezone: 'America/New_York', entries: weekdayParis.entries }, '2026-03-05T00:00:00Z'],
  ];

  for (const [label, spec, start] of specs) {
    it(`${label}: the cursor equals activeSchedule at every 10-minute step of the week`, () => {
      const cursor = createScheduleCursor(spec);
      const t0 = ms(start);
      for (let t = t0; t <= t0 + 7 * DAY; t += 10 * 60_000) {
        assert.deepEqual(cursor.at(t), activeSchedule(spec, t), `at ${iso(t)}`);
      }
    });
  }

  it('the cursor stays right when asked out of order (backwards, jumps past the look-back)', () => {
    const cursor = createScheduleCursor(weekdayParis);
    const times = ['2026-01-07T12:00:00Z', '2026-01-05T05:00:00Z', '2026-01-05T06:00:00Z', '2026-03-01T00:00:00Z', '2026-01-07T12:00:00Z'].map(ms);
    for (const t of times) assert.deepEqual(cursor.at(t), activeSchedule(weekdayParis, t), `at ${iso(t)}`);
    const once: ScheduleSpec = { timezone: 'UTC', entries: [{ cron: '0 0 1 1 *', preset: 'frost' }] };
    const c2 = createScheduleCursor(once);
    const fired = ms('2026-01-01T00:00:00Z');
    for (const t of [fired + DAY, fired + SCHEDULE_LOOKBACK_MS, fired + SCHEDULE_LOOKBACK_MS + 1, fired - 1, fired]) {
      assert.deepEqual(c2.at(t), activeSchedule(once, t), `at ${iso(t)}`);
    }
    // Active since Jan 1, next on Jan 20: the entry is forgotten after Jan 15 00:00, and before
    // Jan 6 00:00 the next firing is beyond the look-ahead.
    const twice: ScheduleSpec = { timezone: 'UTC', entries: [{ cron: '0 0 1 1 *', preset: 'frost' }, { cron: '0 0 20 1 *', preset: 'eco' }] };
    const c3 = createScheduleCursor(twice);
    const rows: Array<[string, string]> = [
      ['2026-01-10T00:00:00.000Z', 'frost since 2026-01-01T00:00:00.000Z → eco@2026-01-20T00:00:00.000Z'],
      ['2026-01-05T23:59:59.999Z', 'frost since 2026-01-01T00:00:00.000Z → none'],
      ['2026-01-10T00:00:00.000Z', 'frost since 2026-01-01T00:00:00.000Z → eco@2026-01-20T00:00:00.000Z'],
      ['2026-01-15T00:00:00.000Z', 'frost since 2026-01-01T00:00:00.000Z → eco@2026-01-20T00:00:00.000Z'],
      ['2026-01-15T00:00:00.001Z', 'null'],
      ['2026-01-19T23:59:59.999Z', 'null'],
      ['2026-01-20T00:00:00.000Z', 'eco since 2026-01-20T00:00:00.000Z → none'],
    ];
    for (const [at, expected] of rows) {
      assert.equal(view(activeSchedule(twice, ms(at))), expected, `activeSchedule at ${at}`);
      assert.equal(view(c3.at(ms(at))), expected, `cursor at ${at}`);
    }
  });

  it('since/next agree with the listed transitions, hour by hour over both DST weeks', () => {
    const spec: ScheduleSpec = {
      timezone: 'Europe/Paris',
      entries: [
        { cron: '30 2 * * *', preset: 'boost' },
        { cron: '0 7 * * 1-5', preset: 'comfort' },
        { cron: '0 22 * * *', preset: 'eco' },
      ],
    };
    for (const start of ['2026-03-26T00:00:00Z', '2026-10-22T00:00:00Z']) {
      const t0 = ms(start);
      const all = scheduleTransitionsBetween(spec, t0 - 3 * DAY, t0 + 8 * DAY);
      for (let t = t0; t <= t0 + 5 * DAY; t += HOUR / 4) {
        const a = activeSchedule(spec, t);
        const last = all.filter((x) => x.wallMs <= t).at(-1)!;
        const next = all.find((x) => x.wallMs > t)!;
        assert.equal(a?.sinceWallMs, last.wallMs, `since at ${iso(t)}`);
        assert.equal(a?.preset, last.preset, `preset at ${iso(t)}`);
        assert.equal(a?.nextWallMs, next.wallMs, `next at ${iso(t)}`);
        assert.equal(a?.next?.preset, next.preset, `next preset at ${iso(t)}`);
      }
    }
  });

  it('transitions: [from, to) half-open, entries firing together give one transition (later entry)', () => {
    const spec: ScheduleSpec = {
      timezone: 'UTC',
      entries: [
        { cron: '0 7 * * *', preset: 'comfort' },
        { cron: '0 7 * * 1', preset: 'boost' },
      ],
    };
    assert.deepEqual(scheduleTransitionsBetween(spec, ms('2026-01-05T07:00:00Z'), ms('2026-01-07T07:00:00Z')), [
      { wallMs: ms('2026-01-05T07:00:00Z'), preset: 'boost', setpointC: null },
      { wallMs: ms('2026-01-06T07:00:00Z'), preset: 'comfort', setpointC: null },
    ]);
    assert.deepEqual(scheduleTransitionsBetween(spec, ms('2026-01-06T00:00:00Z'), ms('2026-01-06T00:00:00Z')), []);
  });
});
