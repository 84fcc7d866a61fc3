/**
 * The plain set topics (`<base>/<id>/set/<what>`) for Home Assistant, Node-RED and BMS:
 * payload → operator command, or a reason naming the problem. Never throws.
 */
import type { OperatorCommand } from '../../core/operator.js';
import type { Mode, Preset } from '../../core/types.js';

export const SET_TOPICS = ['mode', 'setpoint', 'preset', 'power_cap', 'drain', 'resume'] as const;
export type SetTopic = (typeof SET_TOPICS)[number];

export interface SetBounds {
  minSetpointC: number;
  maxSetpointC: number;
  /** The card's minimum limit and the site ceiling: a cap must lie within. */
  minPowerW: number;
  maxPowerW: number;
}

export type SetParse = { ok: true; command: OperatorCommand } | { ok: false; reason: string };

const MODES: Mode[] = ['off', 'heat', 'auto'];
const PRESETS: Preset[] = ['none', 'frost', 'eco', 'comfort', 'boost'];
const MAX_SET_PAYLOAD = 256;

/** The payload as a trimmed scalar string (a JSON string or number is accepted too). */
function scalar(payload: Buffer): string | null {
  if (payload.length > MAX_SET_PAYLOAD) return null;
  const text = payload.toString('utf8').trim();
  if (text.startsWith('"') && text.endsWith('"') && text.length >= 2) {
    try {
      const v: unknown = JSON.parse(text);
      return typeof v === 'string' ? v.trim() : null;
    } catch {
      return null;
    }
  }
  return text;
}

function number(text: string): number | null {
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) return null;
  const v = Number(text);
  return Number.isFinite(v) ? v : null;
}

export function parseSetTopic(what: string, payload: Buffer, b: SetBounds): SetParse {
  if (!(SET_TOPICS as readonly string[]).includes(what)) return { ok: false, reason: `unknown set topic "${what}" (one of ${SET_TOPICS.join(', ')})` };
  const text = scalar(payload);
  if (text === null) return { ok: false, reason: `payload is not a short scalar (at most ${MAX_SET_PAYLOAD} bytes)` };
  const shown = JSON.stringify(text.slice(0, 40));
  switch (what as SetTopic) {
    case 'mode': {
      const m = text.toLowerCase() as Mode;
      return MODES.includes(m) ? { ok: true, command: { kind: 'mode', mode: m } } : { ok: false, reason: `mode must be one of ${MODES.join('|')}, got ${shown}` };
    }
    case 'preset': {
      const p = text.toLowerCase() as Preset;
      return PRESETS.includes(p) ? { ok: true, command: { kind: 'preset', preset: p } } : { ok: false, reason: `preset must be one of ${PRESETS.join('|')}, got ${shown}` };
    }
    case 'setpoint': {
      const v = number(text);
      if (v === null) return { ok: false, reason: `setpoint must be a number in °C, got ${shown}` };
      if (v < b.minSetpointC || v > b.maxSetpointC) return { ok: false, reason: `setpoint ${v} is outside [${b.minSetpointC}, ${b.maxSetpointC}] °C` };
      return { ok: true, command: { kind: 'setpoint', setpointC: v } };
    }
    case 'power_cap': {
      if (['none', 'null', ''].includes(text.toLowerCase())) return { ok: true, command: { kind: 'power_cap', watts: null } };
      const v = number(text);
      if (v === null) return { ok: false, reason: `power_cap must be a number of W or none, got ${shown}` };
      if (v < b.minPowerW || v > b.maxPowerW) return { ok: false, reason: `power_cap ${v} W is outside [${b.minPowerW}, ${b.maxPowerW}] W (card minimum, site ceiling)` };
      return { ok: true, command: { kind: 'power_cap', watts: Math.round(v) } };
    }
    case 'drain':
      return { ok: true, command: { kind: 'drain' } };
    case 'resume':
      return { ok: true, command: { kind: 'resume' } };
  }
}
