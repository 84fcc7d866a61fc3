import { decisionKey, type StateSnapshot } from './state-snapshot.js';

/** Telemetry-only changes are published at most this often (contract). */
export const TELEMETRY_MIN_INTERVAL_S = 10;

/**
 * When to publish the retained `state`: at once when a decision field changes, telemetry at most
 * every 10 s, a full snapshot every interval_s, and after every (re)connect (forced).
 */
export class StatePublisher {
  private lastKey: string | null = null;
  private lastFull: string | null = null;
  private lastAtS = -Infinity;

  constructor(
    private readonly send: (snapshot: StateSnapshot) => void,
    private readonly intervalS: number,
  ) {}

  offer(s: StateSnapshot, nowS: number, force = false): boolean {
    const key = decisionKey(s);
    const { ts: _ts, ...body } = s;
    const full = JSON.stringify(body);
    const since = nowS - this.lastAtS;
    const publish =
      force ||
      key !== this.lastKey ||
      since >= this.intervalS ||
      (full !== this.lastFull && since >= TELEMETRY_MIN_INTERVAL_S);
    if (!publish) return false;
    this.lastKey = key;
    this.lastFull = full;
    this.lastAtS = nowS;
    this.send(s);
    return true;
  }
}
