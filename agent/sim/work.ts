/**
 * Work offered to the simulated heater (spec/simulation.md "Work").
 * - backlog: work is always there; busy = what the controller asks.
 * - periodic {every_s, tokens}: one job of `tokens` at t = 0, every_s, 2·every_s, … (< duration).
 * - poisson {rate_per_min, tokens, seed}: arrivals of an inhomogeneous Poisson process whose rate
 *   (jobs/min) is held from each `[hour, rate]` point to the next; exponential gaps drawn from
 *   mulberry32(seed), so the arrival times are a pure function of (rates, duration, seed).
 * Jobs arriving while the controller does not accept are rejected (they go to another heater).
 * Accepted jobs queue FIFO; the first `busy` jobs run and share the aggregate tokens equally.
 */
import type { SeriesPoints } from './series.js';

export type JobsSpec =
  | { mode: 'backlog' }
  | { mode: 'periodic'; every_s: number; tokens: number }
  | { mode: 'poisson'; rate_per_min: SeriesPoints<number>; tokens: number; seed: number };

/**
 * mulberry32: a small 32-bit seeded PRNG (Tommy Ettinger's), uniform in [0, 1).
 * Deterministic per seed on every platform (integer arithmetic via Math.imul).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Arrival times (s) of periodic jobs in [0, durationS). */
export function periodicArrivals(everyS: number, durationS: number): number[] {
  const out: number[] = [];
  for (let k = 0; k * everyS < durationS; k += 1) out.push(k * everyS);
  return out;
}

/**
 * Arrival times (s) in [0, durationS) of a Poisson process with a piecewise-constant rate.
 * Method: draw E ~ Exp(1) = −ln(1 − U), walk the rate segments spending E of cumulative
 * intensity; each arrival restarts with a fresh E.
 */
export function poissonArrivals(ratePerMin: SeriesPoints<number>, durationS: number, seed: number): number[] {
  const rand = mulberry32(seed);
  // Segments [startS, endS) with rate per second; the first point's rate also covers hours before it.
  const segs: { startS: number; endS: number; perS: number }[] = [];
  for (let i = 0; i < ratePerMin.length; i += 1) {
    const startS = i === 0 ? 0 : ratePerMin[i]![0] * 3600;
    const endS = i + 1 < ratePerMin.length ? ratePerMin[i + 1]![0] * 3600 : durationS;
    if (endS > startS) segs.push({ startS, endS: Math.min(endS, durationS), perS: Math.max(0, ratePerMin[i]![1]) / 60 });
  }
  const out: number[] = [];
  let t = 0;
  let seg = 0;
  let need = -Math.log(1 - rand());
  while (seg < segs.length) {
    const s = segs[seg]!;
    if (t < s.startS) t = s.startS;
    const available = (s.endS - t) * s.perS;
    if (s.perS > 0 && available >= need) {
      t += need / s.perS;
      if (t >= durationS) break;
      out.push(t);
      need = -Math.log(1 - rand());
    } else {
      need -= available;
      t = s.endS;
      seg += 1;
    }
  }
  return out;
}

/** The work side of the simulator: arrivals, FIFO queue, service. */
export class WorkModel {
  readonly backlog: boolean;
  private readonly arrivals: number[];
  private nextArrival = 0;
  private readonly tokensPerJob: number;
  /** The jobs in the system (running first), FIFO: tokens left and arrival time (s). */
  private queue: Array<{ left: number; atS: number }> = [];
  private done = 0;
  private rejected = 0;
  private accepted = 0;

  constructor(spec: JobsSpec, durationS: number) {
    this.backlog = spec.mode === 'backlog';
    if (spec.mode === 'periodic') {
      this.arrivals = periodicArrivals(spec.every_s, durationS);
      this.tokensPerJob = spec.tokens;
    } else if (spec.mode === 'poisson') {
      this.arrivals = poissonArrivals(spec.rate_per_min, durationS, spec.seed);
      this.tokensPerJob = spec.tokens;
    } else {
      this.arrivals = [];
      this.tokensPerJob = 0;
    }
  }

  /** All arrival times (s), for inspection. */
  get arrivalTimes(): readonly number[] {
    return this.arrivals;
  }
  get jobsDone(): number {
    return this.done;
  }
  get jobsRejected(): number {
    return this.rejected;
  }
  get jobsAccepted(): number {
    return this.accepted;
  }
  /** Jobs in the system (waiting or running); Infinity in backlog mode. */
  get inSystem(): number {
    return this.backlog ? Number.POSITIVE_INFINITY : this.queue.length;
  }
  /** Jobs waiting (not among the `busy` running ones). 0 in backlog mode. */
  waiting(busy: number): number {
    return this.backlog ? 0 : Math.max(0, this.queue.length - busy);
  }

  /** How long (s) the oldest waiting job (not among the `busy` running ones) has waited at `nowS`; 0 when none waits. */
  oldestWaitS(busy: number, nowS: number): number {
    if (this.backlog) return 0;
    const oldest = this.queue[Math.max(0, busy)];
    return oldest ? Math.max(0, nowS - oldest.atS) : 0;
  }

  /** Handle the arrivals in [tS, tS + dtS): queue them when accepting, else count them rejected. */
  arrive(tS: number, dtS: number, accepting: boolean): void {
    const end = tS + dtS;
    while (this.nextArrival < this.arrivals.length && this.arrivals[this.nextArrival]! < end) {
      const atS = this.arrivals[this.nextArrival]!;
      this.nextArrival += 1;
      if (accepting) {
        this.queue.push({ left: this.tokensPerJob, atS });
        this.accepted += 1;
      } else {
        this.rejected += 1;
      }
    }
  }

  /** Serve `tokens` produced by `busy` sequences: the first `busy` jobs share them equally. */
  serve(busy: number, tokens: number): void {
    if (this.backlog || busy < 1 || tokens <= 0) return;
    const n = Math.min(busy, this.queue.length);
    if (n < 1) return;
    const share = tokens / n;
    let finished = 0;
    for (const job of this.queue.slice(0, n)) {
      job.left -= share;
      if (job.left <= 1e-9) finished += 1;
    }
    if (finished === 0) return;
    this.queue = this.queue.filter((job, i) => i >= n || job.left > 1e-9);
    this.done += finished;
  }
}
