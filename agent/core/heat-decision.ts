/**
 * The heat decision: (room, setpoint, outdoor, measured power, GPU temperature, work, operator
 * intent, time) → demand, power limit, parallel sequences, accept jobs or not, keep the model
 * loaded or not, and the reasons. Pure: the state goes in and comes out; time is an argument.
 *
 * The heater is a valve with three knobs (DESIGN.md): the power limit is only a ceiling, draw
 * comes from the work, and throughput collapses at the bottom of the range. So:
 *  - demand ≥ efficient/max: continuous modulation of the limit between the efficient power and
 *    the ceiling, every sequence busy;
 *  - 0 < demand < efficient/max: time-proportional cycling between idle and the efficient power
 *    (like TPI), never a starved card at its minimum limit;
 *  - jobs are accepted (and the model loaded) only while the room wants heat in the current cycle;
 *    an accepted job is always served; with jobs (not a backlog) the work sets the heat, so while
 *    the room is under the target the card runs at its ceiling and stretches the work: fewer
 *    sequences than jobs, for more heat per token (stretchedSequences);
 *  - keep-alive: the model stays llm.keep_alive_s after the room stops asking, and goes after
 *    keep_alive_s without a job even while it asks (idle heat is not the product);
 *  - pre-charge: for a day after the unit at full power let the room fall out of the comfort band
 *    (capacity-memory.ts), the PI aims thermostat.precharge_k above the setpoint, storing spare
 *    heat in the building's mass for the next cold period;
 *  - optimal start (optimal-start.ts, thermostat.optimal_start): before a scheduled rise of the
 *    setpoint, the PI aims at the next setpoint from (transition − learned lead) on; the learner of
 *    the warm-up rate is fed while the unit heats continuously at high demand;
 *  - safety overrides everything at once; minimum on/off times hold otherwise, except after a
 *    stuck-sensor probe: the cut ends as soon as the sensor moves (it proved alive).
 */
import { initialCapacityState, trackCapacity, type CapacityState } from './capacity-memory.js';
import {
  initialOptimalStartState,
  observeWarmup,
  planOptimalStart,
  transitionSetpointC,
  type OptimalStartSetting,
  type OptimalStartState,
} from './optimal-start.js';
import { clamp, initialPiState, piStep, type PiState } from './pi-controller.js';
import { initialLimitWriteState, planLimitWrite, type LimitWriteState } from './limit-actuator.js';
import {
  freshValue,
  initialGpuThermalState,
  initialStuckState,
  staleInputs,
  trackGpuThermal,
  trackRoomOvertemp,
  trackStuck,
  type GpuThermalState,
  type OvertempState,
  type StuckState,
} from './safety.js';
import { resolveSetpoint } from './setpoint.js';
import type { Action, ControlConfig, CoreEvent, HeatDecision, InputName, Phase, TickInput } from './types.js';

/** GPU telemetry older than this cannot vouch for the card's temperature: no heat. */
export const GPU_TELEMETRY_MAX_AGE_S = 30;
/** Demand under this is treated as none (numerical dust of the integral). */
const DEMAND_EPSILON = 0.01;
/** The room within this of its setpoint (K) keeps the model loaded longer. */
export const KEEP_NEAR_SETPOINT_K = 0.5;
export const KEEP_STRETCH = 6;
/**
 * Default efficient power as a share of the card's maximum limit: just under the knee of tokens/s
 * vs W (0.43). Under the knee throughput collapses; a little under it the card makes ~1 % fewer
 * tokens per joule but cycles with shorter idle off-parts, so more of the room's heat comes from work.
 */
export const EFFICIENT_SHARE_OF_MAX = 0.42;
/** How long a capacity shortfall keeps the pre-charge on: the cold period recurs daily. */
export const PRECHARGE_MEMORY_S = 24 * 3600;
/** Demand from which a continuous heating period teaches the optimal-start learner. */
export const WARMUP_LEARN_DEMAND = 0.9;

export interface CoreState {
  pi: PiState;
  /**
   * Heating or not since `sinceS`. `probe`: this pause was forced by the stuck-sensor check, a probe
   * that ends as soon as the sensor proves alive (it moves when the heat stops), without min_off_s.
   */
  heat: { on: boolean; sinceS: number | null; probe?: boolean };
  /** Current time-proportional cycle: its start and its on-time (s). */
  cycle: { startS: number; onS: number } | null;
  /** Last time the room wanted heat (for the model keep-alive). */
  lastWantS: number | null;
  /**
   * Since when the model has sat loaded with no job (jobs only, not a backlog); null once a job
   * comes. Kept while the model is unloaded, so that it is not loaded again until a job comes.
   */
  idleLoadedSinceS: number | null;
  limit: LimitWriteState;
  overtemp: OvertempState;
  thermal: GpuThermalState;
  stuck: StuckState;
  capacity: CapacityState;
  /** Optimal start: the learned warm-up rate (persisted by the runtime) and the early start in progress. */
  optimalStart: OptimalStartState;
  /** Start of the current input safe mode (for hold_minimum's time limit). */
  safeSinceS: number | null;
  stale: InputName[];
  safeMode: boolean;
  windowOpen: boolean;
}

export function initialCoreState(): CoreState {
  return {
    pi: initialPiState,
    heat: { on: false, sinceS: null },
    cycle: null,
    lastWantS: null,
    idleLoadedSinceS: null,
    limit: initialLimitWriteState,
    overtemp: { sinceS: null },
    thermal: initialGpuThermalState,
    stuck: initialStuckState,
    capacity: initialCapacityState,
    optimalStart: initialOptimalStartState,
    safeSinceS: null,
    stale: [],
    safeMode: false,
    windowOpen: false,
  };
}

/** The power range the decision may use now: floor, efficient point and ceiling (W). */
export function powerBand(
  input: Pick<TickInput, 'card' | 'operator'>,
  cfg: ControlConfig,
): { floorW: number; efficientW: number; ceilingW: number; capped: boolean } {
  const { card, operator } = input;
  const floorW = Math.max(card.minLimitW, cfg.heater.minPowerW ?? card.minLimitW);
  const siteW = Math.min(card.maxLimitW, cfg.heater.maxPowerW);
  const capW = operator.powerCapW ?? Infinity;
  const ceilingW = Math.max(floorW, Math.min(siteW, capW));
  const wanted = cfg.heater.efficientPowerW ?? Math.round(EFFICIENT_SHARE_OF_MAX * card.maxLimitW);
  const efficientW = card.powerManagement ? clamp(wanted, floorW, ceilingW) : ceilingW;
  return { floorW, efficientW, ceilingW, capped: capW < siteW };
}

export function decide(
  state: CoreState,
  input: TickInput,
  cfg: ControlConfig & OptimalStartSetting,
): { state: CoreState; decision: HeatDecision } {
  const nowS = input.now.monoS;
  const { inputs, operator, work, card, gpu } = input;
  const ic = cfg.inputs;
  const events: CoreEvent[] = [];
  const reasons: string[] = [];

  /* ---- inputs: freshness ---- */
  const stale = staleInputs(inputs, ic, nowS);
  for (const name of stale) if (!state.stale.includes(name)) events.push({ type: 'input_stale', severity: 'warning', input: name, never_received: inputs[name] === null });
  for (const name of state.stale) if (!stale.includes(name)) events.push({ type: 'input_restored', severity: 'info', input: name });
  const roomC = freshValue(inputs.room_temperature, ic.room_temperature.maxAgeS, nowS);
  const outdoorC = ic.outdoor_temperature.configured ? freshValue(inputs.outdoor_temperature, ic.outdoor_temperature.maxAgeS, nowS) : null;
  const setpointInput = ic.setpoint.configured ? freshValue(inputs.setpoint, ic.setpoint.maxAgeS, nowS) : null;
  const windowOpen = ic.window_open.configured && freshValue(inputs.window_open, ic.window_open.maxAgeS, nowS) === true;
  if (windowOpen && !state.windowOpen) events.push({ type: 'window_open', severity: 'info' });

  /* ---- setpoint ---- */
  const sp = resolveSetpoint({ nowWallMs: input.now.wallMs, operator, setpointInput, schedule: input.schedule, cfg: cfg.thermostat });

  /* ---- power band ---- */
  const band = powerBand(input, cfg);

  /* ---- optimal start: aim at the next scheduled setpoint from (transition − lead) on ---- */
  const early = planOptimalStart(state.optimalStart, {
    enabled: cfg.thermostat.optimalStart === true,
    nowWallMs: input.now.wallMs,
    mode: operator.mode,
    setpointInputC: setpointInput,
    schedule: input.schedule,
    setpointC: sp.setpointC,
    nextSetpointC: transitionSetpointC(input.schedule?.next ?? null, cfg.thermostat),
    roomC,
    outdoorC,
    maxHeatW: band.ceilingW + cfg.heater.hostW,
  });
  /** The setpoint the controller works to: the resolved one, or the next one while starting early. */
  const controlC = early.targetC ?? sp.setpointC;

  /* ---- cut-offs that do not depend on demand ---- */
  const modeOff = operator.mode === 'off';
  const roomMissing = inputs.room_temperature === null;
  const roomStale = !roomMissing && roomC === null;
  const overtemp = trackRoomOvertemp(state.overtemp, { nowS, roomC, maxC: cfg.safety.maxRoomTempC, minOffS: cfg.thermostat.minOffS });
  if (overtemp.enteredNow) events.push({ type: 'overtemp_stop', severity: 'warning', room_temp_c: roomC, max_room_temp_c: cfg.safety.maxRoomTempC });
  const gpuStale = gpu === null || nowS - gpu.atMonoS > GPU_TELEMETRY_MAX_AGE_S;
  const thermal = trackGpuThermal(state.thermal, {
    tempC: gpuStale ? null : gpu.tempC,
    throttleC: cfg.safety.gpuThrottleTempC,
    stopC: cfg.safety.gpuStopTempC,
    minW: band.floorW,
    maxW: band.ceilingW,
    currentW: gpu?.limitW ?? band.ceilingW,
  });
  if (thermal.throttledNow) events.push({ type: 'thermal_throttle', severity: 'warning', gpu_temp_c: gpu?.tempC ?? null });
  if (thermal.stoppedNow) events.push({ type: 'overtemp_stop', severity: 'error', gpu_temp_c: gpu?.tempC ?? null, max_gpu_temp_c: cfg.safety.gpuStopTempC });
  const fault = work.fault !== null || gpuStale;

  /* ---- controller ---- */
  const blockedBeforeDemand = modeOff || roomC === null || overtemp.cut || windowOpen || thermal.state.stopped || fault || operator.drain;
  const starved = state.heat.on && !work.assumeWork && work.busy === 0 && work.queued === 0;
  // Pre-charge: the unit was capacity-limited within the last day, so it aims a little above the
  // setpoint while it has spare capacity, storing heat in the building's mass for the next cold period.
  const cap0 = state.capacity.shortfallS;
  const precharging = cap0 !== null && nowS - cap0 < PRECHARGE_MEMORY_S && cfg.thermostat.prechargeK > 0;
  /** What the PI aims at: the setpoint, plus the pre-charge while it is on. */
  const targetC = controlC + (precharging ? cfg.thermostat.prechargeK : 0);
  let pi = state.pi;
  let demand = 0;
  if (modeOff) {
    pi = { integral: 0, lastMonoS: nowS };
  } else if (roomC === null) {
    pi = { integral: pi.integral, lastMonoS: nowS };
  } else {
    const stepped = piStep(
      state.pi,
      {
        nowS,
        setpointC: targetC,
        roomTempC: roomC,
        outdoorTempC: outdoorC,
        canIntegrateUp: !blockedBeforeDemand && !starved && !work.modelLoading,
      },
      cfg.thermostat.pi,
    );
    pi = stepped.state;
    demand = stepped.demand < DEMAND_EPSILON ? 0 : stepped.demand;
  }

  /* ---- stuck sensor (needs demand) ---- */
  const stuck = trackStuck(state.stuck, { nowS, roomC, demand, heating: state.heat.on, afterS: cfg.safety.implausibleAfterS });
  if (stuck.flaggedNow) events.push({ type: 'input_implausible', severity: 'error', input: 'room_temperature', value: roomC, after_s: cfg.safety.implausibleAfterS });

  /* ---- input safe mode ---- */
  const inputUnsafe = roomMissing || roomStale || stuck.implausible;
  const safeSinceS = inputUnsafe ? (state.safeSinceS ?? nowS) : null;
  const holdMinimum =
    inputUnsafe && cfg.safety.staleAction === 'hold_minimum' && safeSinceS !== null && nowS - safeSinceS < cfg.safety.holdMinimumMaxS;
  const safeMode = inputUnsafe || thermal.state.stopped;
  if (safeMode && !state.safeMode) events.push({ type: 'safe_mode_entered', severity: 'warning', reasons: safeReasons() });
  if (!safeMode && state.safeMode) events.push({ type: 'safe_mode_left', severity: 'info' });

  function safeReasons(): string[] {
    const r: string[] = [];
    if (roomMissing) r.push('input_missing');
    if (roomStale) r.push('input_stale');
    if (stuck.implausible) r.push('input_implausible');
    if (thermal.state.stopped) r.push('gpu_overtemp');
    return r;
  }

  /* ---- what the room asks for, before the minimum times ---- */
  const forcedOff = modeOff || (inputUnsafe && !holdMinimum) || overtemp.cut || windowOpen || thermal.state.stopped || fault || operator.drain;
  const uEff = band.ceilingW > 0 ? band.efficientW / band.ceilingW : 1;
  const continuous = demand >= uEff;
  let cycle = state.cycle;
  let want: boolean;
  if (forcedOff || holdMinimum) {
    want = holdMinimum;
    cycle = null;
  } else if (demand <= 0) {
    want = false;
    cycle = null;
  } else if (continuous) {
    want = true;
    cycle = null;
  } else {
    // Time-proportional cycling at the efficient power (like TPI): the on-time is set at the
    // start of each cycle from the demand then; the room's fast response within a cycle is ripple,
    // not a reason to cut the on-part short.
    const period = cfg.thermostat.cycleS;
    if (cycle === null || nowS - cycle.startS >= period) {
      let onS = (demand / uEff) * period;
      if (onS < cfg.thermostat.minOnS) onS = 0;
      if (period - onS < cfg.thermostat.minOffS) onS = period;
      cycle = { startS: nowS, onS };
    }
    want = nowS - cycle.startS < cycle.onS;
    reasons.push('cycling');
  }

  /* ---- minimum on/off times (safety overrides them) ---- */
  let heat = want;
  const held = state.heat.sinceS === null ? Infinity : nowS - state.heat.sinceS;
  if (!forcedOff && !holdMinimum) {
    if (state.heat.on && !want && held < cfg.thermostat.minOnS) {
      heat = true;
      reasons.push('min_on_time');
    } else if (!state.heat.on && want && held < cfg.thermostat.minOffS && state.heat.probe !== true) {
      heat = false;
      reasons.push('min_off_time');
    }
  }
  const heatState =
    heat === state.heat.on ? state.heat : heat ? { on: true, sinceS: nowS } : { on: false, sinceS: nowS, probe: stuck.implausible };

  /* ---- accepted jobs outside the heating time: serve them at the efficient power ---- */
  const jobsWaiting = !work.assumeWork && work.busy + work.queued > 0;
  const serveQueued = !heat && !forcedOff && !holdMinimum && jobsWaiting;
  // Scarce work: jobs (not a backlog) while the room is under the target. The work, not the limit,
  // sets the heat, so the card runs at its ceiling: a limit modulated down would only make the
  // scarce work give less heat while the room is short of it. And it stretches the work: fewer
  // sequences than jobs (stretchedSequences). One stream draws less than a batch but makes fewer
  // tokens per joule, so each job gives more heat, and the card runs busy instead of idle between
  // jobs. With stretching off (jobs.stretch_wait_s 0), the ceiling holds only while no job waits.
  const scarceWork = heat && continuous && !work.assumeWork && roomC !== null && roomC < targetC;
  const stretching = scarceWork && cfg.jobs.stretchWaitS > 0;
  const serveWithoutHeat =
    !heat && cfg.jobs.serveWithoutHeat && cfg.jobs.enabled && !modeOff && !operator.drain && !inputUnsafe && !overtemp.cut && !thermal.state.stopped && !fault;

  /* ---- power limit ---- */
  let targetW: number;
  if (holdMinimum) targetW = band.floorW;
  else if (heat && continuous) targetW = stretching || (scarceWork && work.queued === 0) ? band.ceilingW : demand * band.ceilingW;
  else if (heat || serveQueued) targetW = band.efficientW;
  else targetW = band.floorW;
  if (thermal.state.capW !== null) targetW = Math.min(targetW, thermal.state.capW);
  targetW = Math.round(clamp(targetW, band.floorW, band.ceilingW));
  const safetyReduction = forcedOff || holdMinimum || thermal.state.capW !== null || band.capped;
  const plan = planLimitWrite(state.limit, {
    nowS,
    targetW,
    enforcedW: gpuStale ? null : (gpu?.limitW ?? null), // a stale read-back cannot vouch for the card
    safetyReduction,
    supported: card.powerManagement,
    deadbandW: cfg.heater.limitDeadbandW,
    minIntervalS: cfg.heater.limitMinIntervalS,
    atRangeEnd: targetW === band.ceilingW || targetW === band.floorW,
  });

  /* ---- capacity memory: saturated at the ceiling with more work than it can do ---- */
  // Only while the model is loaded and serving: during the load the unit draws loaded-idle power,
  // so a room that slips under the band then was never short of the unit's capacity.
  const serving = work.modelLoaded && !work.modelLoading;
  const saturated = heat && continuous && demand >= 1 && targetW >= band.ceilingW && serving && (work.assumeWork || work.queued > 0);
  const capacity = trackCapacity(state.capacity, { nowS, roomC, setpointC: controlC, saturated, memoryS: PRECHARGE_MEMORY_S });

  /* ---- optimal start learner: the room's rise while heating continuously at high demand ---- */
  const learned = observeWarmup(early.state, {
    nowS,
    roomC,
    outdoorC,
    heatW: gpuStale || gpu.powerW === null ? null : gpu.powerW + cfg.heater.hostW,
    warming: heat && continuous && demand >= WARMUP_LEARN_DEMAND && !forcedOff && !holdMinimum && !work.modelLoading,
  });

  /* ---- sequences, jobs, model ---- */
  const maxSeq = cfg.llm.maxParallel;
  let sequences = 0;
  if (holdMinimum) sequences = 1;
  else if (heat) sequences = stretching ? stretchedSequences(work, maxSeq, cfg.jobs.stretchWaitS) : maxSeq;
  else if (serveQueued) sequences = Math.min(maxSeq, work.busy + work.queued);
  else if (serveWithoutHeat) sequences = maxSeq;
  // The room wants heat now or within the current cycle. A demand too small to give an on-part
  // (its on-time would be under min_on_s) neither loads the model nor takes jobs: their heat is
  // not wanted here (they go to a heater whose room wants it).
  const heatPlanned = !forcedOff && (want || (cycle !== null && cycle.onS > 0));
  const accepting =
    cfg.jobs.enabled &&
    !forcedOff &&
    (holdMinimum || heat || heatPlanned || serveWithoutHeat);
  const wantsHeat = heat || heatPlanned || serveQueued;
  const lastWantS = wantsHeat || serveWithoutHeat ? nowS : state.lastWantS;
  // Mode off and drain release the model as soon as the work is done (the runtime never unloads
  // under running jobs); other cut-offs may be brief, so the keep-alive applies.
  const needsModel = cfg.jobs.enabled || work.assumeWork;
  const released = modeOff || operator.drain || !needsModel;
  // No load/unload thrash: a room that sits just above its setpoint will ask again soon, so the
  // keep-alive stretches (up to KEEP_STRETCH × keep_alive_s) while the room stays near it.
  const nearSetpoint = roomC !== null && roomC < controlC + KEEP_NEAR_SETPOINT_K && !forcedOff;
  const keepS = cfg.llm.keepAliveS * (nearSetpoint ? KEEP_STRETCH : 1);
  // Jobs are the only work (not a backlog) and the model sat loaded keep_alive_s without one: it
  // goes even if the room wants heat. A resident model with nothing to do makes idle heat, not
  // useful work; the next job loads it again (it is accepted while the room wants heat).
  const idleLoadedSinceS =
    work.assumeWork || jobsWaiting ? null : work.modelLoaded && !work.modelLoading ? (state.idleLoadedSinceS ?? nowS) : state.idleLoadedSinceS;
  const workless = idleLoadedSinceS !== null && nowS - idleLoadedSinceS >= cfg.llm.keepAliveS;
  const modelWanted = !released && (jobsWaiting || (!workless && (wantsHeat || serveWithoutHeat || (lastWantS !== null && nowS - lastWantS < keepS))));

  /* ---- phase, action, reasons ---- */
  const busy = work.busy > 0;
  const heatingNow = heat || serveQueued;
  let phase: Phase;
  if (modeOff) phase = busy ? 'draining' : 'off';
  else if (fault) phase = 'fault';
  else if (safeMode && !holdMinimum) phase = 'safe';
  else if (heatingNow || holdMinimum) phase = work.modelLoading || (!work.modelLoaded && needsModel && modelWanted) ? 'warming_up' : 'heating';
  else phase = busy ? 'draining' : 'idle';
  const action: Action = modeOff ? 'off' : heatingNow || holdMinimum ? 'heating' : 'idle';

  if (modeOff) reasons.push('mode_off');
  if (roomMissing) reasons.push('input_missing');
  if (roomStale) reasons.push('input_stale');
  if (stuck.implausible) reasons.push('input_implausible');
  if (holdMinimum) reasons.push('hold_minimum');
  if (windowOpen) reasons.push('window_open');
  if (overtemp.cut) reasons.push('room_overtemp');
  if (thermal.state.stopped) reasons.push('gpu_overtemp');
  else if (thermal.state.capW !== null) reasons.push('gpu_throttle');
  if (gpuStale) reasons.push('gpu_telemetry_stale');
  if (work.fault !== null) reasons.push(work.fault);
  if (operator.drain) reasons.push('draining');
  if (!card.powerManagement) reasons.push('no_power_management');
  if (band.capped) reasons.push('power_capped');
  if (roomC !== null && !modeOff) reasons.push(roomC < controlC ? 'below_setpoint' : 'at_setpoint');
  if (early.targetC !== null) reasons.push('optimal_start');
  if (precharging) reasons.push('precharge');
  if (serveQueued) reasons.push('serving_queued');
  if (serveWithoutHeat) reasons.push('serve_without_heat');
  if (heat && !work.assumeWork && work.busy === 0 && work.queued === 0 && (work.modelLoaded || workless)) reasons.push('no_work');
  if (phase === 'warming_up') reasons.push('model_loading');

  const decision: HeatDecision = {
    mode: operator.mode,
    preset: sp.preset,
    phase,
    action,
    setpointC: sp.setpointC,
    setpointSource: sp.source,
    roomTempC: roomC,
    outdoorTempC: outdoorC,
    demand: round3(demand),
    heat: heatingNow || holdMinimum,
    targetLimitW: targetW,
    writeLimit: plan.write,
    sequences,
    accepting,
    modelWanted,
    safeMode,
    inputsStale: stale,
    reasons,
    overrideEnded: sp.overrideEnded,
    events,
  };
  const next: CoreState = {
    pi,
    heat: heatState,
    cycle,
    lastWantS,
    idleLoadedSinceS,
    limit: plan.state,
    overtemp: overtemp.state,
    thermal: thermal.state,
    stuck: stuck.state,
    capacity: capacity.state,
    optimalStart: learned.state,
    safeSinceS,
    stale,
    safeMode,
    windowOpen,
  };
  return { state: next, decision };
}

/**
 * Sequences while stretching scarce work: one for every two jobs in the heater (running or
 * queued), never fewer than are running (a running job is not paused). The queue stays short:
 * when jobs come faster than fewer sequences serve them, more open; and a job that has waited
 * `waitS` gets a sequence of its own.
 */
export function stretchedSequences(work: Pick<TickInput['work'], 'busy' | 'queued' | 'oldestWaitS'>, maxSeq: number, waitS: number): number {
  const waitedEnough = work.queued > 0 && work.oldestWaitS >= waitS ? work.busy + 1 : 0;
  return Math.min(maxSeq, Math.max(1, work.busy, Math.ceil((work.busy + work.queued) / 2), waitedEnough));
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
