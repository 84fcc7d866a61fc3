import type { AgentConfig } from './schema.js';

export const REDACTED = '[redacted]';

/** A copy of the config with its secrets (mqtt.password) replaced by "[redacted]" when set. */
export function redactConfig(cfg: AgentConfig): AgentConfig {
  return { ...cfg, mqtt: { ...cfg.mqtt, password: cfg.mqtt.password === null ? null : REDACTED } };
}
