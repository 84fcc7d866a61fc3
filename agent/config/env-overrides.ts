/**
 * Environment overrides (spec/config.md): `ANCHIALE_` + the key path in upper case with `__`
 * between levels overrides that key, the value read as a YAML scalar (`250` → number, `true` →
 * boolean, `null`); a value that is not a YAML scalar stays the raw string. A numeric level
 * indexes a list (`ANCHIALE_THERMOSTAT__SCHEDULE__ENTRIES__0__PRESET`).
 * `ANCHIALE_MQTT__PASSWORD` (or `ANCHIALE_MQTT_PASSWORD`) sets mqtt.password, raw (never parsed).
 * Variables whose first level is not a top-level config key (e.g. ANCHIALE_CONFIG) are ignored.
 */
import YAML from 'yaml';
import type { ConfigIssue } from './config-error.js';

export const ENV_PREFIX = 'ANCHIALE_';
export const PASSWORD_ENV_NAMES = ['ANCHIALE_MQTT__PASSWORD', 'ANCHIALE_MQTT_PASSWORD'] as const;

export interface EnvOverrideResult {
  /** Dotted key path → the variable that set it (to name it in errors). */
  sources: Map<string, string>;
  issues: ConfigIssue[];
  /** The password from the environment, if any. */
  password: string | null;
}

/** The YAML scalar a variable's value stands for; the raw text when it is not a scalar. */
export function parseEnvScalar(raw: string): unknown {
  const doc = YAML.parseDocument(raw);
  if (doc.errors.length === 0 && (doc.contents === null || YAML.isScalar(doc.contents))) return doc.toJS() as unknown;
  return raw;
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Applies the overrides of `env` to `doc` (a mapping, modified in place). `topLevelKeys` are the
 * config's sections: other ANCHIALE_ variables are left alone. The password is returned, not set.
 */
export function applyEnvOverrides(
  doc: Record<string, unknown>,
  env: Record<string, string | undefined>,
  topLevelKeys: readonly string[],
): EnvOverrideResult {
  const sources = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  let password: string | null = null;
  for (const name of PASSWORD_ENV_NAMES.slice().reverse()) {
    const v = env[name];
    if (v !== undefined) password = v;
  }

  const names = Object.keys(env)
    .filter((n) => n.startsWith(ENV_PREFIX) && !(PASSWORD_ENV_NAMES as readonly string[]).includes(n))
    .sort();
  for (const name of names) {
    const raw = env[name];
    if (raw === undefined) continue;
    const segments = name.slice(ENV_PREFIX.length).split('__').map((s) => s.toLowerCase());
    if (!topLevelKeys.includes(segments[0] as string)) continue;
    const path = segments.join('.');
    if (segments.some((s) => s.length === 0)) {
      issues.push({ path, message: `cannot apply ${name}: empty key level` });
      continue;
    }
    const problem = setAt(doc, segments, parseEnvScalar(raw));
    if (problem !== null) issues.push({ path: problem, message: `cannot apply ${name}: not a mapping or list here` });
    else sources.set(path, name);
  }
  return { sources, issues, password };
}

/** Sets `value` at `segments`, creating mappings on the way; returns the path that blocked, or null. */
function setAt(root: Record<string, unknown>, segments: string[], value: unknown): string | null {
  let node: Record<string, unknown> | unknown[] = root;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as string;
    const last = i === segments.length - 1;
    if (Array.isArray(node)) {
      if (!/^(0|[1-9][0-9]*)$/.test(seg) || Number(seg) > node.length) return segments.slice(0, i + 1).join('.');
      const idx = Number(seg);
      if (last) {
        node[idx] = value;
        return null;
      }
      if (node[idx] === undefined || node[idx] === null) node[idx] = {};
      const next: unknown = node[idx];
      if (!isRecord(next) && !Array.isArray(next)) return segments.slice(0, i + 1).join('.');
      node = next;
    } else {
      if (last) {
        node[seg] = value;
        return null;
      }
      if (node[seg] === undefined || node[seg] === null) node[seg] = {};
      const next: unknown = node[seg];
      if (!isRecord(next) && !Array.isArray(next)) return segments.slice(0, i + 1).join('.');
      node = next;
    }
  }
  return null;
}
