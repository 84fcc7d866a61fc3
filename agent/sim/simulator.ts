/**
 * The simulator loop (spec/simulation.md): a 2R2C room, the heater unit and the work, stepped every
 * step_s; the controller decides every tick_s from t = 0. Deterministic: same scenario and
 * controller → same result.
 *
 * Order within a step starting at t (scenario seconds):
 *  1. tick (when due): the controller observes the state at t (Ti at t; power, draw and busy of
 *     the previous step; jobs waiting now) and its command is applied: limit (clamped, a change
 *     counts in limit_changes), model wanted (a load starts, counted in model_loads; false unloads
 *     at once), sequences and accepting kept until the next tick;
 *  2. jobs arriving in [t, t + step_s) are queued when accepting, else rejected;
 *  3. busy n = min(sequences, max_parallel, jobs there are (backlog: sequences)), 0 unless the
 *     model is loaded; draw, wall power and tokens over the step; jobs served;
 *  4. metrics with the values at t; the room advances with Q_unit = that wall power.
 */
import { SimHeaterUnit } from '../adapters/gpu/sim-heater-physics.js';
import { MetricsAccumulator, roundMetrics, type SimMetrics } from './metrics.js';
import { RoomModel } from './room-model.js';
import type { Scenario } from './scenario.js';
import { heldSeries, linearSeries } from './series.js';
import { createSetpointSource, scenarioStartWallMs } from './setpoint-source.js';
import type { SimCommand, SimController, SimObservation } from './sim-controller.js';
import { WorkModel } from './work.js';

/** One row of the time series (sampled every seriesEveryS of scenario time). */
export interface SimSeriesRow {
  t_h: number;
  ti: number;
  tm: number;
  to: number;
  tset: number;
  occupied: boolean;
  /** The controller's demand 0..1 (null when it gives none). */
  demand: number | null;
  limit_w: number;
  gpu_w: number;
  wall_w: number;
  busy: number;
  queued: number;
  model_loaded: boolean;
  accepting: boolean;
  tokens_per_s: number;
}

export interface SimResult {
  scenario: string;
  controller: string;
  metrics: SimMetrics;
  series?: SimSeriesRow[];
}

export interface SimOptions {
  /** Series sampling period in scenario seconds (default 60; 0 = no series). */
  seriesEveryS?: number;
}

const SLACK = 1e-9;

export function runSimulation(scenario: Scenario, controller: SimController, opts: SimOptions = {}): SimResult {
  const s = scenario;
  const seriesEveryS = opts.seriesEveryS ?? 60;
  const durationS = s.durationH * 3600;
  const steps = Math.round(durationS / s.stepS);
  const dt = s.stepS;
  const { maxPowerW, maxParallel } = s.settings;

  const room = new RoomModel(s.room, s.room.ti0C, s.room.tm0C);
  const heater = new SimHeaterUnit({ physics: s.heater, maxPowerW, maxParallel });
  const work = new WorkModel(s.jobs, durationS);
  const metrics = new MetricsAccumulator();
  const outdoorAt = linearSeries(s.outdoorC);
  const baseAt = heldSeries(s.baseHeatingW);
  const gainsAt = heldSeries(s.gainsW);
  const occupiedAt = heldSeries(s.occupied);
  const setpointAt = createSetpointSource(s);
  const wall0 = scenarioStartWallMs(s);
  const series: SimSeriesRow[] = [];

  let cmd: SimCommand = { limitW: heater.limitW, sequences: 0, accepting: false, modelWanted: false };
  let last = heater.peek(0);
  let nextTickS = 0;
  let nextRowS = 0;

  for (let k = 0; k < steps; k += 1) {
    const tS = k * dt;
    const hour = tS / 3600;
    const wallMs = wall0 + tS * 1000;
    const toC = outdoorAt(hour);
    const sp = setpointAt(tS, wallMs);

    if (tS + SLACK >= nextTickS) {
      nextTickS += s.tickS * Math.max(1, Math.floor((tS + SLACK - nextTickS) / s.tickS) + 1);
      const obs: SimObservation = {
        tS,
        wallMs,
        roomTempC: room.ti,
        setpointInputC: sp.inputC,
        setpointC: sp.setpointC,
        outdoorC: toC,
        wallPowerW: last.wallW,
        gpuPowerW: last.gpuW,
        gpuLimitW: heater.limitW,
        busy: last.busy,
        queued: work.waiting(last.busy),
        oldestWaitS: work.oldestWaitS(last.busy, tS),
        modelLoaded: heater.modelLoaded,
        modelLoading: heater.modelLoading,
        backlog: work.backlog,
      };
      cmd = controller.step(obs);
      heater.setLimit(cmd.limitW);
      heater.setModelWanted(cmd.modelWanted);
    }

    const loadedAtStart = heater.modelLoaded;
    work.arrive(tS, dt, cmd.accepting);
    const wanted = Math.max(0, Math.min(cmd.sequences, maxParallel, work.inSystem));
    const out = heater.advance(dt, wanted);
    work.serve(out.busy, out.tokens);
    last = out;

    const occupied = occupiedAt(hour);
    metrics.add({ dtS: dt, tiC: room.ti, tsetC: sp.setpointC, occupied, wallW: out.wallW, busy: out.busy, tokens: out.tokens });

    if (seriesEveryS > 0 && tS + SLACK >= nextRowS) {
      nextRowS += seriesEveryS * Math.max(1, Math.floor((tS + SLACK - nextRowS) / seriesEveryS) + 1);
      series.push({
        t_h: hour,
        ti: room.ti,
        tm: room.tm,
        to: toC,
        tset: sp.setpointC,
        occupied,
        demand: cmd.demand ?? null,
        limit_w: heater.limitW,
        gpu_w: out.gpuW,
        wall_w: out.wallW,
        busy: out.busy,
        queued: work.waiting(out.busy),
        model_loaded: loadedAtStart,
        accepting: cmd.accepting,
        tokens_per_s: out.tokensPerS,
      });
    }

    room.step(dt, { toC, qUnitW: out.wallW, qBaseW: baseAt(hour), qGainsW: gainsAt(hour) });
  }

  const result: SimResult = {
    scenario: s.name,
    controller: controller.name,
    metrics: roundMetrics(
      metrics.finish({
        jobsDone: work.jobsDone,
        jobsRejected: work.jobsRejected,
        modelLoads: heater.modelLoads,
        limitChanges: heater.limitChanges,
      }),
    ),
  };
  if (seriesEveryS > 0) result.series = series;
  return result;
}
