import { createHash } from 'node:crypto';
import type { AgentConfig } from './schema.js';
import { redactConfig } from './redact-config.js';

/** JSON with the keys of every object sorted, so equal configs give equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

/**
 * Short fingerprint of the effective config for `info.config_hash`: the first 12 hex digits of
 * the sha256 of its canonical JSON. Secrets are redacted first (a password change does not show,
 * and the hash reveals nothing about it).
 */
export function configHash(cfg: AgentConfig): string {
  return createHash('sha256').update(canonicalJson(redactConfig(cfg))).digest('hex').slice(0, 12);
}
