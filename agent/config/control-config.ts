import type { ControlConfig, InputName } from '../core/types.js';
import type { OptimalStartSetting } from '../core/optimal-start.js';
import { resolveInputSpec } from '../adapters/mqtt/input-presets.js';
import type { AgentConfig } from './schema.js';

const INPUT_NAMES: readonly InputName[] = ['room_temperature', 'setpoint', 'outdoor_temperature', 'wall_power', 'window_open'];

/**
 * The core's projection of the config. Input max ages come from the same resolver the MQTT side
 * uses (explicit max_age_s, else the preset's, else the input's default: 3600 s for temperatures,
 * 7200 s for a z2m room thermostat, 300 s for wall_power, none for setpoint and window_open).
 */
export function controlConfigFrom(cfg: AgentConfig): ControlConfig & OptimalStartSetting {
  const t = cfg.thermostat;
  const h = cfg.heater;
  const s = cfg.safety;
  const inputs = {} as ControlConfig['inputs'];
  for (const name of INPUT_NAMES) {
    const input = cfg.inputs[name];
    inputs[name] = input === undefined || input === null
      ? { configured: false, maxAgeS: null }
      : { configured: true, maxAgeS: resolveInputSpec(name, input).maxAgeS };
  }
  return {
    thermostat: {
      defaultSetpointC: t.default_setpoint_c,
      minSetpointC: t.min_setpoint_c,
      maxSetpointC: t.max_setpoint_c,
      overrideS: t.override_s,
      presets: { ...t.presets },
      controller: t.controller,
      minOnS: t.min_on_s,
      minOffS: t.min_off_s,
      pi: { kp: t.pi.kp, tiS: t.pi.ti_s, outdoorGain: t.pi.outdoor_gain },
      cycleS: t.cycle_s,
      prechargeK: t.precharge_k,
      optimalStart: t.optimal_start,
    },
    heater: {
      maxPowerW: h.max_power_w,
      minPowerW: h.min_power_w,
      efficientPowerW: h.efficient_power_w,
      limitDeadbandW: h.limit_deadband_w,
      limitMinIntervalS: h.limit_min_interval_s,
      hostW: h.host_w,
    },
    safety: {
      staleAction: s.stale_action,
      maxRoomTempC: s.max_room_temp_c,
      gpuThrottleTempC: s.gpu_throttle_temp_c,
      gpuStopTempC: s.gpu_stop_temp_c,
      implausibleAfterS: s.implausible_after_s,
      holdMinimumMaxS: s.hold_minimum_max_s,
    },
    inputs,
    llm: { maxParallel: cfg.llm.max_parallel, keepAliveS: cfg.llm.keep_alive_s },
    jobs: { enabled: cfg.jobs.enabled, serveWithoutHeat: cfg.jobs.serve_without_heat, stretchWaitS: cfg.jobs.stretch_wait_s },
  };
}
