/**
 * CSV of simulation series: a header, then one row per sample; the first column names the
 * controller (several controllers' rows follow each other). Numbers: t_h with 4 decimals, the rest
 * with 3; booleans as 0/1; an absent demand as an empty field.
 */
import type { SimSeriesRow } from './simulator.js';

export const SERIES_COLUMNS = [
  't_h',
  'ti',
  'tm',
  'to',
  'tset',
  'occupied',
  'demand',
  'limit_w',
  'gpu_w',
  'wall_w',
  'busy',
  'queued',
  'model_loaded',
  'accepting',
  'tokens_per_s',
] as const satisfies ReadonlyArray<keyof SimSeriesRow>;

function num(x: number, decimals: number): string {
  const r = Number(x.toFixed(decimals));
  return String(Object.is(r, -0) ? 0 : r);
}

function field(row: SimSeriesRow, key: (typeof SERIES_COLUMNS)[number]): string {
  const v = row[key];
  if (v === null) return '';
  if (typeof v === 'boolean') return v ? '1' : '0';
  return num(v, key === 't_h' ? 4 : 3);
}

function quote(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function seriesToCsv(results: ReadonlyArray<{ controller: string; series?: readonly SimSeriesRow[] }>): string {
  const lines = [['controller', ...SERIES_COLUMNS].join(',')];
  for (const r of results) {
    const name = quote(r.controller);
    for (const row of r.series ?? []) lines.push([name, ...SERIES_COLUMNS.map((k) => field(row, k))].join(','));
  }
  return lines.join('\n') + '\n';
}
