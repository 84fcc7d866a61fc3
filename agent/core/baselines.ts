/**
 * Baseline controllers for side-by-side comparison in the simulator, exactly as
 * spec/simulation.md "Baseline controllers" describes them. Pure: state lives in the returned
 * object, time comes only from `obs.tS`. Structurally compatible with sim's SimController.
 *
 * Both are evaluated every tick from t = 0 and start off, with no hold timer running.
 * - hysteresis (like Home Assistant generic_thermostat): on when Ti ≤ Tset − 0.3, off when
 *   Ti ≥ Tset + 0.3, each state held ≥ 300 s.
 * - tpi (like Versatile Thermostat): cycles of 600 s aligned on t = 0; at each cycle start
 *   on% = clamp(0.6·(Tset − Ti) + 0.01·(Tset − To), 0, 1); on for on%·600 s (0 if under 10 s).
 * On: limit = max_power_w, sequences = max_parallel (the simulator caps them at the jobs there
 * are, so with job work this is "all queued jobs"), accepting jobs, model wanted.
 * Off: sequences 0, not accepting; the model stays loaded keep_alive_s after the last on period,
 * then is unloaded. The limit stays at max_power_w (baselines do not modulate it).
 */

export interface BaselineConfig {
  /** Config heater.max_power_w. */
  maxPowerW: number;
  /** Config llm.max_parallel. */
  maxParallel: number;
  /** Config llm.keep_alive_s. */
  keepAliveS: number;
}

/** What a baseline reads of an observation (a subset of the simulator's). */
export interface BaselineObservation {
  tS: number;
  roomTempC: number;
  setpointC: number;
  outdoorC: number;
}

export interface BaselineCommand {
  limitW: number;
  sequences: number;
  accepting: boolean;
  modelWanted: boolean;
  demand: number;
  reasons: string[];
}

export interface BaselineController {
  readonly name: string;
  step(obs: BaselineObservation): BaselineCommand;
}

export const HYSTERESIS_DELTA_K = 0.3;
export const HYSTERESIS_MIN_HOLD_S = 300;
export const TPI_CYCLE_S = 600;
export const TPI_KINT = 0.6;
export const TPI_KEXT = 0.01;
export const TPI_MIN_ON_S = 10;
/** Float slack on the threshold comparisons so that e.g. 20.7 ≤ 21 − 0.3 holds. */
const EPS = 1e-9;

/** The on/off → command part shared by both baselines (with the keep-alive timer). */
function onOffActuator(cfg: BaselineConfig): (tS: number, on: boolean, demand: number, reasons: string[]) => BaselineCommand {
  let wasOn = false;
  let offSinceS: number | null = null;
  return (tS, on, demand, reasons) => {
    if (wasOn && !on) offSinceS = tS;
    wasOn = on;
    const modelWanted = on || (offSinceS !== null && tS - offSinceS < cfg.keepAliveS);
    return {
      limitW: cfg.maxPowerW,
      sequences: on ? cfg.maxParallel : 0,
      accepting: on,
      modelWanted,
      demand,
      reasons: on ? reasons : modelWanted ? [...reasons, 'keep_alive'] : reasons,
    };
  };
}

export function createHysteresis(cfg: BaselineConfig): BaselineController {
  const act = onOffActuator(cfg);
  let on = false;
  let switchedS: number | null = null;
  return {
    name: 'hysteresis',
    step(obs) {
      const held = switchedS === null || obs.tS - switchedS >= HYSTERESIS_MIN_HOLD_S - EPS;
      const reasons: string[] = [];
      if (!on && obs.roomTempC <= obs.setpointC - HYSTERESIS_DELTA_K + EPS) {
        if (held) {
          on = true;
          switchedS = obs.tS;
        } else reasons.push('min_off_hold');
      } else if (on && obs.roomTempC >= obs.setpointC + HYSTERESIS_DELTA_K - EPS) {
        if (held) {
          on = false;
          switchedS = obs.tS;
        } else reasons.push('min_on_hold');
      }
      reasons.unshift(on ? 'below_setpoint' : 'above_setpoint');
      return act(obs.tS, on, on ? 1 : 0, reasons);
    },
  };
}

/** TPI's on-time (s) of a cycle for the given temperatures. */
export function tpiOnTimeS(setpointC: number, roomTempC: number, outdoorC: number): number {
  const raw = TPI_KINT * (setpointC - roomTempC) + TPI_KEXT * (setpointC - outdoorC);
  const onPct = Math.min(1, Math.max(0, raw));
  const onS = onPct * TPI_CYCLE_S;
  return onS < TPI_MIN_ON_S ? 0 : onS;
}

export function createTpi(cfg: BaselineConfig): BaselineController {
  const act = onOffActuator(cfg);
  let cycleStartS: number | null = null;
  let onS = 0;
  return {
    name: 'tpi',
    step(obs) {
      // Cycles start at k·600 s; a cycle is (re)computed at the first tick inside it.
      const k = Math.floor((obs.tS + EPS) / TPI_CYCLE_S);
      const start = k * TPI_CYCLE_S;
      if (cycleStartS === null || start > cycleStartS) {
        cycleStartS = start;
        onS = tpiOnTimeS(obs.setpointC, obs.roomTempC, obs.outdoorC);
      }
      const on = obs.tS - cycleStartS < onS - EPS;
      return act(obs.tS, on, onS / TPI_CYCLE_S, [on ? 'tpi_on' : 'tpi_off']);
    },
  };
}
