import type { OperatorCommand } from '../../agent/core/operator.js';
import type { LogLevel, OpsBounds, OpsHealth, OpsPort, OpsStatusView, ReloadResult, ScheduleView } from '../../agent/ops/ops-port.js';

/** An OpsPort that records what the handlers asked. */
export class FakeOpsPort implements OpsPort {
  readonly nodeId = 'h1';
  commands: OperatorCommand[] = [];
  drains: Array<number | null> = [];
  restarts = 0;
  logLevel = 'info';
  mode = 'auto';
  restartable = true;
  reloadResult: ReloadResult = { ok: true, config_hash: 'abc', changed: [], restart_required: [] };
  models: { load?: (m: string) => Promise<Record<string, unknown>>; unload?: () => Promise<Record<string, unknown>> } = {};
  boundsValue: OpsBounds = { setpointMinC: 8, setpointMaxC: 27, overrideMaxS: 14400, powerCapMinW: 100, powerCapMaxW: 300, drainTimeoutS: 120 };

  status(): OpsStatusView {
    return {
      node: 'h1',
      state: { mode: this.mode },
      operator: { mode: this.mode, preset: 'none', manual_setpoint_c: null, override: null, power_cap_w: null, drain: false },
      agent: { version: '0', config_hash: 'abc', log_level: this.logLevel, started_at: '2026-01-01T00:00:00.000Z', uptime_s: 1, mqtt_connected: true },
    };
  }
  health(): OpsHealth {
    return { healthy: false, checks: { mqtt: { ok: true }, inputs: { ok: false, stale: ['room_temperature'] } } };
  }
  bounds(): OpsBounds {
    return this.boundsValue;
  }
  operatorMode(): string {
    return this.mode;
  }
  async command(cmd: OperatorCommand): Promise<void> {
    this.commands.push(cmd);
  }
  async drain(timeoutS: number | null): Promise<{ timeout_s: number }> {
    this.drains.push(timeoutS);
    return { timeout_s: timeoutS ?? 120 };
  }
  async reloadConfig(): Promise<ReloadResult> {
    return this.reloadResult;
  }
  canRestart(): boolean {
    return this.restartable;
  }
  requestRestart(): void {
    this.restarts++;
  }
  async loadModel(model: string): Promise<Record<string, unknown>> {
    if (!this.models.load) throw Object.assign(new Error('not supported'), { code: 'internal' });
    return this.models.load(model);
  }
  async unloadModel(): Promise<Record<string, unknown>> {
    if (!this.models.unload) throw Object.assign(new Error('not supported'), { code: 'internal' });
    return this.models.unload();
  }
  setLogLevel(level: LogLevel): { previous: string } {
    const previous = this.logLevel;
    this.logLevel = level;
    return { previous };
  }
  schedule(): ScheduleView {
    return { timezone: 'UTC', applies: true, entries: [{ cron: '0 7 * * *', preset: 'comfort', setpoint_c: null }], active: null, next: null };
  }
}
