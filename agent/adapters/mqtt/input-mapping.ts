/**
 * One MQTT payload → one input value, following a ResolvedInput. Pure, and total: it never
 * throws, whatever the payload; a payload that gives no usable value is `ok: false` with a
 * stable `code` and a short human `reason` (payload excerpts in reasons are truncated).
 *
 * Rules:
 * - Payloads over 64 KiB → `too_large` (not decoded). Bytes are read as UTF-8 (invalid bytes
 *   become U+FFFD, so garbage fails the later checks); a leading BOM is dropped. Empty or
 *   whitespace-only → `empty` (an empty retained message clears a topic: no value).
 * - format `json`: the payload must be JSON (`not_json`). `number` / `text`: the trimmed text.
 *   `auto`: with a path (or timestamp_path), JSON; without, JSON when it parses as an object,
 *   array, number or string, else the text (so `ON`, `true`, `21.5` and `"21.5"` all work).
 * - Numbers: JSON numbers, or strings matching `[+-]digits[.digits][e±n]` with a dot decimal
 *   separator only: "21,5", "0x10", "２１", "−3" (U+2212) are `not_a_number`. "NaN", "inf",
 *   "Infinity", 1e400 → `not_finite`. Then `value * scale + offset` (non-finite → `not_finite`).
 * - Booleans: true/false, 1/0 (number or string), and case-insensitive strings
 *   "true"/"false", "on"/"off", "open"/"closed" ("open" = true); then `invert`.
 * - Plausibility (spec "Inputs"): temperatures and setpoint −40…70 °C, wall_power 0…10 000 W,
 *   checked after scale and offset → `implausible` with the value in the reason.
 * - timestamp_path: an ISO 8601 date-time with a zone (Z or ±hh:mm), or epoch seconds / ms
 *   (number or numeric string; values ≥ 1e11 are read as ms) → sourceTimeMs. Configured but
 *   missing → `path_missing`, unreadable → `not_a_number`; both name the timestamp path.
 */
import { Buffer } from 'node:buffer';
import type { InputName } from '../../core/types.js';
import type { ResolvedInput } from './input-presets.js';
import { describeJson, parseInputPath, readInputPath } from './input-path.js';

export type InputErrorCode =
  | 'not_json'
  | 'path_missing'
  | 'not_a_number'
  | 'not_a_boolean'
  | 'not_finite'
  | 'implausible'
  | 'too_large'
  | 'empty';

export type InputResult =
  | { ok: true; value: number | boolean; sourceTimeMs: number | null }
  | { ok: false; code: InputErrorCode; reason: string };

/** Largest payload read (bytes). */
export const MAX_INPUT_PAYLOAD_BYTES = 64 * 1024;

/** Plausible values of each numeric input (inclusive), after scale and offset. */
export const PLAUSIBLE_RANGES: Readonly<Record<Exclude<InputName, 'window_open'>, { min: number; max: number; unit: string }>> = {
  room_temperature: { min: -40, max: 70, unit: '°C' },
  outdoor_temperature: { min: -40, max: 70, unit: '°C' },
  setpoint: { min: -40, max: 70, unit: '°C' },
  wall_power: { min: 0, max: 10_000, unit: 'W' },
};

const NUMBER_RE = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const NON_FINITE_RE = /^[+-]?(?:nan|inf|infinity)$/i;
const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|z|[+-]\d{2}(?::?\d{2})?)$/;
const EPOCH_MS_FROM = 1e11;
const EXCERPT = 40;

type Fail = Extract<InputResult, { ok: false }>;
const fail = (code: InputErrorCode, reason: string): Fail => ({ ok: false, code, reason });

/** Maps one payload to a value of the input. Never throws. */
export function mapInput(spec: ResolvedInput, payload: Buffer | string): InputResult {
  try {
    return mapUnsafe(spec, payload);
  } catch (err) {
    // Defensive only: every path above returns; keep the promise of never throwing.
    return fail('not_json', `payload could not be read: ${err instanceof Error ? err.name : 'error'}`);
  }
}

function mapUnsafe(spec: ResolvedInput, payload: Buffer | string): InputResult {
  const size = typeof payload === 'string'
    ? (payload.length > MAX_INPUT_PAYLOAD_BYTES ? payload.length : Buffer.byteLength(payload, 'utf8'))
    : payload.length;
  if (size > MAX_INPUT_PAYLOAD_BYTES) {
    return fail('too_large', `payload of ${size} bytes is over the ${MAX_INPUT_PAYLOAD_BYTES} byte limit`);
  }
  let text = typeof payload === 'string' ? payload : payload.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim().length === 0) return fail('empty', 'empty payload');

  const segments = spec.path === null ? null : parseInputPath(spec.path);
  if (spec.path !== null && segments === null) return fail('path_missing', `invalid path ${JSON.stringify(spec.path)}`);
  const tsSegments = spec.timestampPath === null ? null : parseInputPath(spec.timestampPath);
  if (spec.timestampPath !== null && tsSegments === null) {
    return fail('path_missing', `invalid timestamp_path ${JSON.stringify(spec.timestampPath)}`);
  }

  // The raw value: a parsed JSON value, or the payload's text.
  let root: unknown;
  if (spec.format === 'number' || spec.format === 'text') {
    root = text.trim();
  } else {
    const parsed = parseJson(text);
    const wantJson = spec.format === 'json' || segments !== null || tsSegments !== null;
    if (wantJson) {
      if (!parsed.ok) return fail('not_json', `payload is not JSON (${parsed.error}): ${excerpt(text)}`);
      root = parsed.value;
    } else if (parsed.ok && (typeof parsed.value === 'number' || typeof parsed.value === 'string' || (parsed.value !== null && typeof parsed.value === 'object'))) {
      root = parsed.value;
    } else {
      root = text.trim();
    }
  }

  let raw: unknown = root;
  const where = spec.path === null ? 'payload' : `value at ${JSON.stringify(spec.path)}`;
  if (segments !== null) {
    const found = readInputPath(root, segments);
    if (!found.found) return fail('path_missing', `path ${JSON.stringify(spec.path)} not in payload: ${found.reason}`);
    raw = found.value;
  }

  let value: number | boolean;
  if (spec.kind === 'boolean') {
    const b = toBoolean(raw, spec.format === 'number');
    if (!b.ok) return fail(b.code, `${where}: ${b.reason}`);
    value = spec.invert ? !b.value : b.value;
  } else {
    const n = toNumber(raw);
    if (!n.ok) return fail(n.code, `${where}: ${n.reason}`);
    const scaled = n.value * spec.scale + spec.offset;
    if (!Number.isFinite(scaled)) {
      return fail('not_finite', `${where}: ${n.value} × ${spec.scale} + ${spec.offset} is not finite`);
    }
    const v = scaled === 0 ? 0 : scaled; // no -0
    const range = (PLAUSIBLE_RANGES as Partial<Record<string, { min: number; max: number; unit: string }>>)[spec.name];
    if (range !== undefined && (v < range.min || v > range.max)) {
      return fail('implausible', `${spec.name} ${v} ${range.unit} is outside the plausible range ${range.min}…${range.max} ${range.unit}`);
    }
    value = v;
  }

  let sourceTimeMs: number | null = null;
  if (tsSegments !== null) {
    const tsName = JSON.stringify(spec.timestampPath);
    const found = readInputPath(root, tsSegments);
    if (!found.found) return fail('path_missing', `timestamp_path ${tsName} not in payload: ${found.reason}`);
    const t = toTimeMs(found.value);
    if (t === null) {
      return fail('not_a_number', `timestamp_path ${tsName}: ${excerptValue(found.value)} is neither an ISO 8601 time with a zone nor epoch seconds/ms`);
    }
    sourceTimeMs = t;
  }
  return { ok: true, value, sourceTimeMs };
}

type Parsed = { ok: true; value: unknown } | { ok: false; error: string };

function parseJson(text: string): Parsed {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    // SyntaxError, or RangeError on absurd nesting.
    return { ok: false, error: err instanceof RangeError ? 'nested too deep' : 'syntax error' };
  }
}

type Conv<T> = { ok: true; value: T } | { ok: false; code: InputErrorCode; reason: string };

function toNumber(raw: unknown): Conv<number> {
  if (typeof raw === 'number') {
    return Number.isFinite(raw) ? { ok: true, value: raw } : { ok: false, code: 'not_finite', reason: `${raw} is not finite` };
  }
  if (typeof raw === 'string') {
    const s = raw.trim();
    if (s.length === 0) return { ok: false, code: 'not_a_number', reason: 'empty string is not a number' };
    if (NON_FINITE_RE.test(s)) return { ok: false, code: 'not_finite', reason: `${excerpt(s)} is not finite` };
    if (!NUMBER_RE.test(s)) {
      const hint = /^[+-]?[0-9]+,[0-9]+$/.test(s) ? ' (only "." is a decimal separator)' : '';
      return { ok: false, code: 'not_a_number', reason: `${excerpt(s)} is not a number${hint}` };
    }
    const n = Number(s);
    return Number.isFinite(n) ? { ok: true, value: n } : { ok: false, code: 'not_finite', reason: `${excerpt(s)} is not finite` };
  }
  return { ok: false, code: 'not_a_number', reason: `${describeJson(raw)} is not a number${raw !== null && typeof raw === 'object' ? ' (set path to the value inside it)' : ''}` };
}

const TRUE_WORDS = new Set(['true', 'on', 'open', '1']);
const FALSE_WORDS = new Set(['false', 'off', 'closed', '0']);

function toBoolean(raw: unknown, numericOnly: boolean): Conv<boolean> {
  if (typeof raw === 'boolean' && !numericOnly) return { ok: true, value: raw };
  if (typeof raw === 'number') {
    if (raw === 1) return { ok: true, value: true };
    if (raw === 0) return { ok: true, value: false };
    return { ok: false, code: 'not_a_boolean', reason: `${raw} is not 1 or 0` };
  }
  if (typeof raw === 'string') {
    const s = raw.trim().toLowerCase();
    if (numericOnly) {
      if (s === '1' || s === '0') return { ok: true, value: s === '1' };
    } else {
      if (TRUE_WORDS.has(s)) return { ok: true, value: true };
      if (FALSE_WORDS.has(s)) return { ok: true, value: false };
    }
    return {
      ok: false,
      code: 'not_a_boolean',
      reason: `${excerpt(raw)} is not ${numericOnly ? '1 or 0' : 'a boolean (true/false, on/off, open/closed, 1/0)'}`,
    };
  }
  return { ok: false, code: 'not_a_boolean', reason: `${describeJson(raw)} is not a boolean` };
}

function toTimeMs(raw: unknown): number | null {
  let n: number | null = null;
  if (typeof raw === 'number') n = raw;
  else if (typeof raw === 'string') {
    const s = raw.trim();
    if (!NUMBER_RE.test(s)) return isoToMs(s);
    n = Number(s);
  }
  if (n === null || !Number.isFinite(n) || n <= 0) return null;
  const ms = n >= EPOCH_MS_FROM ? n : n * 1000;
  // Within what a Date can hold.
  return Number.isFinite(ms) && ms <= 8.64e15 ? Math.round(ms) : null;
}

/** ISO 8601 date-time with a zone → epoch ms, computed without the host's time zone; null if invalid. */
function isoToMs(s: string): number | null {
  const m = ISO_RE.exec(s);
  if (m === null) return null;
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map((x) => Number(x ?? 0)) as [number, number, number, number, number, number];
  const frac = m[7] ?? '';
  const zone = (m[8] as string).toUpperCase();
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth || h > 23 || mi > 59 || sec > 60) return null;
  let offsetMin = 0;
  if (zone !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2) || '0');
    if (oh > 23 || om > 59) return null;
    offsetMin = (zone.startsWith('-') ? -1 : 1) * (oh * 60 + om);
  }
  const ms = Number(frac.padEnd(3, '0').slice(0, 3));
  const t = Date.UTC(y, mo - 1, d, h, mi, sec, ms) - offsetMin * 60_000;
  return Number.isFinite(t) && t > 0 ? t : null;
}

function excerpt(s: string): string {
  return JSON.stringify(s.length > EXCERPT ? `${s.slice(0, EXCERPT)}…` : s);
}

function excerptValue(v: unknown): string {
  if (typeof v === 'string') return excerpt(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return describeJson(v);
}
