import type { CardLimits, ControlConfig, OperatorState, TickInput, WorkState } from '../../agent/core/types.js';

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** The core's configuration with the contract's defaults, for tests. */
export function testControlConfig(over: DeepPartial<ControlConfig> = {}): ControlConfig {
  const base: ControlConfig = {
    thermostat: {
      defaultSetpointC: 20,
      minSetpointC: 5,
      maxSetpointC: 30,
      overrideS: 14400,
      presets: { frost: 8, eco: 17, comfort: 21, boost: 23 },
      controller: 'pi',
      minOnS: 300,
      minOffS: 300,
      pi: { kp: 2.5, tiS: 3600, outdoorGain: 0 },
      cycleS: 1800,
      prechargeK: 0.3,
    },
    heater: { maxPowerW: 300, minPowerW: null, efficientPowerW: null, limitDeadbandW: 5, limitMinIntervalS: 30, hostW: 40 },
    safety: { staleAction: 'no_heat', maxRoomTempC: 27, gpuThrottleTempC: 80, gpuStopTempC: 88, implausibleAfterS: 7200, holdMinimumMaxS: 7200 },
    inputs: {
      room_temperature: { configured: true, maxAgeS: 3600 },
      setpoint: { configured: false, maxAgeS: null },
      outdoor_temperature: { configured: false, maxAgeS: 3600 },
      wall_power: { configured: false, maxAgeS: 300 },
      window_open: { configured: false, maxAgeS: null },
    },
    llm: { maxParallel: 4, keepAliveS: 600 },
    jobs: { enabled: true, serveWithoutHeat: false, stretchWaitS: 30 },
  };
  return merge(base, over) as ControlConfig;
}

function merge(a: unknown, b: unknown): unknown {
  if (b === undefined) return a;
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a)) {
    const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
    for (const [k, v] of Object.entries(b as Record<string, unknown>)) out[k] = merge((a as Record<string, unknown>)[k], v);
    return out;
  }
  return b;
}

export const testCard: CardLimits = { minLimitW: 100, maxLimitW: 350, defaultLimitW: 350, powerManagement: true };

export const autoOperator: OperatorState = { mode: 'auto', preset: 'none', manualSetpointC: null, override: null, powerCapW: null, drain: false };

export const idleWork: WorkState = { busy: 0, queued: 0, oldestWaitS: 0, modelLoaded: true, modelLoading: false, assumeWork: true, fault: null };

/** One tick's input with a fresh room reading; override what the row needs. */
export function tickAt(t: number, room: number | null, over: Partial<TickInput> = {}): TickInput {
  return {
    now: { monoS: t, wallMs: Date.UTC(2026, 0, 5) + t * 1000 },
    inputs: {
      room_temperature: room === null ? null : { value: room, atMonoS: t },
      setpoint: null,
      outdoor_temperature: null,
      wall_power: null,
      window_open: null,
    },
    operator: autoOperator,
    schedule: null,
    card: testCard,
    gpu: { powerW: 200, tempC: 60, utilPct: 90, memUsedMib: 1000, pstate: 'P2', limitW: null, atMonoS: t },
    work: idleWork,
    ...over,
  };
}
