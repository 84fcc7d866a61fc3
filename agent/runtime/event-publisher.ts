import type { Logger } from '../log.js';

export type Severity = 'info' | 'warning' | 'error';

/** Per type: a burst of `burst`, then one every `refillS` seconds; the rest is counted, not lost silently. */
export interface EventRateLimit {
  burst: number;
  refillS: number;
}

export const DEFAULT_EVENT_RATE: EventRateLimit = { burst: 5, refillS: 12 };

/**
 * Events on `<base>/<id>/event` (not retained), rate-limited per type. Every event is also logged;
 * a suppressed one says so in the log, and the next one published carries the count.
 */
export class EventPublisher {
  private readonly buckets = new Map<string, { tokens: number; atS: number; suppressed: number }>();

  constructor(
    private readonly send: (payload: Record<string, unknown>) => void,
    private readonly log: Logger,
    private readonly now: () => { monoS: number; wallMs: number },
    private readonly rate: EventRateLimit = DEFAULT_EVENT_RATE,
  ) {}

  emit(type: string, severity: Severity, fields: Record<string, unknown> = {}): boolean {
    const { monoS, wallMs } = this.now();
    const b = this.buckets.get(type) ?? { tokens: this.rate.burst, atS: monoS, suppressed: 0 };
    b.tokens = Math.min(this.rate.burst, b.tokens + (monoS - b.atS) / this.rate.refillS);
    b.atS = monoS;
    const level = severity === 'error' ? 'error' : severity === 'warning' ? 'warn' : 'info';
    if (b.tokens < 1) {
      b.suppressed += 1;
      this.buckets.set(type, b);
      this.log.debug({ event: type, ...fields }, 'event rate-limited');
      return false;
    }
    b.tokens -= 1;
    const suppressed = b.suppressed;
    b.suppressed = 0;
    this.buckets.set(type, b);
    this.log[level]({ event: type, ...fields }, `event ${type}`);
    this.send({ ts: new Date(wallMs).toISOString(), type, severity, ...fields, ...(suppressed > 0 ? { suppressed } : {}) });
    return true;
  }
}
