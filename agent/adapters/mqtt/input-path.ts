/**
 * Paths into a JSON payload, as written in config `inputs.<name>.path` / `timestamp_path`.
 *
 * Syntax: segments joined by dots (`ENERGY.Power`, `aenergy.total`); a key with dots, spaces or
 * brackets in brackets and quotes (`sensors["temp.room"]`, `['odd key']`, JSON string escapes in
 * double quotes, `\'` and `\\` in single quotes); array indexes as `a.0` or `a[0]`.
 * Only own properties are read (`__proto__`, `constructor`, an array's `length` are never
 * inherited values); an index must be a canonical non-negative integer within the array.
 */

const INDEX_RE = /^(0|[1-9][0-9]*)$/;

/** Splits a path into its segments; null when the syntax is invalid (never throws). */
export function parseInputPath(path: string): string[] | null {
  const n = path.length;
  if (n === 0) return null;
  const segments: string[] = [];
  let i = 0;

  const readName = (): boolean => {
    let j = i;
    while (j < n && path[j] !== '.' && path[j] !== '[' && path[j] !== ']') j++;
    if (j === i || path[j] === ']') return false;
    segments.push(path.slice(i, j));
    i = j;
    return true;
  };

  const readBracket = (): boolean => {
    // path[i] === '['
    const quote = path[i + 1];
    if (quote === '"' || quote === "'") {
      let j = i + 2;
      let key = '';
      while (j < n && path[j] !== quote) {
        if (path[j] === '\\') {
          if (j + 1 >= n) return false;
          if (quote === "'") {
            const esc = path[j + 1];
            if (esc !== "'" && esc !== '\\') return false;
            key += esc;
          }
          j += 2;
          continue;
        }
        if (quote === "'") key += path[j];
        j++;
      }
      if (j >= n || path[j + 1] !== ']') return false;
      if (quote === '"') {
        try {
          const parsed: unknown = JSON.parse(path.slice(i + 1, j + 1));
          if (typeof parsed !== 'string') return false;
          key = parsed;
        } catch {
          return false;
        }
      }
      segments.push(key);
      i = j + 2;
      return true;
    }
    const close = path.indexOf(']', i + 1);
    if (close < 0) return false;
    const index = path.slice(i + 1, close);
    if (!INDEX_RE.test(index)) return false;
    segments.push(index);
    i = close + 1;
    return true;
  };

  if (!(path[0] === '[' ? readBracket() : readName())) return null;
  while (i < n) {
    if (path[i] === '.') {
      i++;
      if (!readName()) return null;
    } else if (path[i] === '[') {
      if (!readBracket()) return null;
    } else {
      return null;
    }
  }
  return segments;
}

export type PathLookup = { found: true; value: unknown } | { found: false; reason: string };

/** Follows `segments` from `root`; says where the walk stopped when a segment is missing. */
export function readInputPath(root: unknown, segments: readonly string[]): PathLookup {
  let current: unknown = root;
  for (let k = 0; k < segments.length; k++) {
    const seg = segments[k] as string;
    if (Array.isArray(current)) {
      if (!INDEX_RE.test(seg) || Number(seg) >= current.length) {
        return { found: false, reason: `no index ${JSON.stringify(seg)} in an array of ${current.length} at segment ${k + 1}` };
      }
      current = current[Number(seg)];
    } else if (current !== null && typeof current === 'object') {
      if (!Object.hasOwn(current, seg)) {
        return { found: false, reason: `no key ${JSON.stringify(seg)} at segment ${k + 1}` };
      }
      current = (current as Record<string, unknown>)[seg];
    } else {
      return { found: false, reason: `segment ${k + 1} (${JSON.stringify(seg)}) reached ${describeJson(current)}, not an object` };
    }
  }
  return { found: true, value: current };
}

/** A short description of a JSON value's type for error reasons. */
export function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}
