import type { CardLimits, GpuTelemetry } from '../core/types.js';

/** What the inventory knows of the card (for `info`). */
export interface GpuInventory {
  name: string | null;
  uuid: string | null;
  driver: string | null;
  vramMib: number | null;
  minLimitW: number | null;
  maxLimitW: number | null;
  defaultLimitW: number | null;
}

/** The heating element: a GPU (or a simulated one). One concern: read it and set its ceiling. */
export interface HeaterPort {
  start(): Promise<void>;
  /** Restores the safe (minimum) power limit. */
  stop(): Promise<void>;
  limits(): CardLimits;
  /** Latest telemetry (null before the first sample). */
  telemetry(): GpuTelemetry | null;
  /** Writes the power limit (clamped by the adapter to the card's range); rejects with a coded error. */
  setPowerLimit(watts: number): Promise<void>;
  inventory(): GpuInventory;
  /** The simulated card draws according to the work; a real card ignores this. */
  observeWork?(work: { busy: number; modelLoaded: boolean; modelLoading: boolean }): void;
}
