/**
 * A simulated room in accelerated real time, for the demo: the 2R2C RoomModel
 * (spec/simulation.md "Room: 2R2C") stepped from a real timer, `speed` simulated seconds per real
 * second (60 = one simulated minute per real second). The unit's heat input is read from a
 * callback (the sim heater's wall power) and held until the next advance; outdoor temperature,
 * base heating and gains follow `[hour, value]` profiles like a scenario's.
 *
 * Reads (`simNowMs()`, `tiC`, `snapshot()`, …) first bring the room up to the present, so the
 * simulated clock and the room state always agree. The timer only keeps it moving (and calls
 * `onTick`). A stalled event loop is caught up at most `maxCatchUpS` simulated seconds per
 * advance: past that, simulated time falls behind real time rather than block the loop.
 */
import { AgentError, errorMessage } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { Clock } from '../ports/clock.js';
import { DEFAULT_ROOM_PARAMS, RoomModel, maxStableStepS, type RoomParams } from './room-model.js';
import { heldSeries, linearSeries, type SeriesAt, type SeriesPoints } from './series.js';

export interface DemoRoomOptions {
  /** Simulated seconds per real second (60 = one simulated minute per real second). */
  speed: number;
  /** The unit's heat input now, W (the sim heater's wall power). Sampled after each advance and held over the next. */
  heatW: () => number;
  /** 2R2C parameters (default: spec defaults, a 20 m² office). */
  room?: Partial<RoomParams>;
  /** Initial room air temperature, °C (default 19). */
  ti0C?: number;
  /** Initial building mass temperature, °C (default ti0C). */
  tm0C?: number;
  /** Outdoor temperature `[hour, °C]`, linear between points (default [[0, 5]]). */
  outdoorC?: SeriesPoints<number>;
  /** Building main heating `[hour, W]`, held (default [[0, 0]]). */
  baseHeatingW?: SeriesPoints<number>;
  /** People, equipment, sun `[hour, W]`, held (default [[0, 0]]). */
  gainsW?: SeriesPoints<number>;
  /** Profile hour at the start (7 = start at 07:00 of the profiles; default 0). */
  startHour?: number;
  /** Simulated wall clock at the start, epoch ms (default: the real wall time when start() runs). */
  simStartMs?: number;
  /** Integration step, simulated seconds (default 1; at most half the model's stability limit). */
  stepS?: number;
  /** Real timer period, ms (default 100). */
  tickMs?: number;
  /** Most simulated seconds integrated in one advance (default 21 600). */
  maxCatchUpS?: number;
  /** Real monotonic clock, ms (default performance.now()). */
  realNowMs?: () => number;
  /** Real wall clock, epoch ms, for the default simStartMs (default Date.now()). */
  wallNowMs?: () => number;
  /** Called after each timer advance with the state then. */
  onTick?: (s: DemoRoomSnapshot) => void;
  log?: Logger;
}

export interface DemoRoomSnapshot {
  /** Simulated wall clock, epoch ms. */
  simNowMs: number;
  /** Simulated seconds since start. */
  simElapsedS: number;
  /** Real ms since start. */
  realElapsedMs: number;
  /** Profile hour now (startHour + simulated hours). */
  hour: number;
  /** Room air, °C. */
  tiC: number;
  /** Building mass, °C. */
  tmC: number;
  outdoorC: number;
  baseHeatingW: number;
  gainsW: number;
  /** The unit's heat input held now, W. */
  heatW: number;
  /** ∫ heat input dt since start, kWh. */
  heatKwh: number;
}

const DEFAULTS = {
  ti0C: 19,
  outdoorC: [[0, 5]] as SeriesPoints<number>,
  baseHeatingW: [[0, 0]] as SeriesPoints<number>,
  gainsW: [[0, 0]] as SeriesPoints<number>,
  stepS: 1,
  tickMs: 100,
  maxCatchUpS: 21_600,
};

function check(ok: boolean, key: string, message: string): void {
  if (!ok) throw new AgentError('demo_room_invalid', `demo room ${key}: ${message}`, { key });
}

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

export class DemoRoom {
  readonly params: RoomParams;
  readonly stepS: number;
  private readonly opts: DemoRoomOptions;
  private readonly model: RoomModel;
  private readonly outdoorAt: SeriesAt<number>;
  private readonly baseAt: SeriesAt<number>;
  private readonly gainsAt: SeriesAt<number>;
  private readonly realNow: () => number;
  private readonly wallNow: () => number;
  private readonly log: Logger;
  private speedX: number;
  private timer: ReturnType<typeof setInterval> | undefined;
  private running = false;
  private advancing = false;
  private simStart: number | undefined;
  private realStart = 0;
  /** Real time and simulated seconds of the last speed anchor (start or setSpeed). */
  private anchorReal = 0;
  private anchorSimS = 0;
  private simS = 0;
  private heldHeatW = 0;
  private energyJ = 0;

  constructor(opts: DemoRoomOptions) {
    check(finite(opts.speed) && opts.speed > 0, 'speed', 'must be a positive number');
    const params: RoomParams = { ...DEFAULT_ROOM_PARAMS, ...opts.room };
    for (const [k, v] of Object.entries(params)) check(finite(v) && v > 0, `room.${k}`, 'must be a positive number');
    const stepS = opts.stepS ?? DEFAULTS.stepS;
    const stable = maxStableStepS(params);
    check(finite(stepS) && stepS > 0 && stepS <= stable / 2, 'stepS', `must be in (0, ${(stable / 2).toFixed(1)}] s for these room parameters`);
    const tickMs = opts.tickMs ?? DEFAULTS.tickMs;
    check(finite(tickMs) && tickMs > 0, 'tickMs', 'must be a positive number of ms');
    const maxCatchUpS = opts.maxCatchUpS ?? DEFAULTS.maxCatchUpS;
    check(finite(maxCatchUpS) && maxCatchUpS > 0, 'maxCatchUpS', 'must be a positive number of s');
    const ti0 = opts.ti0C ?? DEFAULTS.ti0C;
    const tm0 = opts.tm0C ?? ti0;
    check(finite(ti0) && finite(tm0), 'ti0C/tm0C', 'must be finite');
    this.opts = opts;
    this.params = params;
    this.stepS = stepS;
    this.speedX = opts.speed;
    this.model = new RoomModel(params, ti0, tm0);
    this.outdoorAt = linearSeries(opts.outdoorC ?? DEFAULTS.outdoorC);
    this.baseAt = heldSeries(opts.baseHeatingW ?? DEFAULTS.baseHeatingW);
    this.gainsAt = heldSeries(opts.gainsW ?? DEFAULTS.gainsW);
    this.realNow = opts.realNowMs ?? (() => performance.now());
    this.wallNow = opts.wallNowMs ?? (() => Date.now());
    this.log = (opts.log ?? silentLogger()).child({ component: 'demo-room' });
  }

  /** Start the clock (simulated time 0 = now) and the timer. Idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.simStart ??= this.opts.simStartMs ?? this.wallNow();
    this.realStart = this.realNow();
    this.anchorReal = this.realStart;
    this.anchorSimS = this.simS;
    this.heldHeatW = this.sampleHeat();
    this.timer = setInterval(() => {
      this.sync();
      this.opts.onTick?.(this.snapshot());
    }, this.opts.tickMs ?? DEFAULTS.tickMs);
  }

  /** Bring the room up to now, then stop the timer; the state stays readable (and frozen). Idempotent. */
  stop(): void {
    if (!this.running) return;
    this.sync();
    this.running = false;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Simulated seconds per real second. */
  get speed(): number {
    return this.speedX;
  }

  /** Change the speed from now on (the simulated time reached so far is kept). */
  setSpeed(speed: number): void {
    check(finite(speed) && speed > 0, 'speed', 'must be a positive number');
    if (this.running) {
      this.sync();
      this.anchorReal = this.realNow();
      this.anchorSimS = this.simS;
    }
    this.speedX = speed;
  }

  /** Simulated wall clock, epoch ms (before start(): the simulated start time). */
  simNowMs(): number {
    this.sync();
    return (this.simStart ?? this.opts.simStartMs ?? this.wallNow()) + this.simS * 1000;
  }

  /** Simulated seconds since start. */
  get simElapsedS(): number {
    this.sync();
    return this.simS;
  }

  /** Room air temperature now, °C. */
  get tiC(): number {
    this.sync();
    return this.model.ti;
  }

  /** Building mass temperature now, °C. */
  get tmC(): number {
    this.sync();
    return this.model.tm;
  }

  /** Outdoor temperature now, °C (from the profile). */
  get outdoorC(): number {
    this.sync();
    return this.outdoorAt(this.hourAt(this.simS));
  }

  /** A Clock (ports/clock.ts) that reads simulated time: monoS = simulated seconds since start. */
  simClock(): Clock {
    return { monoS: () => this.simElapsedS, wallMs: () => this.simNowMs() };
  }

  snapshot(): DemoRoomSnapshot {
    this.sync();
    const hour = this.hourAt(this.simS);
    return {
      simNowMs: (this.simStart ?? this.opts.simStartMs ?? this.wallNow()) + this.simS * 1000,
      simElapsedS: this.simS,
      realElapsedMs: this.running ? this.realNow() - this.realStart : 0,
      hour,
      tiC: this.model.ti,
      tmC: this.model.tm,
      outdoorC: this.outdoorAt(hour),
      baseHeatingW: this.baseAt(hour),
      gainsW: this.gainsAt(hour),
      heatW: this.heldHeatW,
      heatKwh: this.energyJ / 3.6e6,
    };
  }

  /**
   * Integrate up to the simulated time that corresponds to the real time now (at most
   * maxCatchUpS per call), with the heat input held from the previous sample, then sample it
   * again. Re-entrant calls (from the heatW callback) return at once.
   */
  sync(): void {
    if (!this.running || this.advancing) return;
    this.advancing = true;
    try {
      const target = this.anchorSimS + ((this.realNow() - this.anchorReal) * this.speedX) / 1000;
      const maxCatchUpS = this.opts.maxCatchUpS ?? DEFAULTS.maxCatchUpS;
      const end = Math.min(target, this.simS + maxCatchUpS);
      let advanced = false;
      while (end - this.simS > 1e-9) {
        const dt = Math.min(this.stepS, end - this.simS);
        const hour = this.hourAt(this.simS);
        this.model.step(dt, {
          toC: this.outdoorAt(hour),
          qUnitW: this.heldHeatW,
          qBaseW: this.baseAt(hour),
          qGainsW: this.gainsAt(hour),
        });
        this.energyJ += this.heldHeatW * dt;
        this.simS += dt;
        advanced = true;
      }
      if (target - this.simS > 1e-6) this.log.debug({ behindS: target - this.simS }, 'demo room behind real time');
      if (advanced) this.heldHeatW = this.sampleHeat();
    } finally {
      this.advancing = false;
    }
  }

  private hourAt(simS: number): number {
    return (this.opts.startHour ?? 0) + simS / 3600;
  }

  private sampleHeat(): number {
    try {
      const w = this.opts.heatW();
      if (finite(w) && w >= 0) return w;
      this.log.warn({ heatW: w }, 'heat input not a finite non-negative number: held at the previous value');
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'heat input callback failed: held at the previous value');
    }
    return this.heldHeatW;
  }
}
