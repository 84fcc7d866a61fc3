/**
 * The demo's terminal view: `renderLiveView(model)` draws one screen (fixed width, 80 columns
 * by default) from a heater's retained `state` document (spec/mqtt-api.md) plus what the demo
 * knows (elapsed times, room temperature history, its job client's counts);
 * `renderSummary(stats)` prints the end-of-demo summary. Pure: strings in, string out; ANSI
 * colours only when asked. Lines never exceed the width (colour codes do not count).
 */
import type { ReceivedState } from '../runtime/state-snapshot.js';

/** The fields of the retained `state` JSON this view shows (snake_case, as published). */
export type LiveViewState = ReceivedState;

/** The demo job client's view of the jobs. */
export interface LiveViewJobs {
  done: number;
  active: number;
  rejected: number;
  /** Jobs that ended in `error` (optional). */
  failed?: number;
}

export interface LiveViewModel {
  nodeId: string;
  /** Broker URL as shown (no credentials). */
  broker: string;
  /** Real seconds since the demo started. */
  realElapsedS: number;
  /** Simulated seconds since the demo started. */
  simElapsedS: number;
  /** Simulated wall clock, epoch ms (shown as UTC). */
  simNowMs?: number | null;
  /** Simulated seconds per real second. */
  speed?: number | null;
  /** The heater's `status` topic: true online, false offline, null unknown. */
  online?: boolean | null;
  /** The last retained state received (null: none yet). */
  state: LiveViewState | null;
  /** Room temperatures, oldest first; the last `sparkPoints` are drawn. */
  roomHistoryC: readonly number[];
  /** The demo job client's counts (absent: llm.jobs_done / jobs_active from the state). */
  jobs?: LiveViewJobs | null;
  /** One line at the bottom (last event, key help). */
  message?: string | null;
}

export interface LiveViewOptions {
  /** ANSI colours (default false). */
  color?: boolean;
  /** Columns (default 80). */
  width?: number;
  /** Points of the sparkline (default 40). */
  sparkPoints?: number;
}

export interface DemoSummaryStats {
  nodeId?: string | null;
  realElapsedS: number;
  simElapsedS: number;
  roomTempC: { min: number | null; mean: number | null; max: number | null };
  /** Share of simulated time with the room in [setpoint − 0.5, setpoint + 1.0] K, 0..1 (null: unknown). */
  timeInBand: number | null;
  /** The unit's energy, kWh. */
  energyKwh: number;
  /** Energy while inference ran / energy, 0..1 (null: no energy). */
  usefulShare: number | null;
  tokens: number;
  jobs: LiveViewJobs;
}

const SPARK = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const NA = '—';
const LABEL = 10;

const ESC = '\u001b';
// ANSI SGR codes.
const C = { reset: 0, bold: 1, dim: 2, red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36 } as const;
type Colour = keyof typeof C;

interface Paint {
  (text: string, ...styles: Colour[]): string;
}

function painter(color: boolean): Paint {
  return (text, ...styles) => (color && styles.length > 0 && text !== '' ? `${ESC}[${styles.map((s) => C[s]).join(';')}m${text}${ESC}[0m` : text);
}

const ANSI = new RegExp(`${ESC}\\[[0-9;]*m`, 'g');
const ANSI_AT_START = new RegExp(`^${ESC}\\[[0-9;]*m`);

/** Visible columns of a line (colour codes excluded; one column per code point). */
export function visibleWidth(line: string): number {
  return [...line.replace(ANSI, '')].length;
}

/** Cut a line to `width` visible columns (with … when cut), keeping colour codes balanced. */
export function clipLine(line: string, width: number): string {
  if (visibleWidth(line) <= width) return line;
  let out = '';
  let cols = 0;
  let coloured = false;
  for (let i = 0; i < line.length; ) {
    if (line[i] === ESC) {
      const m = ANSI_AT_START.exec(line.slice(i));
      if (m) {
        out += m[0];
        coloured = m[0] !== `${ESC}[0m`;
        i += m[0].length;
        continue;
      }
    }
    const cp = line.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    if (cols === width - 1) {
      out += '…';
      break;
    }
    out += ch;
    cols += 1;
    i += ch.length;
  }
  return coloured ? `${out}${ESC}[0m` : out;
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

function num(x: number | null | undefined, decimals: number, unit = ''): string {
  return isNum(x) ? `${x.toFixed(decimals)}${unit}` : NA;
}

function int(x: number | null | undefined): string {
  return isNum(x) ? Math.round(x).toLocaleString('en-US') : NA;
}

/** Seconds as [d ]hh:mm:ss. */
export function formatDuration(s: number): string {
  if (!isNum(s) || s < 0) return NA;
  const total = Math.floor(s);
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  const hms = [h, m, sec].map((v) => String(v).padStart(2, '0')).join(':');
  return d > 0 ? `${d}d ${hms}` : hms;
}

/** Values as ▁…█ scaled between their min and max (a span of at least `minSpan`); non-finite → space. */
export function sparkline(values: readonly number[], minSpan = 0.2): string {
  const finite = values.filter(isNum);
  if (finite.length === 0) return ' '.repeat(values.length);
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (hi - lo < minSpan) {
    const mid = (hi + lo) / 2;
    lo = mid - minSpan / 2;
    hi = mid + minSpan / 2;
  }
  return values
    .map((v) => {
      if (!isNum(v)) return ' ';
      const i = Math.round(((v - lo) / (hi - lo)) * (SPARK.length - 1));
      return SPARK[Math.max(0, Math.min(SPARK.length - 1, i))]!;
    })
    .join('');
}

/** [████░░░░] for a share 0..1 (clamped); unknown → all light shade. */
export function bar(share: number | null | undefined, width: number): string {
  const filled = isNum(share) ? Math.round(Math.max(0, Math.min(1, share)) * width) : 0;
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]`;
}

function roomColour(room: number | null | undefined, setpoint: number | null | undefined): Colour[] {
  if (!isNum(room) || !isNum(setpoint)) return [];
  if (room < setpoint - 0.5) return ['blue', 'bold'];
  if (room > setpoint + 1.0) return ['red', 'bold'];
  return ['green', 'bold'];
}

function phaseColour(phase: string | null | undefined): Colour[] {
  switch (phase) {
    case 'heating':
    case 'warming_up':
      return ['yellow', 'bold'];
    case 'idle':
      return ['green'];
    case 'draining':
      return ['magenta'];
    case 'safe':
    case 'fault':
      return ['red', 'bold'];
    default:
      return ['dim'];
  }
}

const row = (label: string, text: string) => ` ${label.padEnd(LABEL)}${text}`;

/** One screen of the live view (lines joined by \n, no trailing newline). */
export function renderLiveView(model: LiveViewModel, opts: LiveViewOptions = {}): string {
  const width = opts.width ?? 80;
  const points = opts.sparkPoints ?? 40;
  const p = painter(opts.color ?? false);
  const s = model.state ?? {};
  const gpu = s.gpu ?? {};
  const llm = s.llm ?? {};
  const lines: string[] = [];

  // Header: who and where, presence on the right.
  const presence = model.online === true ? p('online', 'green') : model.online === false ? p('offline', 'red', 'bold') : p('status ?', 'dim');
  const broker = model.broker.replace(/\/\/[^@/]*@/, '//'); // never show credentials
  const left = ` ${p('AnchIAle demo', 'bold')} · node ${p(model.nodeId, 'cyan')} · ${broker}`;
  const room = width - visibleWidth(presence) - 1;
  const head = clipLine(left, room);
  lines.push(`${head}${' '.repeat(Math.max(1, width - visibleWidth(head) - visibleWidth(presence)))}${presence}`);
  const speed = isNum(model.speed) ? ` (×${Number(model.speed.toFixed(2))})` : '';
  const clock = isNum(model.simNowMs) ? ` · sim clock ${new Date(model.simNowMs).toISOString().slice(0, 16).replace('T', ' ')} UTC` : '';
  lines.push(` real ${formatDuration(model.realElapsedS)} · simulated ${formatDuration(model.simElapsedS)}${speed}${clock}`);
  lines.push('─'.repeat(width));

  if (model.state === null) {
    lines.push(row('State', p('waiting for the heater’s retained state…', 'dim')));
  }

  // Room.
  const sp = s.setpoint_c;
  const src = s.setpoint_source ? ` (${s.setpoint_source})` : '';
  lines.push(
    row(
      'Room',
      `${p(num(s.room_temp_c, 1, ' °C'), ...roomColour(s.room_temp_c, sp))}   setpoint ${num(sp, 1, ' °C')}${src}   outdoor ${num(s.outdoor_temp_c, 1, ' °C')}`,
    ),
  );
  const hist = model.roomHistoryC.slice(-points);
  const fin = hist.filter(isNum);
  const range = fin.length > 0 ? `  ${Math.min(...fin).toFixed(1)}…${Math.max(...fin).toFixed(1)} °C` : '';
  lines.push(row('History', hist.length > 0 ? `${p(sparkline(hist), 'cyan')}${range}` : NA));

  // Demand and power.
  const demandPct = isNum(s.demand) ? `${Math.round(s.demand * 100)} %` : NA;
  lines.push(row('Demand', `${p(bar(s.demand, 20), 'yellow')} ${demandPct}`));
  lines.push(
    row(
      'Power',
      `limit ${num(s.power_limit_w, 0, ' W')} · GPU ${num(gpu.power_w, 1, ' W')} · wall ${num(s.wall_power_w, 1, ' W')} · heat ${num(s.heat_w, 1, ' W')}`,
    ),
  );
  const gpuBits = [isNum(gpu.temp_c) ? `GPU ${gpu.temp_c.toFixed(0)} °C` : null, isNum(gpu.util_pct) ? `${gpu.util_pct.toFixed(0)} % util` : null, gpu.pstate ?? null].filter(
    (x): x is string => x !== null,
  );
  lines.push(row('Energy', [`${num(s.energy_kwh, 2, ' kWh')}`, ...gpuBits].join(' · ')));

  // Decision.
  lines.push(
    row(
      'Phase',
      `${p(s.phase ?? NA, ...phaseColour(s.phase))} · action ${s.action ?? NA} · mode ${s.mode ?? NA} · preset ${s.preset ?? NA}`,
    ),
  );
  lines.push(row('Reasons', s.reasons && s.reasons.length > 0 ? s.reasons.join(', ') : NA));

  // Model and work.
  const modelBits = [
    llm.model ?? NA,
    llm.loaded === true ? p('loaded', 'green') : llm.loaded === false ? p('not loaded', 'dim') : null,
    llm.accepting === true ? p('accepting', 'green') : llm.accepting === false ? 'not accepting' : null,
    isNum(llm.slots) || isNum(llm.max_slots) ? `slots ${int(llm.slots)}/${int(llm.max_slots)} free` : null,
  ].filter((x): x is string => x !== null);
  lines.push(row('Model', modelBits.join(' · ')));
  const jobs = model.jobs;
  const done = jobs ? jobs.done : llm.jobs_done;
  const active = jobs ? jobs.active : llm.jobs_active;
  const failed = jobs && isNum(jobs.failed) ? ` · failed ${int(jobs.failed)}` : '';
  lines.push(
    row(
      'Work',
      `${num(llm.tokens_per_s, 1, ' tok/s')} · jobs done ${int(done)} · active ${int(active)} · rejected ${jobs ? int(jobs.rejected) : NA}${failed}`,
    ),
  );

  // Alarms.
  const alarms: string[] = [];
  if (s.safe_mode === true) alarms.push('SAFE MODE');
  if (s.inputs_stale && s.inputs_stale.length > 0) alarms.push(`stale inputs: ${s.inputs_stale.join(', ')}`);
  if (alarms.length > 0) lines.push(` ${p(`! ${alarms.join(' · ')}`, 'red', 'bold')}`);
  if (model.message) lines.push(` ${p(model.message, 'dim')}`);

  return lines.map((l) => clipLine(l, width)).join('\n');
}

/** The end-of-demo summary (lines joined by \n, no trailing newline). */
export function renderSummary(stats: DemoSummaryStats, opts: Pick<LiveViewOptions, 'color' | 'width'> = {}): string {
  const width = opts.width ?? 80;
  const p = painter(opts.color ?? false);
  const label = (t: string) => ` ${t.padEnd(18)}`;
  const pct = (x: number | null) => (isNum(x) ? `${Math.round(x * 100)} %` : NA);
  const t = stats.roomTempC;
  const tokensPerKwh = stats.energyKwh > 0 ? ` (${int(stats.tokens / stats.energyKwh)} tokens/kWh)` : '';
  const failed = isNum(stats.jobs.failed) ? ` · failed ${int(stats.jobs.failed)}` : '';
  const lines = [
    ` ${p('AnchIAle demo summary', 'bold')}${stats.nodeId ? ` · node ${p(stats.nodeId, 'cyan')}` : ''}`,
    ` real ${formatDuration(stats.realElapsedS)} · simulated ${formatDuration(stats.simElapsedS)}`,
    '─'.repeat(width),
    `${label('Room temperature')}min ${num(t.min, 1, ' °C')} · mean ${num(t.mean, 1, ' °C')} · max ${num(t.max, 1, ' °C')}`,
    `${label('Time in band')}${p(pct(stats.timeInBand), 'bold')} (setpoint −0.5 … +1.0 K)`,
    `${label('Energy')}${num(stats.energyKwh, 3, ' kWh')} · useful ${pct(stats.usefulShare)}`,
    `${label('Tokens')}${int(stats.tokens)}${tokensPerKwh}`,
    `${label('Jobs')}done ${int(stats.jobs.done)} · rejected ${int(stats.jobs.rejected)} · active ${int(stats.jobs.active)}${failed}`,
  ];
  return lines.map((l) => clipLine(l, width)).join('\n');
}
