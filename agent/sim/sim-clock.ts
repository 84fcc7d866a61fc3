/**
 * The simulated wall clock. Scenario time 0 is Monday 00:00 of a fixed reference week in the
 * schedule's time zone: Monday 2026-01-05. January has no daylight-saving change in any zone
 * (northern zones are on winter time, southern ones on summer time until April), so a scenario
 * of up to ~10 weeks from that Monday sees no DST jump and hour h of the scenario is always the
 * local wall-clock hour (h mod 24) of day ⌊h/24⌋ (Monday = day 0).
 */

export const REFERENCE_MONDAY = { year: 2026, month: 1, day: 5 } as const;

function offsetMs(instantMs: number, timezone: string): number {
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone: timezone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  const f: Record<string, number> = {};
  for (const p of fmt.formatToParts(instantMs)) if (p.type !== 'literal') f[p.type] = Number(p.value);
  return Date.UTC(f.year!, f.month! - 1, f.day!, f.hour!, f.minute!, f.second!) - instantMs;
}

/** Epoch ms of Monday 2026-01-05 00:00 local time in `timezone` (an IANA name; 'UTC' by default). */
export function referenceWeekStartMs(timezone = 'UTC'): number {
  const local = Date.UTC(REFERENCE_MONDAY.year, REFERENCE_MONDAY.month - 1, REFERENCE_MONDAY.day);
  let guess = local - offsetMs(local, timezone);
  guess = local - offsetMs(guess, timezone);
  return guess;
}

/** True when `timezone` is an IANA zone this runtime knows. */
export function isValidTimezone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}
