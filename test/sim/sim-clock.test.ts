import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isValidTimezone, referenceWeekStartMs } from '../../agent/sim/sim-clock.js';

test('scenario time 0 is Monday 2026-01-05 00:00 local', () => {
  const cases: Array<[string, string]> = [
    ['UTC', '2026-01-05T00:00:00.000Z'],
    ['Europe/Paris', '2026-01-04T23:00:00.000Z'], // CET, UTC+1
    ['America/New_York', '2026-01-05T05:00:00.000Z'], // EST, UTC−5
    ['Australia/Sydney', '2026-01-04T13:00:00.000Z'], // AEDT, UTC+11
    ['Asia/Kolkata', '2026-01-04T18:30:00.000Z'], // UTC+5:30
  ];
  for (const [tz, iso] of cases) assert.equal(new Date(referenceWeekStartMs(tz)).toISOString(), iso, tz);
  assert.equal(new Date(referenceWeekStartMs()).getUTCDay(), 1, 'a Monday');
});

test('time zone validation', () => {
  assert.equal(isValidTimezone('Europe/Paris'), true);
  assert.equal(isValidTimezone('Mars/Olympus'), false);
});
