/**
 * When to write the GPU power limit: only when it must change (deadband), at most once per
 * interval, except safety reductions which go at once; a mismatch read back from the card
 * (driver re-initialisation, someone else's write) counts as a change. A target at an end of the
 * range (full power, or the floor) is not subject to the deadband: a modulating limit that climbs
 * to the ceiling in small steps would otherwise stay stuck just under it.
 */

export interface LimitWriteState {
  lastWrittenW: number | null;
  lastWriteS: number | null;
}

export interface LimitWritePlan {
  write: boolean;
  state: LimitWriteState;
  /** Why it writes or holds (for logs and tests). */
  why: 'first' | 'change' | 'mismatch' | 'safety' | 'deadband' | 'interval' | 'unsupported';
}

export interface LimitWriteInput {
  nowS: number;
  targetW: number;
  /** The enforced limit read back from the card (null when unknown). */
  enforcedW: number | null;
  /** The target is lower because of a safety rule (goes at once). */
  safetyReduction: boolean;
  supported: boolean;
  deadbandW: number;
  minIntervalS: number;
  /**
   * The target is an end of the usable range (the ceiling, or the floor): it is written even when
   * within the deadband, so that the card is never left a few watts short of full power.
   */
  atRangeEnd?: boolean;
}

export const initialLimitWriteState: LimitWriteState = { lastWrittenW: null, lastWriteS: null };

export function planLimitWrite(state: LimitWriteState, i: LimitWriteInput): LimitWritePlan {
  if (!i.supported) return { write: false, state, why: 'unsupported' };
  const wrote = (why: LimitWritePlan['why']): LimitWritePlan => ({
    write: true,
    state: { lastWrittenW: i.targetW, lastWriteS: i.nowS },
    why,
  });
  if (state.lastWriteS === null) return wrote('first');

  const current = i.enforcedW ?? state.lastWrittenW ?? i.targetW;
  const diff = Math.abs(i.targetW - current);
  if (diff < i.deadbandW && i.targetW !== current && i.safetyReduction && i.targetW < current) {
    return wrote('safety');
  }
  if (diff === 0 || (diff < i.deadbandW && i.atRangeEnd !== true)) return { write: false, state, why: 'deadband' };
  if (i.safetyReduction && i.targetW < current) return wrote('safety');
  if (i.nowS - state.lastWriteS < i.minIntervalS) return { write: false, state, why: 'interval' };
  const mismatch = i.enforcedW !== null && state.lastWrittenW !== null && Math.abs(i.enforcedW - state.lastWrittenW) >= i.deadbandW;
  return wrote(mismatch ? 'mismatch' : 'change');
}
