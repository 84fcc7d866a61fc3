/**
 * A self-contained SVG chart of one or more simulation runs of the same scenario (no dependencies).
 * Top: temperatures (room air and building mass per controller, outdoor, setpoint with its comfort
 * band [Tset − 0.5, Tset + 1.0] shaded, occupied periods shaded). Middle: unit wall power and GPU
 * power limit (W). Bottom: busy sequences. Time in hours (≤ 2 days) or days (scenario time 0 is a
 * Monday 00:00). Several controllers are overlaid in distinct colours.
 */
import type { SimMetrics } from './metrics.js';
import type { SimSeriesRow } from './simulator.js';

export interface PlotRun {
  scenario: string;
  controller: string;
  metrics: SimMetrics;
  series?: readonly SimSeriesRow[];
}

export interface PlotOptions {
  /** Title (default: the scenario's name). */
  title?: string;
  /** Width in px (default 1200). */
  width?: number;
}

export const CONTROLLER_COLOURS = ['#1f6fb4', '#d1495b', '#2a9d5c', '#8e5cc4', '#e07b00', '#6b4f3a'];
const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";
const INK = '#222';
const MUTED = '#666';
const GRID = '#e3e3e3';
const OUTDOOR = '#7a8a99';
const BAND = '#dcefdc';
const OCCUPIED = '#fdf1d2';
const DAY_NAMES = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function f1(x: number): string {
  return (Math.round(x * 10) / 10).toString();
}

/** A "nice" tick step (1, 2, 2.5, 5 × 10^k) giving about `count` ticks over `range`. */
export function niceStep(range: number, count: number): number {
  if (!(range > 0)) return 1;
  const raw = range / Math.max(1, count);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const norm = raw / mag;
  const nice = norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10;
  return nice * mag;
}

interface Axis {
  min: number;
  max: number;
  step: number;
}

function niceAxis(lo: number, hi: number, count: number, padFrac = 0.05): Axis {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return { min: 0, max: 1, step: 0.2 };
  if (hi - lo < 1e-9) {
    lo -= 1;
    hi += 1;
  }
  const pad = (hi - lo) * padFrac;
  const step = niceStep(hi - lo + 2 * pad, count);
  return { min: Math.floor((lo - pad) / step) * step, max: Math.ceil((hi + pad) / step) * step, step };
}

interface Panel {
  top: number;
  height: number;
  axis: Axis;
  label: string;
}

/** Reduce a polyline to at most ~4 points per pixel column (first, min, max, last), keeping its shape. */
function decimate(points: Array<[number, number]>, width: number): Array<[number, number]> {
  if (points.length <= width * 2) return points;
  const out: Array<[number, number]> = [];
  let col = Number.NaN;
  let bucket: Array<[number, number]> = [];
  const flush = (): void => {
    if (bucket.length === 0) return;
    const first = bucket[0]!;
    const lastP = bucket[bucket.length - 1]!;
    let min = first;
    let max = first;
    for (const p of bucket) {
      if (p[1] < min[1]) min = p;
      if (p[1] > max[1]) max = p;
    }
    const keep = [first, min, max, lastP].sort((a, b) => a[0] - b[0]);
    for (const p of keep) if (out[out.length - 1] !== p) out.push(p);
    bucket = [];
  };
  for (const p of points) {
    const c = Math.floor(p[0]);
    if (c !== col) {
      flush();
      col = c;
    }
    bucket.push(p);
  }
  flush();
  return out;
}

function linePath(points: Array<[number, number]>): string {
  return points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${x.toFixed(1)},${y.toFixed(1)}`).join('');
}

/** A step path: each value holds until the next sample (x of the next point). */
function stepPath(points: Array<[number, number]>, endX: number): string {
  if (points.length === 0) return '';
  let d = `M${points[0]![0].toFixed(1)},${points[0]![1].toFixed(1)}`;
  for (let i = 1; i < points.length; i += 1) {
    const [x, y] = points[i]!;
    d += `H${x.toFixed(1)}V${y.toFixed(1)}`;
  }
  return d + `H${endX.toFixed(1)}`;
}

function formatMetrics(m: SimMetrics): string {
  const tokens = m.tokens >= 1e6 ? `${f1(m.tokens / 1e6)} M` : m.tokens >= 1e3 ? `${f1(m.tokens / 1e3)} k` : `${m.tokens}`;
  const parts = [
    `energy ${m.energy_kwh.toFixed(2)} kWh`,
    `discomfort ${m.discomfort_kh.toFixed(2)} K·h`,
    `RMSE ${m.rmse_k === null ? '–' : m.rmse_k.toFixed(2)} K`,
    `overshoot ${m.max_overshoot_k.toFixed(2)} K`,
    `useful ${Math.round(m.useful_energy_share * 100)} %`,
    `${tokens} tokens`,
    `${m.model_loads} loads`,
    `${m.on_off_switches} switches`,
  ];
  if (m.jobs_done > 0 || m.jobs_rejected > 0) parts.push(`jobs ${m.jobs_done} done / ${m.jobs_rejected} rejected`);
  return parts.join(' · ');
}

export function plotSvg(runs: readonly PlotRun[], opts: PlotOptions = {}): string {
  const width = opts.width ?? 1200;
  const withSeries = runs.filter((r) => (r.series?.length ?? 0) > 0);
  const first = withSeries[0];
  const title = opts.title ?? (runs[0] ? `Simulation: ${runs[0].scenario}` : 'Simulation');
  const left = 64;
  const right = 64;
  const plotW = width - left - right;

  // Header: title, one metrics line per run, the legend.
  const headerLines = runs.length;
  const titleY = 30;
  const metricsTop = 54;
  const legendY = metricsTop + headerLines * 20 + 10;
  const panelsTop = legendY + 26;
  const gap = 34;
  const heights = [300, 170, 110];

  const rows = first?.series ?? [];
  const tEnd = rows.length > 0 ? Math.max(...withSeries.map((r) => r.series![r.series!.length - 1]!.t_h)) : 1;
  const step = rows.length > 1 ? rows[1]!.t_h - rows[0]!.t_h : 0;
  const tMax = Math.max(tEnd + step, 1e-6);
  const x = (h: number): number => left + (h / tMax) * plotW;

  // Axes.
  let tLo = Infinity;
  let tHi = -Infinity;
  let oLo = Infinity;
  let oHi = -Infinity;
  let pHi = 0;
  let bHi = 1;
  for (const r of withSeries) {
    for (const row of r.series!) {
      tLo = Math.min(tLo, row.ti, row.tm, row.tset - 0.5);
      tHi = Math.max(tHi, row.ti, row.tm, row.tset + 1.0);
      oLo = Math.min(oLo, row.to);
      oHi = Math.max(oHi, row.to);
      pHi = Math.max(pHi, row.wall_w, row.limit_w);
      bHi = Math.max(bHi, row.busy);
    }
  }
  const panels: Panel[] = [];
  let top = panelsTop;
  const labels = ['Room temperature (°C)', 'Power (W)', 'Busy sequences'];
  const axes = [niceAxis(tLo, tHi, 6), niceAxis(0, pHi, 4, 0.02), { min: 0, max: bHi, step: bHi <= 5 ? 1 : niceStep(bHi, 4) }];
  axes[1]!.min = 0;
  for (let i = 0; i < 3; i += 1) {
    panels.push({ top, height: heights[i]!, axis: axes[i]!, label: labels[i]! });
    top += heights[i]! + gap;
  }
  // Outdoor on its own right-hand scale, its ticks on the room axis's gridlines.
  const roomAxis = panels[0]!.axis;
  const nTicks = Math.round((roomAxis.max - roomAxis.min) / roomAxis.step);
  const oStep = niceStep(Math.max(oHi - oLo, 1) * 1.1, Math.max(1, nTicks - 1));
  const oMin = Math.floor((oLo - 0.05 * Math.max(oHi - oLo, 1)) / oStep) * oStep;
  const outdoorAxis: Axis = { min: oMin, max: oMin + nTicks * oStep, step: oStep };
  const bottom = panels[2]!.top + panels[2]!.height;
  const height = bottom + 56;
  const y = (p: Panel, v: number): number => p.top + p.height - ((v - p.axis.min) / (p.axis.max - p.axis.min)) * p.height;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}" font-size="12" fill="${INK}">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  out.push(`<text x="${left}" y="${titleY}" font-size="19" font-weight="600">${esc(title)}</text>`);
  runs.forEach((r, i) => {
    const cy = metricsTop + i * 20;
    const colour = CONTROLLER_COLOURS[i % CONTROLLER_COLOURS.length]!;
    out.push(`<rect x="${left}" y="${cy - 9}" width="14" height="4" rx="1" fill="${colour}"/>`);
    out.push(
      `<text x="${left + 20}" y="${cy - 3}"><tspan font-weight="600">${esc(r.controller)}</tspan><tspan fill="${MUTED}" dx="8">${esc(formatMetrics(r.metrics))}</tspan></text>`,
    );
  });

  // Legend.
  const legend: string[] = [];
  let lx = left;
  const item = (swatch: string, text: string, w: number): void => {
    legend.push(`<g transform="translate(${lx},${legendY})">${swatch}<text x="26" y="4">${esc(text)}</text></g>`);
    lx += w;
  };
  const multi = runs.length > 1;
  item(`<line x1="0" y1="0" x2="20" y2="0" stroke="${multi ? INK : CONTROLLER_COLOURS[0]}" stroke-width="2"/>`, 'room air', 96);
  item(`<line x1="0" y1="0" x2="20" y2="0" stroke="${multi ? INK : CONTROLLER_COLOURS[0]}" stroke-width="1.2" stroke-dasharray="5 3" opacity="0.7"/>`, 'building mass', 124);
  item(`<line x1="0" y1="0" x2="20" y2="0" stroke="${OUTDOOR}" stroke-width="1.5"/>`, 'outdoor (right scale)', 160);
  item(`<line x1="0" y1="0" x2="20" y2="0" stroke="${INK}" stroke-width="1.2" stroke-dasharray="2 3"/>`, 'setpoint', 90);
  item(`<rect x="0" y="-6" width="20" height="12" fill="${BAND}"/>`, 'comfort band (−0.5/+1.0 K)', 200);
  item(`<rect x="0" y="-6" width="20" height="12" fill="${OCCUPIED}"/>`, 'occupied', 90);
  item(`<line x1="0" y1="0" x2="20" y2="0" stroke="${multi ? INK : CONTROLLER_COLOURS[0]}" stroke-width="1.5"/>`, 'wall power', 100);
  item(`<line x1="0" y1="0" x2="20" y2="0" stroke="${multi ? INK : CONTROLLER_COLOURS[0]}" stroke-width="1.2" stroke-dasharray="6 3" opacity="0.6"/>`, 'GPU power limit', 130);
  out.push(`<g font-size="12" fill="${INK}">${legend.join('')}</g>`);

  // Occupied periods, across all panels.
  if (first) {
    let start: number | null = null;
    const spans: Array<[number, number]> = [];
    for (const row of rows) {
      if (row.occupied && start === null) start = row.t_h;
      if (!row.occupied && start !== null) {
        spans.push([start, row.t_h]);
        start = null;
      }
    }
    if (start !== null) spans.push([start, tMax]);
    for (const p of panels) {
      for (const [a, b] of spans) {
        out.push(`<rect x="${x(a).toFixed(1)}" y="${p.top}" width="${(x(b) - x(a)).toFixed(1)}" height="${p.height}" fill="${OCCUPIED}"/>`);
      }
    }
  }

  // Time grid.
  const days = tMax > 48;
  const majorH = days ? 24 : niceHourStep(tMax);
  const minorH = days ? 6 : majorH / 2;
  for (const p of panels) {
    for (let h = minorH; h < tMax - 1e-9; h += minorH) {
      const major = Math.abs(h / majorH - Math.round(h / majorH)) < 1e-9;
      out.push(
        `<line x1="${x(h).toFixed(1)}" y1="${p.top}" x2="${x(h).toFixed(1)}" y2="${p.top + p.height}" stroke="${major ? '#d0d0d0' : GRID}" stroke-width="${major ? 1 : 0.6}"/>`,
      );
    }
    for (let v = p.axis.min; v <= p.axis.max + 1e-9; v += p.axis.step) {
      const yy = y(p, v).toFixed(1);
      out.push(`<line x1="${left}" y1="${yy}" x2="${left + plotW}" y2="${yy}" stroke="${GRID}" stroke-width="0.8"/>`);
      out.push(`<text x="${left - 8}" y="${(y(p, v) + 4).toFixed(1)}" text-anchor="end" fill="${MUTED}">${esc(tickLabel(v, p.axis.step))}</text>`);
    }
    out.push(
      `<text transform="translate(${left - 46},${p.top + p.height / 2}) rotate(-90)" text-anchor="middle" fill="${INK}" font-size="12">${esc(p.label)}</text>`,
    );
  }
  {
    const p = panels[0]!;
    const yo = (v: number): number => p.top + p.height - ((v - outdoorAxis.min) / (outdoorAxis.max - outdoorAxis.min)) * p.height;
    for (let i = 0; i <= nTicks; i += 1) {
      const v = outdoorAxis.min + i * outdoorAxis.step;
      out.push(`<text x="${left + plotW + 8}" y="${(yo(v) + 4).toFixed(1)}" fill="${OUTDOOR}">${esc(tickLabel(v, outdoorAxis.step))}</text>`);
    }
    out.push(
      `<text transform="translate(${left + plotW + 50},${p.top + p.height / 2}) rotate(90)" text-anchor="middle" fill="${OUTDOOR}" font-size="12">Outdoor (°C)</text>`,
    );
  }
  // Time labels under the bottom panel.
  for (let h = 0; h <= tMax + 1e-9; h += majorH) {
    if (days && h >= tMax - 1e-9) break;
    const d = Math.round(h / 24);
    const text = days ? `${DAY_NAMES[d % 7]}${d >= 7 ? ` (day ${d + 1})` : ''}` : hourLabel(h);
    const xx = days ? x(Math.min(h + 12, tMax)) : x(h);
    out.push(`<text x="${xx.toFixed(1)}" y="${bottom + 18}" text-anchor="middle" fill="${MUTED}">${esc(text)}</text>`);
  }
  out.push(
    `<text x="${left + plotW / 2}" y="${bottom + 42}" text-anchor="middle" fill="${INK}">${days ? 'day of the simulated week (scenario starts Monday 00:00)' : 'time of day (h)'}</text>`,
  );

  const tPanel = panels[0]!;
  const pPanel = panels[1]!;
  const bPanel = panels[2]!;
  const endX = x(tMax);

  // Setpoint band and line (from the first run: the scenario's setpoint is the same for all).
  if (first) {
    const hiPts: string[] = [];
    const loPts: string[] = [];
    for (let i = 0; i < rows.length; i += 1) {
      const row = rows[i]!;
      const x0 = x(row.t_h);
      const x1 = i + 1 < rows.length ? x(rows[i + 1]!.t_h) : endX;
      hiPts.push(`${x0.toFixed(1)},${y(tPanel, row.tset + 1.0).toFixed(1)}`, `${x1.toFixed(1)},${y(tPanel, row.tset + 1.0).toFixed(1)}`);
      loPts.push(`${x0.toFixed(1)},${y(tPanel, row.tset - 0.5).toFixed(1)}`, `${x1.toFixed(1)},${y(tPanel, row.tset - 0.5).toFixed(1)}`);
    }
    out.push(`<polygon points="${[...hiPts, ...loPts.reverse()].join(' ')}" fill="${BAND}" opacity="0.85"/>`);
    const sp = decimate(rows.map((r) => [x(r.t_h), y(tPanel, r.tset)] as [number, number]), plotW);
    out.push(`<path d="${stepPath(sp, endX)}" fill="none" stroke="${INK}" stroke-width="1.2" stroke-dasharray="2 3"/>`);
    const yOut = (v: number): number => tPanel.top + tPanel.height - ((v - outdoorAxis.min) / (outdoorAxis.max - outdoorAxis.min)) * tPanel.height;
    const od = decimate(rows.map((r) => [x(r.t_h), yOut(r.to)] as [number, number]), plotW);
    out.push(`<path d="${linePath(od)}" fill="none" stroke="${OUTDOOR}" stroke-width="1.5"/>`);
  }

  // Runs.
  runs.forEach((r, i) => {
    const s = r.series;
    if (!s || s.length === 0) return;
    const colour = CONTROLLER_COLOURS[i % CONTROLLER_COLOURS.length]!;
    const pts = (panel: Panel, pick: (row: SimSeriesRow) => number): Array<[number, number]> =>
      decimate(s.map((row) => [x(row.t_h), y(panel, pick(row))] as [number, number]), plotW);
    out.push(`<g>`);
    out.push(`<path d="${linePath(pts(tPanel, (row) => row.tm))}" fill="none" stroke="${colour}" stroke-width="1.2" stroke-dasharray="5 3" opacity="0.7"/>`);
    out.push(`<path d="${linePath(pts(tPanel, (row) => row.ti))}" fill="none" stroke="${colour}" stroke-width="2" stroke-linejoin="round"/>`);
    out.push(`<path d="${stepPath(pts(pPanel, (row) => row.limit_w), endX)}" fill="none" stroke="${colour}" stroke-width="1.2" stroke-dasharray="6 3" opacity="0.6"/>`);
    out.push(`<path d="${stepPath(pts(pPanel, (row) => row.wall_w), endX)}" fill="none" stroke="${colour}" stroke-width="1.5" opacity="${multi ? 0.85 : 1}"/>`);
    out.push(`<path d="${stepPath(pts(bPanel, (row) => row.busy), endX)}" fill="none" stroke="${colour}" stroke-width="1.5" opacity="${multi ? 0.85 : 1}"/>`);
    out.push(`</g>`);
  });

  // Panel frames and captions.
  const captions = ['Temperatures: room air and building mass (left scale), outdoor (right scale)', 'Unit wall power and GPU power limit', 'Busy inference sequences'];
  panels.forEach((p, i) => {
    out.push(`<rect x="${left}" y="${p.top}" width="${plotW}" height="${p.height}" fill="none" stroke="#bdbdbd" stroke-width="1"/>`);
    out.push(`<text x="${left + 8}" y="${p.top - 7}" font-size="12.5" font-weight="600" fill="${INK}">${esc(captions[i]!)}</text>`);
  });
  if (withSeries.length === 0) {
    out.push(`<text x="${left + plotW / 2}" y="${panelsTop + 150}" text-anchor="middle" fill="${MUTED}">no series recorded</text>`);
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function niceHourStep(tMax: number): number {
  for (const s of [1, 2, 3, 4, 6, 12]) if (tMax / s <= 13) return s;
  return 24;
}

function hourLabel(h: number): string {
  const hh = Math.round(h) % 24;
  const day = Math.floor(Math.round(h) / 24);
  const base = `${String(hh).padStart(2, '0')}:00`;
  return day > 0 && hh === 0 ? `${base} +${day}d` : base;
}

function tickLabel(v: number, step: number): string {
  const decimals = step >= 1 ? 0 : step >= 0.1 ? 1 : 2;
  const r = Number(v.toFixed(decimals));
  return (Object.is(r, -0) ? 0 : r).toFixed(decimals).replace('-', '−');
}
