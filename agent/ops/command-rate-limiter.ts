/**
 * A token bucket per command: a burst, then one request every `refillS` seconds. Time (monotonic
 * seconds) is an argument.
 */
export interface CommandRate {
  burst: number;
  refillS: number;
}

/** Reads are cheap; restart and reload_config are rare by nature; the rest: operator commands. */
export const DEFAULT_COMMAND_RATES: Readonly<Record<string, CommandRate>> = {
  status: { burst: 10, refillS: 0.5 },
  health_check: { burst: 10, refillS: 0.5 },
  schedule: { burst: 10, refillS: 0.5 },
  restart: { burst: 2, refillS: 30 },
  reload_config: { burst: 2, refillS: 30 },
};
export const DEFAULT_COMMAND_RATE: CommandRate = { burst: 5, refillS: 2 };

export class CommandRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; atS: number }>();

  constructor(
    private readonly rates: Readonly<Record<string, CommandRate>> = DEFAULT_COMMAND_RATES,
    private readonly fallback: CommandRate = DEFAULT_COMMAND_RATE,
  ) {}

  rate(command: string): CommandRate {
    return this.rates[command] ?? this.fallback;
  }

  /** Takes a token: true when the request may go on; otherwise the seconds until the next token. */
  take(command: string, nowS: number): { ok: true } | { ok: false; retryInS: number } {
    const r = this.rate(command);
    const b = this.buckets.get(command) ?? { tokens: r.burst, atS: nowS };
    b.tokens = Math.min(r.burst, b.tokens + Math.max(0, nowS - b.atS) / r.refillS);
    b.atS = nowS;
    this.buckets.set(command, b);
    if (b.tokens < 1) return { ok: false, retryInS: (1 - b.tokens) * r.refillS };
    b.tokens -= 1;
    return { ok: true };
  }
}
