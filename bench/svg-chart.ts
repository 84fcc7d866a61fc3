/**
 * Tiny self-contained SVG charts for the benchmarks (no dependencies): stacked line panels sharing
 * an x axis (time series), and an overlaid histogram with optional vertical markers (percentiles,
 * goals).
 */

export const CHART_COLOURS = ['#1f6fb4', '#d1495b', '#2a9d5c', '#8e5cc4', '#e07b00', '#6b4f3a'];
const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";
const INK = '#222';
const MUTED = '#666';
const GRID = '#e3e3e3';

export interface LineSeries {
  name: string;
  /** [x, y] points, x ascending. */
  points: ReadonlyArray<readonly [number, number]>;
  colour?: string;
  dashed?: boolean;
}

export interface LinePanel {
  yLabel: string;
  series: LineSeries[];
  /** Horizontal reference lines (goals, limits). */
  refs?: Array<{ y: number; label: string }>;
  /** Force the y range to include 0 (default true). */
  fromZero?: boolean;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  panels: LinePanel[];
  width?: number;
  panelHeight?: number;
}

export interface HistogramSeries {
  name: string;
  values: readonly number[];
  colour?: string;
}

export interface HistogramOptions {
  title: string;
  xLabel: string;
  series: HistogramSeries[];
  /** Number of bins over [min, max] of all values (default 40). */
  bins?: number;
  /** Vertical markers (e.g. p50, p99, goal). */
  markers?: Array<{ x: number; label: string; colour?: string }>;
  width?: number;
  height?: number;
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Round tick steps (1, 2, 5 × 10^n) covering [lo, hi] with about `count` ticks. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0];
  if (hi <= lo) hi = lo + 1;
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function fmt(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a < 0.01 || a >= 1e6)) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

function range(values: number[], fromZero: boolean): [number, number] {
  const finite = values.filter(Number.isFinite);
  let lo = finite.length ? Math.min(...finite) : 0;
  let hi = finite.length ? Math.max(...finite) : 1;
  if (fromZero) lo = Math.min(0, lo);
  if (hi === lo) hi = lo + (Math.abs(lo) || 1);
  const pad = (hi - lo) * 0.05;
  return [fromZero && lo === 0 ? 0 : lo - pad, hi + pad];
}

type LegendItem = { name: string; colour: string; dashed?: boolean };
const itemWidth = (it: LegendItem) => 23 + it.name.length * 6.8 + 18;

/** Legend rows needed for the items within `maxWidth`. */
function legendRows(items: LegendItem[], maxWidth: number): number {
  let rows = 1;
  let w = 0;
  for (const it of items) {
    if (w > 0 && w + itemWidth(it) > maxWidth) {
      rows++;
      w = 0;
    }
    w += itemWidth(it);
  }
  return rows;
}

/** The legend from (x, y), wrapped at maxWidth into rows 16 px apart. */
function legend(items: LegendItem[], x: number, y: number, maxWidth = Infinity): string {
  let out = '';
  let cx = x;
  let cy = y;
  for (const it of items) {
    if (cx > x && cx - x + itemWidth(it) > maxWidth) {
      cx = x;
      cy += 16;
    }
    out += `<line x1="${cx}" y1="${cy - 4}" x2="${cx + 18}" y2="${cy - 4}" stroke="${it.colour}" stroke-width="2.5"${it.dashed ? ' stroke-dasharray="5 3"' : ''}/>`;
    out += `<text x="${cx + 23}" y="${cy}" font-size="12" fill="${INK}">${escapeXml(it.name)}</text>`;
    cx += itemWidth(it);
  }
  return out;
}

/** Stacked panels of lines over a shared x axis. */
export function lineChartSvg(o: LineChartOptions): string {
  const width = o.width ?? 900;
  const ph = o.panelHeight ?? 220;
  const left = 70;
  const right = 20;
  const top = 44;
  const gap = 46;
  const plotW = width - left - right;
  const height = top + o.panels.length * (ph + gap) + 20;
  const xs = o.panels.flatMap((p) => p.series.flatMap((s) => s.points.map((pt) => pt[0]))).filter(Number.isFinite);
  const x0 = xs.length ? Math.min(...xs) : 0;
  const x1 = xs.length && Math.max(...xs) > x0 ? Math.max(...xs) : x0 + 1;
  const sx = (x: number) => left + ((x - x0) / (x1 - x0 || 1)) * plotW;
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">`;
  svg += `<rect width="100%" height="100%" fill="#fff"/>`;
  svg += `<text x="${left}" y="24" font-size="16" font-weight="600" fill="${INK}">${escapeXml(o.title)}</text>`;
  o.panels.forEach((p, pi) => {
    const y0 = top + pi * (ph + gap) + 16;
    const ys = [...p.series.flatMap((s) => s.points.map((pt) => pt[1])), ...(p.refs ?? []).map((r) => r.y)];
    const [lo, hi] = range(ys, p.fromZero ?? true);
    const sy = (y: number) => y0 + ph - ((y - lo) / (hi - lo)) * ph;
    const items = p.series.map((s, i) => ({ name: s.name, colour: s.colour ?? CHART_COLOURS[i % CHART_COLOURS.length]!, dashed: s.dashed }));
    svg += legend(items, left, y0 - 6);
    for (const t of niceTicks(lo, hi)) {
      if (t < lo || t > hi) continue;
      svg += `<line x1="${left}" y1="${sy(t).toFixed(1)}" x2="${left + plotW}" y2="${sy(t).toFixed(1)}" stroke="${GRID}"/>`;
      svg += `<text x="${left - 6}" y="${(sy(t) + 4).toFixed(1)}" font-size="11" text-anchor="end" fill="${MUTED}">${fmt(t)}</text>`;
    }
    for (const t of niceTicks(x0, x1, 10)) {
      if (t < x0 || t > x1) continue;
      svg += `<line x1="${sx(t).toFixed(1)}" y1="${y0}" x2="${sx(t).toFixed(1)}" y2="${y0 + ph}" stroke="${GRID}"/>`;
      svg += `<text x="${sx(t).toFixed(1)}" y="${y0 + ph + 14}" font-size="11" text-anchor="middle" fill="${MUTED}">${fmt(t)}</text>`;
    }
    svg += `<rect x="${left}" y="${y0}" width="${plotW}" height="${ph}" fill="none" stroke="#bbb"/>`;
    svg += `<text transform="translate(16 ${y0 + ph / 2}) rotate(-90)" font-size="12" text-anchor="middle" fill="${INK}">${escapeXml(p.yLabel)}</text>`;
    for (const r of p.refs ?? []) {
      svg += `<line x1="${left}" y1="${sy(r.y).toFixed(1)}" x2="${left + plotW}" y2="${sy(r.y).toFixed(1)}" stroke="#999" stroke-dasharray="6 4"/>`;
      svg += `<text x="${left + plotW - 4}" y="${(sy(r.y) - 4).toFixed(1)}" font-size="11" text-anchor="end" fill="${MUTED}">${escapeXml(r.label)}</text>`;
    }
    p.series.forEach((s, i) => {
      const pts = s.points.filter((pt) => Number.isFinite(pt[0]) && Number.isFinite(pt[1]));
      if (pts.length === 0) return;
      const d = pts.map((pt, k) => `${k === 0 ? 'M' : 'L'}${sx(pt[0]).toFixed(1)} ${sy(pt[1]).toFixed(1)}`).join(' ');
      svg += `<path d="${d}" fill="none" stroke="${items[i]!.colour}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`;
    });
    if (pi === o.panels.length - 1) {
      svg += `<text x="${left + plotW / 2}" y="${y0 + ph + 32}" font-size="12" text-anchor="middle" fill="${INK}">${escapeXml(o.xLabel)}</text>`;
    }
  });
  return svg + '</svg>\n';
}

/** Overlaid histograms (counts per bin, outlined bars) with vertical markers. */
export function histogramSvg(o: HistogramOptions): string {
  const width = o.width ?? 900;
  const left = 70;
  const right = 20;
  const plotW = width - left - right;
  const items = o.series.map((s, i) => ({ name: `${s.name} (n=${s.values.length})`, colour: s.colour ?? CHART_COLOURS[i % CHART_COLOURS.length]! }));
  const rows = legendRows(items, plotW);
  const top = 44 + rows * 16 + 8;
  const bottom = 50;
  const height = (o.height ?? 360) + (rows - 1) * 16;
  const plotH = height - top - bottom;
  const all = o.series.flatMap((s) => s.values).filter(Number.isFinite);
  const markers = o.markers ?? [];
  const lo = Math.min(0, ...all);
  let hi = Math.max(...all, ...markers.map((m) => m.x), 1e-9);
  hi = hi + (hi - lo) * 0.03;
  const bins = Math.max(1, o.bins ?? 40);
  const w = (hi - lo) / bins;
  const counts = o.series.map((s) => {
    const c = new Array<number>(bins).fill(0);
    for (const v of s.values) if (Number.isFinite(v)) c[Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / w)))]! += 1;
    return c;
  });
  const maxCount = Math.max(1, ...counts.flat());
  const sx = (x: number) => left + ((x - lo) / (hi - lo)) * plotW;
  const sy = (c: number) => top + plotH - (c / maxCount) * plotH;
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">`;
  svg += `<rect width="100%" height="100%" fill="#fff"/>`;
  svg += `<text x="${left}" y="24" font-size="16" font-weight="600" fill="${INK}">${escapeXml(o.title)}</text>`;
  svg += legend(items, left, 48, plotW);
  for (const t of niceTicks(0, maxCount)) {
    if (t > maxCount) continue;
    svg += `<line x1="${left}" y1="${sy(t).toFixed(1)}" x2="${left + plotW}" y2="${sy(t).toFixed(1)}" stroke="${GRID}"/>`;
    svg += `<text x="${left - 6}" y="${(sy(t) + 4).toFixed(1)}" font-size="11" text-anchor="end" fill="${MUTED}">${fmt(t)}</text>`;
  }
  for (const t of niceTicks(lo, hi, 10)) {
    if (t < lo || t > hi) continue;
    svg += `<text x="${sx(t).toFixed(1)}" y="${top + plotH + 14}" font-size="11" text-anchor="middle" fill="${MUTED}">${fmt(t)}</text>`;
  }
  counts.forEach((c, si) => {
    c.forEach((n, b) => {
      if (n === 0) return;
      const x = sx(lo + b * w);
      svg += `<rect x="${x.toFixed(1)}" y="${sy(n).toFixed(1)}" width="${Math.max(1, sx(lo + (b + 1) * w) - x - 1).toFixed(1)}" height="${(top + plotH - sy(n)).toFixed(1)}" fill="${items[si]!.colour}" fill-opacity="0.35" stroke="${items[si]!.colour}"/>`;
    });
  });
  markers.forEach((m, i) => {
    const x = sx(m.x).toFixed(1);
    // Labels right of their line in the left half of the plot, left of it in the right half.
    const rightHalf = sx(m.x) > left + plotW / 2;
    svg += `<line x1="${x}" y1="${top}" x2="${x}" y2="${top + plotH}" stroke="${m.colour ?? '#555'}" stroke-dasharray="5 3"/>`;
    svg += `<text x="${x}" y="${top + 12 + (i % 4) * 13}" font-size="11" dx="${rightHalf ? -4 : 4}" text-anchor="${rightHalf ? 'end' : 'start'}" fill="${m.colour ?? '#555'}">${escapeXml(m.label)}</text>`;
  });
  svg += `<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#bbb"/>`;
  svg += `<text x="${left + plotW / 2}" y="${height - 12}" font-size="12" text-anchor="middle" fill="${INK}">${escapeXml(o.xLabel)}</text>`;
  svg += `<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" font-size="12" text-anchor="middle" fill="${INK}">count</text>`;
  return svg + '</svg>\n';
}

/** The q-quantile (0..1) of the values, nearest-rank; NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  const v = values.filter(Number.isFinite).slice().sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const rank = Math.min(v.length, Math.max(1, Math.ceil(q * v.length)));
  return v[rank - 1]!;
}
