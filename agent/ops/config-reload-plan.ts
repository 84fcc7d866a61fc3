/**
 * What a configuration reload can change while the agent runs: the thermostat (setpoints,
 * presets, schedule, controller), safety limits, the heater's power settings and the log level.
 * Everything else (node, mqtt, inputs, the heater's backend/card/sim physics/limit method, llm,
 * jobs, state, metrics) is wired at start: it keeps its running value and is listed as needing a
 * restart. Pure.
 */
import type { AgentConfig } from '../config/schema.js';
import { canonicalJson } from '../config/config-hash.js';

/** Top-level sections applied live as a whole. */
const LIVE_SECTIONS = ['thermostat', 'safety', 'log'] as const;
/** Keys of `heater` applied live (the rest of `heater` needs a restart). */
const LIVE_HEATER_KEYS = ['max_power_w', 'min_power_w', 'efficient_power_w', 'limit_deadband_w', 'limit_min_interval_s', 'host_w'] as const;

export interface ReloadPlan {
  /** The configuration to run: the new file's live parts over the running one. */
  config: AgentConfig;
  /** Key paths (section or section.key) that change now. */
  changed: string[];
  /** Key paths that changed in the file but keep their running value until a restart. */
  restartRequired: string[];
}

const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);

/** Key paths (`section.key`) whose value differs. */
function diffKeys(section: string, a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.filter((k) => !same(a[k], b[k])).map((k) => `${section}.${k}`);
}

export function planConfigReload(running: AgentConfig, next: AgentConfig): ReloadPlan {
  const changed: string[] = [];
  const restartRequired: string[] = [];
  const merged = { ...running } as Record<string, unknown>;
  const r = running as unknown as Record<string, Record<string, unknown>>;
  const n = next as unknown as Record<string, Record<string, unknown>>;
  for (const section of Object.keys(n).sort()) {
    if (same(r[section], n[section])) continue;
    if ((LIVE_SECTIONS as readonly string[]).includes(section)) {
      merged[section] = n[section];
      changed.push(...(typeof n[section] === 'object' && n[section] !== null ? diffKeys(section, r[section] ?? {}, n[section]) : [section]));
    } else if (section === 'heater') {
      const heater = { ...r.heater };
      for (const k of diffKeys('heater', r.heater ?? {}, n.heater ?? {})) {
        const key = k.slice('heater.'.length);
        if ((LIVE_HEATER_KEYS as readonly string[]).includes(key)) {
          heater[key] = n.heater?.[key];
          changed.push(k);
        } else {
          restartRequired.push(k);
        }
      }
      merged.heater = heater;
    } else {
      restartRequired.push(...(typeof n[section] === 'object' && n[section] !== null ? diffKeys(section, r[section] ?? {}, n[section]) : [section]));
    }
  }
  return { config: merged as unknown as AgentConfig, changed, restartRequired };
}
