/**
 * The daemon's `sim` heater backend: a simulated card with the physics of spec/simulation.md.
 * Its draw follows the power limit and the work the runtime reports, like a real card's.
 */
import type { CardLimits, GpuTelemetry } from '../../core/types.js';
import type { Clock } from '../../ports/clock.js';
import type { GpuInventory, HeaterPort } from '../../ports/heater.js';
import { clampLimit, gpuDrawW, wallPowerW, type HeaterPhysics } from './sim-heater-physics.js';

export class SimGpu implements HeaterPort {
  private limitW: number;
  private work = { busy: 0, modelLoaded: false, modelLoading: false };
  private started = false;
  writes = 0;

  constructor(
    private readonly physics: HeaterPhysics,
    private readonly maxParallel: number,
    private readonly clock: Clock,
  ) {
    this.limitW = physics.max_limit_w;
  }

  async start(): Promise<void> {
    this.started = true;
  }

  /** Restores the safe (minimum) limit; the card keeps reporting (it is still there). */
  async stop(): Promise<void> {
    this.limitW = this.physics.min_limit_w;
    this.work = { busy: 0, modelLoaded: false, modelLoading: false };
  }

  limits(): CardLimits {
    return { minLimitW: this.physics.min_limit_w, maxLimitW: this.physics.max_limit_w, defaultLimitW: this.physics.max_limit_w, powerManagement: true };
  }

  drawW(): number {
    return gpuDrawW(this.physics, {
      loaded: this.work.modelLoaded,
      loading: this.work.modelLoading,
      busy: this.work.busy,
      limitW: this.limitW,
      maxParallel: this.maxParallel,
    });
  }

  /** What a plug on the unit would read (W). */
  wallPowerW(): number {
    return wallPowerW(this.physics, this.drawW());
  }

  telemetry(): GpuTelemetry | null {
    if (!this.started) return null;
    const power = this.drawW();
    return {
      powerW: power,
      tempC: Math.round(30 + power * 0.13),
      utilPct: this.work.busy > 0 ? 97 : 0,
      memUsedMib: this.work.modelLoaded ? 5120 : 0,
      pstate: this.work.busy > 0 ? 'P2' : 'P8',
      limitW: this.limitW,
      atMonoS: this.clock.monoS(),
    };
  }

  async setPowerLimit(watts: number): Promise<void> {
    this.limitW = clampLimit(this.physics, watts, this.physics.max_limit_w);
    this.writes += 1;
  }

  inventory(): GpuInventory {
    return {
      name: 'Simulated GPU',
      uuid: 'GPU-sim',
      driver: null,
      vramMib: 24576,
      minLimitW: this.physics.min_limit_w,
      maxLimitW: this.physics.max_limit_w,
      defaultLimitW: this.physics.max_limit_w,
    };
  }

  observeWork(work: { busy: number; modelLoaded: boolean; modelLoading: boolean }): void {
    this.work = { ...work };
  }
}
