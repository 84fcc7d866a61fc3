/** Time, as the runtime reads it. The core never reads time: the runtime passes it in. */
export interface Clock {
  /** Monotonic seconds: ages and periods. */
  monoS(): number;
  /** Wall-clock epoch ms: schedules and timestamps. */
  wallMs(): number;
}
