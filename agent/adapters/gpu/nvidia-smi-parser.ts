/**
 * Pure parsing of what `nvidia-smi` prints: `--query-gpu=… --format=csv,noheader,nounits` lines
 * (one-shot and `-lms` stream alike), the outcome of `-pl`, and the card's limits derived from a
 * sample. No I/O here: the adapters hand in text and exit codes.
 *
 * Fields can be `[N/A]`, `[Not Supported]`, `[Unknown Error]`, `[Insufficient Permissions]`,
 * `[GPU requires reset]`, … (the bracketed words vary with the driver): every such value becomes
 * null, and the reason is kept in `unavailable`.
 */
import type { CardLimits, GpuTelemetry } from '../../core/types.js';

/** Everything the agent asks the card once (start, doctor, before a model load). */
export const NVIDIA_QUERY_FIELDS = [
  'index',
  'uuid',
  'name',
  'driver_version',
  'pci.bus_id',
  'persistence_mode',
  'power.management',
  'power.draw',
  'power.limit',
  'enforced.power.limit',
  'power.min_limit',
  'power.max_limit',
  'power.default_limit',
  'temperature.gpu',
  'utilization.gpu',
  'memory.used',
  'memory.total',
  'clocks.sm',
  'pstate',
] as const;

/** What the long-lived `-lms` stream asks on every period (the changing values only). */
export const NVIDIA_STREAM_FIELDS = [
  'index',
  'uuid',
  'power.draw',
  'power.limit',
  'enforced.power.limit',
  'temperature.gpu',
  'utilization.gpu',
  'memory.used',
  'clocks.sm',
  'pstate',
] as const;

export type NvidiaField = (typeof NVIDIA_QUERY_FIELDS)[number];

/** Why a field has no value: the bracketed word nvidia-smi printed (or `empty`). */
export type Unavailable = 'N/A' | 'Not Supported' | 'Unknown Error' | 'Insufficient Permissions' | 'GPU requires reset' | 'empty' | 'invalid' | string;

/** One parsed line: every field asked is present (null when the card gave no value). */
export interface NvidiaSample {
  index: number | null;
  uuid: string | null;
  name: string | null;
  driver: string | null;
  pciBusId: string | null;
  persistenceMode: 'Enabled' | 'Disabled' | null;
  /** `power.management`: Enabled/Disabled, or null when the card does not say ([N/A], [Not Supported]). */
  powerManagement: 'Enabled' | 'Disabled' | null;
  powerDrawW: number | null;
  /** The software power limit (what `-pl` sets). */
  powerLimitW: number | null;
  /** The limit the driver enforces after every limiter (≤ powerLimitW). */
  enforcedLimitW: number | null;
  minLimitW: number | null;
  maxLimitW: number | null;
  defaultLimitW: number | null;
  tempC: number | null;
  utilPct: number | null;
  memUsedMib: number | null;
  memTotalMib: number | null;
  smClockMhz: number | null;
  pstate: string | null;
  /** Fields asked whose value was missing, with the reason nvidia-smi gave. */
  unavailable: Partial<Record<NvidiaField, Unavailable>>;
}

export type ParseLineResult = { ok: true; sample: NvidiaSample } | { ok: false; reason: string };

const EMPTY_SAMPLE: Omit<NvidiaSample, 'unavailable'> = {
  index: null,
  uuid: null,
  name: null,
  driver: null,
  pciBusId: null,
  persistenceMode: null,
  powerManagement: null,
  powerDrawW: null,
  powerLimitW: null,
  enforcedLimitW: null,
  minLimitW: null,
  maxLimitW: null,
  defaultLimitW: null,
  tempC: null,
  utilPct: null,
  memUsedMib: null,
  memTotalMib: null,
  smClockMhz: null,
  pstate: null,
};

type NumericKey = 'powerDrawW' | 'powerLimitW' | 'enforcedLimitW' | 'minLimitW' | 'maxLimitW' | 'defaultLimitW' | 'tempC' | 'utilPct' | 'memUsedMib' | 'memTotalMib' | 'smClockMhz';

const NUMERIC: Partial<Record<NvidiaField, NumericKey>> = {
  'power.draw': 'powerDrawW',
  'power.limit': 'powerLimitW',
  'enforced.power.limit': 'enforcedLimitW',
  'power.min_limit': 'minLimitW',
  'power.max_limit': 'maxLimitW',
  'power.default_limit': 'defaultLimitW',
  'temperature.gpu': 'tempC',
  'utilization.gpu': 'utilPct',
  'memory.used': 'memUsedMib',
  'memory.total': 'memTotalMib',
  'clocks.sm': 'smClockMhz',
};

/** A number as nvidia-smi prints it, with or without its unit ("250.00", "250.00 W", "24576 MiB", "97 %"). */
const NUMBER_RE = /^(-?\d+(?:\.\d+)?)(?:\s*(?:W|MiB|%|MHz|C))?$/;
const BRACKET_RE = /^\[(.+)\]$/;

/** A field's text → its value, or why it has none. */
export function fieldValue(raw: string): { value: string } | { unavailable: Unavailable } {
  const t = raw.trim();
  if (t === '') return { unavailable: 'empty' };
  const b = BRACKET_RE.exec(t);
  if (b) return { unavailable: b[1]!.trim() };
  // Some drivers print N/A without brackets in some fields.
  if (t === 'N/A' || t === 'Not Supported') return { unavailable: t };
  return { value: t };
}

/** Parses one CSV line whose columns are `fields`, in that order. */
export function parseCsvLine(line: string, fields: readonly NvidiaField[]): ParseLineResult {
  const text = line.replace(/\r$/, '');
  if (text.trim() === '') return { ok: false, reason: 'empty line' };
  // GPU names and the other fields asked never contain a comma.
  const cols = text.split(',');
  if (cols.length !== fields.length) {
    return { ok: false, reason: `expected ${fields.length} columns, got ${cols.length}: ${text.slice(0, 120)}` };
  }
  const sample: NvidiaSample = { ...EMPTY_SAMPLE, unavailable: {} };
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!;
    const v = fieldValue(cols[i]!);
    if ('unavailable' in v) {
      sample.unavailable[field] = v.unavailable;
      continue;
    }
    const num = NUMERIC[field];
    if (num !== undefined) {
      const m = NUMBER_RE.exec(v.value);
      if (!m) {
        sample.unavailable[field] = 'invalid';
        continue;
      }
      sample[num] = Number(m[1]);
      continue;
    }
    switch (field) {
      case 'index': {
        const n = Number(v.value);
        if (Number.isInteger(n) && n >= 0) sample.index = n;
        else sample.unavailable[field] = 'invalid';
        break;
      }
      case 'uuid':
        sample.uuid = v.value;
        break;
      case 'name':
        sample.name = v.value;
        break;
      case 'driver_version':
        sample.driver = v.value;
        break;
      case 'pci.bus_id':
        sample.pciBusId = v.value;
        break;
      case 'persistence_mode':
        sample.persistenceMode = enabledDisabled(v.value);
        if (sample.persistenceMode === null) sample.unavailable[field] = 'invalid';
        break;
      case 'power.management':
        sample.powerManagement = enabledDisabled(v.value);
        if (sample.powerManagement === null) sample.unavailable[field] = 'invalid';
        break;
      case 'pstate':
        if (/^P\d{1,2}$/.test(v.value)) sample.pstate = v.value;
        else sample.unavailable[field] = 'invalid';
        break;
      default:
        break;
    }
  }
  return { ok: true, sample };
}

function enabledDisabled(v: string): 'Enabled' | 'Disabled' | null {
  if (/^enabled$/i.test(v)) return 'Enabled';
  if (/^disabled$/i.test(v)) return 'Disabled';
  return null;
}

/** Every parsable line of an output (one per GPU for a one-shot query), and the lines refused. */
export function parseCsv(text: string, fields: readonly NvidiaField[]): { samples: NvidiaSample[]; errors: string[] } {
  const samples: NvidiaSample[] = [];
  const errors: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const r = parseCsvLine(line, fields);
    if (r.ok) samples.push(r.sample);
    else errors.push(r.reason);
  }
  return { samples, errors };
}

/** The `--query-gpu` argument for these fields. */
export function queryArgs(fields: readonly NvidiaField[]): string[] {
  return [`--query-gpu=${fields.join(',')}`, '--format=csv,noheader,nounits'];
}

/** Telemetry for the core from a sample received at `atMonoS`. */
export function telemetryFrom(s: NvidiaSample, atMonoS: number): GpuTelemetry {
  return {
    powerW: s.powerDrawW,
    tempC: s.tempC,
    utilPct: s.utilPct,
    memUsedMib: s.memUsedMib,
    pstate: s.pstate,
    // What was set with -pl (a driver re-initialisation shows here as the default); the enforced
    // limit, which can only be lower, when the card does not say.
    limitW: s.powerLimitW ?? s.enforcedLimitW,
    atMonoS,
  };
}

/** Why the card cannot take a power limit, or null when it can. */
export type PowerManagementProblem = 'power_management_unsupported' | 'power_management_disabled' | 'power_range_unknown' | 'power_range_implausible';

export interface DerivedLimits {
  limits: CardLimits;
  /** The range usable for writes: min rounded up, max rounded down (integers). */
  range: { minW: number; maxW: number } | null;
  problem: PowerManagementProblem | null;
}

/** Largest limit that makes sense for one card (W); guards against garbage. */
const MAX_PLAUSIBLE_W = 5000;

/**
 * The card's limits from a one-shot sample. Without power management (a `[N/A]`/`[Not Supported]`
 * range or `power.management` Disabled) the limits collapse to the one value known — the
 * enforced limit, the default, or `fallbackW` — with `powerManagement: false`: the decision then
 * cycles the card on and off at whatever it draws.
 */
export function deriveLimits(s: NvidiaSample, fallbackW: number): DerivedLimits {
  const min = s.minLimitW;
  const max = s.maxLimitW;
  let problem: PowerManagementProblem | null = null;
  if (s.powerManagement === 'Disabled') problem = 'power_management_disabled';
  else if (min === null || max === null) {
    // A range the card does not report ([N/A], [Not Supported]) means no power management; any
    // other reason (an error, a field not asked) leaves it unknown.
    const why = s.unavailable['power.min_limit'] ?? s.unavailable['power.max_limit'];
    problem = why === 'N/A' || why === 'Not Supported' ? 'power_management_unsupported' : 'power_range_unknown';
  } else if (!(min > 0 && max >= min && max <= MAX_PLAUSIBLE_W)) problem = 'power_range_implausible';

  if (problem === null && min !== null && max !== null) {
    const minW = Math.ceil(min);
    const maxW = Math.max(minW, Math.floor(max));
    const def = s.defaultLimitW ?? maxW;
    return { limits: { minLimitW: minW, maxLimitW: maxW, defaultLimitW: def, powerManagement: true }, range: { minW, maxW }, problem: null };
  }
  const only = s.powerLimitW ?? s.enforcedLimitW ?? s.defaultLimitW ?? fallbackW;
  return {
    limits: { minLimitW: only, maxLimitW: only, defaultLimitW: s.defaultLimitW ?? only, powerManagement: false },
    range: null,
    problem,
  };
}

/** Clamp to the writable range and round to whole watts (what `-pl` and the helper take). */
export function clampToRange(watts: number, range: { minW: number; maxW: number }): number {
  const w = Math.round(watts);
  return Math.min(range.maxW, Math.max(range.minW, w));
}

/** Stable codes for the ways `nvidia-smi -pl` can end. */
export type PlOutcome =
  | { ok: true }
  | {
      ok: false;
      code:
        | 'power_limit_out_of_range'
        | 'power_management_unsupported'
        | 'power_limit_permission_denied'
        | 'gpu_not_found'
        | 'gpu_lost'
        | 'nvidia_driver_not_loaded'
        | 'nvidia_smi_failed';
      message: string;
    };

/**
 * Classifies the end of `nvidia-smi -i ID -pl W` (exit status per nvidia-smi(1): 2 invalid
 * argument, 3 not available on the device, 4 no permission, 6 not found, 9 driver not loaded,
 * 15 fallen off the bus, 255 other). Some drivers print "not supported … Treating as warning and
 * moving on" with status 0: that is not a success. Exit 0 is still only a success once the limit
 * is read back (the adapter does that).
 */
export function classifyPl(code: number | null, stdout: string, stderr: string): PlOutcome {
  const text = `${stdout}\n${stderr}`.trim();
  const first = oneLine(text);
  if (/not supported/i.test(text)) return { ok: false, code: 'power_management_unsupported', message: first };
  if (/not a valid power limit|should be between/i.test(text)) return { ok: false, code: 'power_limit_out_of_range', message: first };
  if (/insufficient permissions|permission|root/i.test(text) && code !== 0) return { ok: false, code: 'power_limit_permission_denied', message: first };
  switch (code) {
    case 0:
      return { ok: true };
    case 2:
      return { ok: false, code: 'power_limit_out_of_range', message: first || 'invalid argument' };
    case 3:
      return { ok: false, code: 'power_management_unsupported', message: first || 'not available on this GPU' };
    case 4:
      return { ok: false, code: 'power_limit_permission_denied', message: first || 'insufficient permissions (needs root)' };
    case 6:
      return { ok: false, code: 'gpu_not_found', message: first || 'no such GPU' };
    case 9:
      return { ok: false, code: 'nvidia_driver_not_loaded', message: first || 'NVIDIA driver not loaded' };
    case 15:
      return { ok: false, code: 'gpu_lost', message: first || 'the GPU has fallen off the bus' };
    default:
      return { ok: false, code: 'nvidia_smi_failed', message: first || `nvidia-smi exited with ${String(code)}` };
  }
}

/** Classifies a failed query (`--query-gpu`) by its exit status and text. */
export function classifyQueryFailure(code: number | null, text: string): { code: string; message: string } {
  const message = oneLine(text) || `nvidia-smi exited with ${String(code)}`;
  if (/no devices were found/i.test(text) || code === 6) return { code: 'gpu_not_found', message };
  if (/fallen off the bus|unable to determine the device handle/i.test(text) || code === 15) return { code: 'gpu_lost', message };
  if (/driver/i.test(text) && /not loaded|couldn't communicate|failed because/i.test(text)) return { code: 'nvidia_driver_not_loaded', message };
  if (code === 9) return { code: 'nvidia_driver_not_loaded', message };
  if (/is not a valid field/i.test(text)) return { code: 'nvidia_smi_field_unknown', message };
  return { code: 'nvidia_smi_failed', message };
}

function oneLine(text: string): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .join(' ')
    .slice(0, 240);
}
