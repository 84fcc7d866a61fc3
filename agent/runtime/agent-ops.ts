/**
 * The OpsPort over the running agent: what remote operations read (state, operator intent, health,
 * schedule, bounds) and do (operator commands, reload, restart, model, log level).
 */
import { activeSchedule } from '../core/schedule.js';
import type { OperatorCommand } from '../core/operator.js';
import type { AgentConfig } from '../config/schema.js';
import { configHash } from '../config/config-hash.js';
import type { Logger } from '../log.js';
import type { Clock } from '../ports/clock.js';
import type { HeaterPort } from '../ports/heater.js';
import type { InferencePort } from '../ports/inference.js';
import type { MessageBus } from '../ports/bus.js';
import { errorMessage } from '../errors.js';
import { invalidField, OpsError } from '../ops/ops-error.js';
import type { ConfigReloader } from '../ops/config-reloader.js';
import type { LogLevel, OpsBounds, OpsHealth, OpsPort, OpsStatusView, ReloadResult, ScheduleView } from '../ops/ops-port.js';
import { AGENT_VERSION, TICK_S, type AgentRuntime } from './agent-runtime.js';

/** Optional model control of the inference side (the job runtime's worker has it; simulated work does not). */
interface ModelControl {
  loadModel(model: string): Promise<unknown>;
  unloadModel(): Promise<unknown>;
}

/** Optional per-drain timeout of the inference side. */
interface DrainControl {
  setDrainTimeout(timeoutS: number): void;
}

export interface AgentOpsDeps {
  runtime: AgentRuntime;
  bus: MessageBus;
  heater: HeaterPort;
  inference: InferencePort;
  clock: Clock;
  /** The logger whose level `log_level` sets (the root: children follow it). */
  log: Logger;
  reloader: ConfigReloader;
  /** Ordered stop and exit 75; null when nothing supervises the process. */
  requestRestart: (() => void) | null;
  /** Control period (health of the loop). */
  tickS?: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

export class AgentOps implements OpsPort {
  private readonly startedWallMs: number;
  private readonly startedMonoS: number;

  constructor(private readonly deps: AgentOpsDeps) {
    this.startedWallMs = deps.clock.wallMs();
    this.startedMonoS = deps.clock.monoS();
  }

  private get config(): AgentConfig {
    return this.deps.reloader.current;
  }

  get nodeId(): string {
    return this.config.node.id;
  }

  operatorMode(): string {
    return this.deps.runtime.operatorState.mode;
  }

  status(): OpsStatusView {
    const { runtime, clock, bus, log } = this.deps;
    const op = runtime.operatorState;
    return {
      node: this.nodeId,
      state: runtime.snapshot ? { ...runtime.snapshot } : null,
      operator: {
        mode: op.mode,
        preset: op.preset,
        manual_setpoint_c: op.manualSetpointC,
        override: op.override ? { setpoint_c: op.override.setpointC, started_at: iso(op.override.startedWallMs), duration_s: op.override.durationS } : null,
        power_cap_w: op.powerCapW,
        drain: op.drain,
      },
      agent: {
        version: AGENT_VERSION,
        config_hash: configHash(this.config),
        log_level: log.level,
        started_at: iso(this.startedWallMs),
        uptime_s: Math.round(clock.monoS() - this.startedMonoS),
        mqtt_connected: bus.connected,
      },
    };
  }

  health(): OpsHealth {
    const { runtime, heater, inference, clock, bus } = this.deps;
    const snap = runtime.snapshot;
    const tickS = this.deps.tickS ?? TICK_S;
    const loopAgeS = snap ? (clock.wallMs() - Date.parse(snap.ts)) / 1000 : null;
    const gpu = heater.telemetry();
    const gpuAgeS = gpu ? clock.monoS() - gpu.atMonoS : null;
    const inf = inference.status();
    const checks: OpsHealth['checks'] = {
      mqtt: { ok: bus.connected },
      control_loop: { ok: loopAgeS !== null && loopAgeS <= 3 * tickS, last_decision_age_s: loopAgeS === null ? null : round1(loopAgeS) },
      heater: {
        ok: gpu !== null && gpuAgeS !== null && gpuAgeS <= 60,
        telemetry_age_s: gpuAgeS === null ? null : round1(gpuAgeS),
        power_w: gpu?.powerW ?? null,
        temp_c: gpu?.tempC ?? null,
        limit_w: gpu?.limitW ?? null,
      },
      inference: { ok: inf.fault === null, fault: inf.fault, model: inf.model, loaded: inf.modelLoaded },
      inputs: { ok: (snap?.inputs_stale.length ?? 1) === 0, stale: snap?.inputs_stale ?? null },
      safety: { ok: snap !== null && !snap.safe_mode, safe_mode: snap?.safe_mode ?? null, phase: snap?.phase ?? null, reasons: snap?.reasons ?? [] },
    };
    return { healthy: Object.values(checks).every((c) => c.ok), checks };
  }

  bounds(): OpsBounds {
    const cfg = this.config;
    const t = cfg.thermostat;
    const card = this.deps.heater.limits();
    return {
      setpointMinC: Math.max(t.presets.frost, t.min_setpoint_c),
      setpointMaxC: Math.min(cfg.safety.max_room_temp_c, t.max_setpoint_c),
      overrideMaxS: t.override_s,
      powerCapMinW: card.minLimitW,
      powerCapMaxW: Math.min(card.maxLimitW, cfg.heater.max_power_w),
      drainTimeoutS: cfg.jobs.drain_timeout_s,
    };
  }

  async command(cmd: OperatorCommand): Promise<void> {
    await this.deps.runtime.command(cmd, 'request', { audit: false });
  }

  async drain(timeoutS: number | null): Promise<{ timeout_s: number }> {
    const d = this.deps.inference as Partial<DrainControl>;
    let inForce = this.config.jobs.drain_timeout_s;
    if (timeoutS !== null && typeof d.setDrainTimeout === 'function') {
      d.setDrainTimeout(timeoutS);
      inForce = timeoutS;
    }
    await this.command({ kind: 'drain' });
    return { timeout_s: inForce };
  }

  reloadConfig(): Promise<ReloadResult> {
    return this.deps.reloader.reload();
  }

  canRestart(): boolean {
    return this.deps.requestRestart !== null;
  }

  requestRestart(): void {
    if (!this.deps.requestRestart) throw new OpsError('internal', 'restart is not supported here');
    this.deps.requestRestart();
  }

  async loadModel(model: string): Promise<Record<string, unknown>> {
    const m = this.modelControl('model_load');
    try {
      await m.loadModel(model);
    } catch (err) {
      throw asOpsError(err);
    }
    return { loaded: true };
  }

  async unloadModel(): Promise<Record<string, unknown>> {
    const m = this.modelControl('model_unload');
    try {
      await m.unloadModel();
    } catch (err) {
      throw asOpsError(err);
    }
    return { loaded: false };
  }

  setLogLevel(level: LogLevel): { previous: string } {
    const previous = this.deps.log.level;
    this.deps.log.level = level;
    return { previous };
  }

  schedule(): ScheduleView {
    const spec = this.config.thermostat.schedule;
    const a = spec.entries.length > 0 ? activeSchedule(spec, this.deps.clock.wallMs()) : null;
    return {
      timezone: spec.timezone,
      applies: this.deps.runtime.operatorState.mode === 'auto',
      entries: spec.entries.map((e) => ({ cron: e.cron, preset: e.preset ?? null, setpoint_c: e.setpoint_c ?? null })),
      active: a ? { preset: a.preset, setpoint_c: a.setpointC, since: iso(a.sinceWallMs) } : null,
      next: a && a.nextWallMs !== null && a.next ? { at: iso(a.nextWallMs), preset: a.next.preset, setpoint_c: a.next.setpointC } : null,
    };
  }

  private modelControl(command: string): ModelControl {
    const m = this.deps.inference as Partial<ModelControl>;
    if (typeof m.loadModel !== 'function' || typeof m.unloadModel !== 'function') {
      throw new OpsError('internal', `${command} is not supported: this inference backend loads its model by itself (no loadModel/unloadModel)`);
    }
    return m as ModelControl;
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** Codes of the inference side that mean the model asked for is not there. */
const UNKNOWN_MODEL_CODES = ['unknown_model', 'model_not_found'];

/** A coded error of the inference side: an unknown model is the request's fault, the rest `internal` (own code kept as `reason`). */
function asOpsError(err: unknown): OpsError {
  if (err instanceof OpsError) return err;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && UNKNOWN_MODEL_CODES.includes(code)) return invalidField('model', errorMessage(err));
  return new OpsError('internal', errorMessage(err), typeof code === 'string' ? { reason: code } : undefined);
}
