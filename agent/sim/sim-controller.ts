/**
 * What the simulator hands a controller every tick, and what it gets back.
 * The agent's real core and the baselines (hysteresis, tpi) all implement SimController.
 */

export interface SimObservation {
  /** Scenario time in seconds since the start. */
  tS: number;
  /** Wall-clock epoch ms of the simulated instant (scenario time 0 = Monday 00:00 in the schedule's timezone). */
  wallMs: number;
  /** Room air temperature as the room sensor reports it (°C). */
  roomTempC: number;
  /** The setpoint input the agent receives (scenario `setpoint_c`), or null when the scenario uses a schedule. */
  setpointInputC: number | null;
  /** The effective setpoint for baselines and metrics (setpoint input, else schedule via presets, else default). */
  setpointC: number;
  outdoorC: number;
  /** Unit wall power as a plug would measure it (W). */
  wallPowerW: number;
  /** GPU draw (W) and the enforced limit (W). */
  gpuPowerW: number;
  gpuLimitW: number;
  /** Busy sequences in the last step, queued jobs now. */
  busy: number;
  queued: number;
  /** How long the oldest waiting job has waited (s); 0 when none waits. */
  oldestWaitS: number;
  modelLoaded: boolean;
  modelLoading: boolean;
  /** True in `backlog` work mode (work always available). */
  backlog: boolean;
}

export interface SimCommand {
  /** Desired power limit (the heater clamps it to [min_limit_w, min(max_limit_w, max_power_w)]). */
  limitW: number;
  /** Sequences allowed to be busy (0 = none). */
  sequences: number;
  /** Accept newly arriving jobs (else they count as rejected). */
  accepting: boolean;
  /** Keep/get the model loaded (false = unload now). */
  modelWanted: boolean;
  /** Optional: the controller's demand 0..1 and reasons, for the series CSV. */
  demand?: number;
  reasons?: string[];
}

export interface SimController {
  readonly name: string;
  step(obs: SimObservation): SimCommand;
}
