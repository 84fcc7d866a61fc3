/**
 * Work that is always there (config heater.sim.assume_work, and the daemon before inference is
 * wired): the sequences the decision allows are busy once the "model" has loaded (load_s).
 * Lets a sim heater make heat like a real one without a model.
 */
import type { InferenceControl, InferencePort, InferenceStatus } from '../ports/inference.js';

export class SimulatedWork implements InferencePort {
  private loadedAtS: number | null = null;
  private loadingSinceS: number | null = null;
  private busy = 0;
  private tokens = 0;
  private lastS: number | null = null;

  constructor(
    private readonly opts: { model: string | null; maxParallel: number; loadS: number; tokensPerS: (busy: number) => number },
  ) {}

  async start(): Promise<void> {}
  async stop(): Promise<void> {
    this.busy = 0;
    this.loadedAtS = null;
    this.loadingSinceS = null;
  }

  apply(c: InferenceControl, nowS: number): void {
    if (this.lastS !== null && this.busy > 0) this.tokens += this.opts.tokensPerS(this.busy) * Math.max(0, nowS - this.lastS);
    this.lastS = nowS;
    if (!c.modelWanted) {
      this.loadedAtS = null;
      this.loadingSinceS = null;
    } else if (this.loadedAtS === null) {
      this.loadingSinceS ??= nowS;
      if (nowS - this.loadingSinceS >= this.opts.loadS) {
        this.loadedAtS = nowS;
        this.loadingSinceS = null;
      }
    }
    this.busy = this.loadedAtS !== null ? Math.min(c.sequences, this.opts.maxParallel) : 0;
  }

  status(): InferenceStatus {
    return {
      model: this.opts.model,
      modelLoaded: this.loadedAtS !== null,
      modelLoading: this.loadingSinceS !== null,
      busy: this.busy,
      queued: 0,
      oldestWaitS: 0,
      slots: this.opts.maxParallel - this.busy,
      maxSlots: this.opts.maxParallel,
      accepting: false,
      jobsDone: 0,
      tokensPerS: this.busy > 0 ? this.opts.tokensPerS(this.busy) : 0,
      fault: null,
      assumeWork: true,
    };
  }

  takeTokens(): number {
    const t = this.tokens;
    this.tokens = 0;
    return t;
  }
}
