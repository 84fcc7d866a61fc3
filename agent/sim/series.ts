/**
 * Time series of a scenario, given as `[hour, value]` points (hours since scenario start).
 * - Linear series (outdoor_c): linear between points, held flat before the first and after the last.
 * - Held series (base_heating_w, gains_w, setpoint_c, occupied): each value holds from its hour
 *   until the next point; before the first point the first value applies.
 * Points must have increasing hours (the scenario schema checks it).
 *
 * The returned functions are fast for the simulator's monotonic access (a cursor moves forward)
 * and still correct for any access order (the cursor rewinds when asked for an earlier hour).
 */

export type SeriesPoints<T> = ReadonlyArray<readonly [number, T]>;

/** A function of hour that remembers where it was, for O(1) monotonic evaluation. */
export type SeriesAt<T> = (hour: number) => T;

function segmentIndex<T>(points: SeriesPoints<T>, hour: number, from: number): number {
  // Largest i with points[i][0] <= hour (or 0 if hour is before the first point).
  let i = from;
  if (i >= points.length || (i > 0 && points[i]![0] > hour)) i = 0;
  while (i + 1 < points.length && points[i + 1]![0] <= hour) i += 1;
  return i;
}

/** Piecewise-linear interpolation between `[hour, value]` points. */
export function linearSeries(points: SeriesPoints<number>): SeriesAt<number> {
  if (points.length === 0) throw new RangeError('a series needs at least one point');
  let cursor = 0;
  return (hour: number): number => {
    cursor = segmentIndex(points, hour, cursor);
    const [h0, v0] = points[cursor]!;
    if (hour <= h0 || cursor + 1 >= points.length) return v0;
    const [h1, v1] = points[cursor + 1]!;
    return v0 + ((v1 - v0) * (hour - h0)) / (h1 - h0);
  };
}

/** Step-held values: each point's value holds from its hour until the next point. */
export function heldSeries<T>(points: SeriesPoints<T>): SeriesAt<T> {
  if (points.length === 0) throw new RangeError('a series needs at least one point');
  let cursor = 0;
  return (hour: number): T => {
    cursor = segmentIndex(points, hour, cursor);
    return points[cursor]![1];
  };
}

/** One-shot evaluation (no cursor): linear. */
export function linearAt(points: SeriesPoints<number>, hour: number): number {
  return linearSeries(points)(hour);
}

/** One-shot evaluation (no cursor): held. */
export function heldAt<T>(points: SeriesPoints<T>, hour: number): T {
  return heldSeries(points)(hour);
}
