/**
 * What a configuration reload can change while the agent runs: the thermostat (setpoints,
 * presets, schedule, controller), safety limits, the heater's power settings, the log level, the
 * model keep-alive and the job limits (queue, request size and tokens, drain timeout, stretching,
 * serve_without_heat). Everything else (node, mqtt, inputs, the heater's backend/card/sim
 * physics/limit method, the model and its context, the fleet subscription, state, metrics) is
 * wired at start: it keeps its running value and is listed as needing a restart. Pure.
 */
import type { AgentConfig } from '../config/schema.js';
import { canonicalJson } from '../config/config-hash.js';

/** Top-level sections applied live as a whole. */
const LIVE_SECTIONS = ['thermostat', 'safety', 'log'] as const;
/** Keys applied live in sections otherwise wired at start (the rest of the section needs a restart). */
const LIVE_KEYS: Readonly<Record<string, readonly string[]>> = {
  heater: ['max_power_w', 'min_power_w', 'efficient_power_w', 'limit_deadband_w', 'limit_min_interval_s', 'host_w'],
  llm: ['keep_alive_s'],
  jobs: ['serve_without_heat', 'stretch_wait_s', 'drain_timeout_s', 'max_queue', 'max_tokens_limit', 'max_request_bytes'],
};

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
    } else if (LIVE_KEYS[section]) {
      const live = LIVE_KEYS[section];
      const kept = { ...r[section] };
      for (const k of diffKeys(section, r[section] ?? {}, n[section] ?? {})) {
        const key = k.slice(section.length + 1);
        if (live.includes(key)) {
          kept[key] = n[section]?.[key];
          changed.push(k);
        } else {
          restartRequired.push(k);
        }
      }
      merged[section] = kept;
    } else {
      restartRequired.push(...(typeof n[section] === 'object' && n[section] !== null ? diffKeys(section, r[section] ?? {}, n[section]) : [section]));
    }
  }
  return { config: merged as unknown as AgentConfig, changed, restartRequired };
}
