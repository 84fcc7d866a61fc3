/**
 * The simulated wall clock. Scenario time 0 is Monday 00:00 of a fixed reference week in the
 * schedule's time zone: Monday 2026-01-05. January has no daylight-saving change in any zone
 * (northern zones are on winter time, southern ones on summer time until April), so a scenario
 * of up to ~10 weeks from that Monday sees no DST jump and hour h of the scenario is always the
 * local wall-clock hour (h mod 24) of day ⌊h/24⌋ (Monday = day 0).
 */

import { isTimeZone, localWallToInstant } from '../core/schedule.js';

export const REFERENCE_MONDAY = { year: 2026, month: 1, day: 5 } as const;

/** Epoch ms of Monday 2026-01-05 00:00 local time in `timezone` (an IANA name; 'UTC' by default). */
export function referenceWeekStartMs(timezone = 'UTC'): number {
  return localWallToInstant(timezone, Date.UTC(REFERENCE_MONDAY.year, REFERENCE_MONDAY.month - 1, REFERENCE_MONDAY.day));
}

/** True when `timezone` is an IANA zone this runtime knows. */
export const isValidTimezone = isTimeZone;
