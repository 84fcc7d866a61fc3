/**
 * What the remote-operation handlers need from the agent: a narrow port, so each handler is a
 * small function over it (tested with a fake) and the agent side is one adapter
 * (runtime/agent-ops.ts). Field names of the data handed out are those answered (snake_case).
 */
import type { OperatorCommand } from '../core/operator.js';
import type { ConfigIssue } from '../config/config-error.js';
import type { LOG_LEVELS } from '../config/schema.js';

export type LogLevel = (typeof LOG_LEVELS)[number];

/** Bounds of the command arguments, from the running config and the card. */
export interface OpsBounds {
  /** Setpoints: frost preset (and min_setpoint_c) .. safety.max_room_temp_c (and max_setpoint_c). */
  setpointMinC: number;
  setpointMaxC: number;
  /** Longest override (thermostat.override_s). */
  overrideMaxS: number;
  /** Power cap: the card's minimum .. min(card maximum, heater.max_power_w). */
  powerCapMinW: number;
  powerCapMaxW: number;
  /** jobs.drain_timeout_s. */
  drainTimeoutS: number;
}

/** The answer of `status`. */
export interface OpsStatusView {
  node: string;
  /** The state document as published (null before the first decision). */
  state: Record<string, unknown> | null;
  operator: {
    mode: string;
    preset: string;
    manual_setpoint_c: number | null;
    override: { setpoint_c: number; started_at: string; duration_s: number | null } | null;
    power_cap_w: number | null;
    drain: boolean;
  };
  agent: { version: string; config_hash: string; log_level: string; started_at: string; uptime_s: number; mqtt_connected: boolean };
}

export interface HealthCheck {
  ok: boolean;
  [detail: string]: unknown;
}

/** The answer of `health_check`: `healthy` when every check is ok. */
export interface OpsHealth {
  healthy: boolean;
  checks: Record<string, HealthCheck>;
}

export interface ScheduleView {
  timezone: string;
  /** True while the mode is auto (the schedule only applies then). */
  applies: boolean;
  entries: Array<{ cron: string; preset: string | null; setpoint_c: number | null }>;
  active: { preset: string | null; setpoint_c: number | null; since: string } | null;
  next: { at: string; preset: string | null; setpoint_c: number | null } | null;
}

export type ReloadResult =
  | { ok: true; config_hash: string; changed: string[]; restart_required: string[] }
  | { ok: false; message: string; errors: ConfigIssue[] };

export interface OpsPort {
  readonly nodeId: string;
  status(): OpsStatusView;
  health(): OpsHealth;
  bounds(): OpsBounds;
  operatorMode(): string;
  /** Applies an operator command (persisted; the decision follows at once). */
  command(cmd: OperatorCommand): Promise<void>;
  /** Starts draining; the timeout is passed on when the work side takes one. Returns the one in force. */
  drain(timeoutS: number | null): Promise<{ timeout_s: number }>;
  /** Reads the configuration file again; an invalid one leaves the running configuration as it is. */
  reloadConfig(): Promise<ReloadResult>;
  /** False when nothing supervises the process (no `anchiale run`): restart cannot be honoured. */
  canRestart(): boolean;
  /** Ordered stop, then the process exits with 75 (restart requested). */
  requestRestart(): void;
  /** Throws OpsError `internal` when the inference side cannot load models on request. */
  loadModel(model: string): Promise<Record<string, unknown>>;
  unloadModel(): Promise<Record<string, unknown>>;
  /** Sets the level of every log line from now on; returns the previous one. */
  setLogLevel(level: LogLevel): { previous: string };
  schedule(): ScheduleView;
}
