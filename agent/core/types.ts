/**
 * Types of the pure control core. Nothing here reads a clock or does I/O:
 * every function of core/ receives the time it must use.
 */

export type Mode = 'off' | 'heat' | 'auto';
export type Preset = 'none' | 'frost' | 'eco' | 'comfort' | 'boost';
export type Phase = 'off' | 'idle' | 'warming_up' | 'heating' | 'draining' | 'safe' | 'fault';
export type Action = 'off' | 'idle' | 'heating';
export type SetpointSource = 'override' | 'input' | 'schedule' | 'preset' | 'manual' | 'default';
export type ControllerKind = 'pi' | 'tpi' | 'hysteresis';
export type StaleAction = 'no_heat' | 'hold_minimum';

/** The time handed to the core: a monotonic clock for ages and periods, wall time for schedules. */
export interface Instant {
  /** Monotonic seconds (never jumps; origin arbitrary). */
  monoS: number;
  /** Wall-clock epoch milliseconds (UTC), for schedules and timestamps only. */
  wallMs: number;
}

/** A value last received at `atMonoS` (monotonic seconds). */
export interface Reading<T> {
  value: T;
  atMonoS: number;
}

/** Names of the keys under config `inputs`. */
export type InputName = 'room_temperature' | 'setpoint' | 'outdoor_temperature' | 'wall_power' | 'window_open';

export interface RoomInputs {
  room_temperature: Reading<number> | null;
  setpoint: Reading<number> | null;
  outdoor_temperature: Reading<number> | null;
  wall_power: Reading<number> | null;
  window_open: Reading<boolean> | null;
}

/** Operator intent: set by set/* topics and commands, persisted by the runtime. */
export interface OperatorState {
  mode: Mode;
  preset: Preset;
  /** Manual setpoint used in mode `heat` (null: the preset's or the default). */
  manualSetpointC: number | null;
  /** Override in mode auto; ends after override_s, at the next schedule transition, or when the setpoint input changes. */
  override: { setpointC: number; startedWallMs: number; durationS: number | null; inputAtStartC: number | null } | null;
  /** Operator power ceiling in W (under the site maximum), or null. */
  powerCapW: number | null;
  /** Stop accepting jobs, finish active ones, then idle. */
  drain: boolean;
}

/** The schedule's entry active now, computed by core/schedule. */
export interface ActiveSchedule {
  preset: Preset | null;
  setpointC: number | null;
  /** When this entry became active (wall ms). */
  sinceWallMs: number;
  /** The next transition (wall ms), null if none within the search horizon. */
  nextWallMs: number | null;
  /** What the next transition will set (for optimal start). */
  next: { preset: Preset | null; setpointC: number | null } | null;
}

/** GPU telemetry as read back from the card (or the simulated card). */
export interface GpuTelemetry {
  powerW: number | null;
  tempC: number | null;
  utilPct: number | null;
  memUsedMib: number | null;
  pstate: string | null;
  /** The enforced power limit read back from the card. */
  limitW: number | null;
  atMonoS: number;
}

/** The card's power range (from the inventory, or the sim heater's physics). */
export interface CardLimits {
  minLimitW: number;
  maxLimitW: number;
  defaultLimitW: number;
  /** False when the card cannot take a power limit (degrade to on/off cycling). */
  powerManagement: boolean;
}

/** What the inference side reports to the controller. */
export interface WorkState {
  /** Sequences busy generating now. */
  busy: number;
  /** Jobs waiting in the queue. */
  queued: number;
  /** How long the oldest waiting job has waited (s); 0 when none waits. */
  oldestWaitS: number;
  modelLoaded: boolean;
  modelLoading: boolean;
  /** True when the sim or config says work is always there (backlog / assume_work). */
  assumeWork: boolean;
  /** A worker fault that blocks inference (crash loop, CPU fallback on a GPU heater). */
  fault: string | null;
}

/** Thermostat, heater and safety settings the core needs (a projection of the config). */
export interface ControlConfig {
  thermostat: {
    defaultSetpointC: number;
    minSetpointC: number;
    maxSetpointC: number;
    overrideS: number;
    presets: { frost: number; eco: number; comfort: number; boost: number };
    controller: ControllerKind;
    minOnS: number;
    minOffS: number;
    /** PI gains. */
    pi: { kp: number; tiS: number; outdoorGain: number };
    /** Period of time-proportional cycling when less heat is wanted than the efficient power makes. */
    cycleS: number;
    /**
     * Pre-charge (K above the setpoint) while the unit was capacity-limited within the last day:
     * spare capacity is stored in the building's mass for the next cold period. 0 disables.
     */
    prechargeK: number;
  };
  heater: {
    maxPowerW: number;
    minPowerW: number | null;
    /** Power at which the card is run when cycling (the efficient point); null: derived from the card. */
    efficientPowerW: number | null;
    limitDeadbandW: number;
    limitMinIntervalS: number;
    hostW: number;
  };
  safety: {
    staleAction: StaleAction;
    maxRoomTempC: number;
    gpuThrottleTempC: number;
    gpuStopTempC: number;
    implausibleAfterS: number;
    /** Longest hold of `hold_minimum` before falling back to no heat. */
    holdMinimumMaxS: number;
  };
  inputs: Record<InputName, { configured: boolean; maxAgeS: number | null }>;
  llm: { maxParallel: number; keepAliveS: number };
  /** stretchWaitS: longest wait of a job behind others while scarce work is stretched; 0: never stretch. */
  jobs: { enabled: boolean; serveWithoutHeat: boolean; stretchWaitS: number };
}

export type EventType =
  | 'input_stale'
  | 'input_restored'
  | 'input_implausible'
  | 'safe_mode_entered'
  | 'safe_mode_left'
  | 'window_open'
  | 'thermal_throttle'
  | 'overtemp_stop';

export interface CoreEvent {
  type: EventType;
  severity: 'info' | 'warning' | 'error';
  [key: string]: unknown;
}

/** Everything the core is given on one tick. */
export interface TickInput {
  now: Instant;
  inputs: RoomInputs;
  operator: OperatorState;
  schedule: ActiveSchedule | null;
  card: CardLimits;
  gpu: GpuTelemetry | null;
  work: WorkState;
}

/** The heat decision: what the runtime (or the simulator) must make the heater do. */
export interface HeatDecision {
  mode: Mode;
  preset: Preset;
  phase: Phase;
  action: Action;
  setpointC: number | null;
  setpointSource: SetpointSource;
  roomTempC: number | null;
  outdoorTempC: number | null;
  /** Controller output 0..1 before minimum on/off times (0 when it cannot be computed). */
  demand: number;
  /** True when the unit is to make heat now (after min on/off, cycling and safety). */
  heat: boolean;
  /** The power limit the card should have now (clamped). */
  targetLimitW: number;
  /** Write the limit now (deadband, interval and mismatch rules applied). */
  writeLimit: boolean;
  /** Sequences allowed to be busy now (0..max_parallel). */
  sequences: number;
  /** Accept new jobs now. */
  accepting: boolean;
  /** Keep (or get) the model loaded. */
  modelWanted: boolean;
  safeMode: boolean;
  inputsStale: InputName[];
  reasons: string[];
  /** The override ended on this tick: the runtime clears it from the operator state. */
  overrideEnded: boolean;
  events: CoreEvent[];
}
