/**
 * The work side as the control loop sees it: what runs, and the knobs the heat decision turns
 * (sequences allowed, accept jobs or not, model wanted or not). Implemented by the job runtime
 * (real inference over MQTT) and by simulated work (assume_work: the sequences asked are busy).
 */
import type { AgentConfig } from '../config/schema.js';

export interface InferenceStatus {
  model: string | null;
  modelLoaded: boolean;
  modelLoading: boolean;
  busy: number;
  queued: number;
  /** How long the oldest queued job has waited (s); 0 when none waits. */
  oldestWaitS: number;
  /** Free sequences now. */
  slots: number;
  maxSlots: number;
  /** True once the fleet subscription (if any) is confirmed and jobs are taken. */
  accepting: boolean;
  jobsDone: number;
  tokensPerS: number | null;
  /** A fault that blocks inference (crash loop, CPU fallback on a GPU heater), or null. */
  fault: string | null;
  assumeWork: boolean;
}

export interface InferenceControl {
  sequences: number;
  accepting: boolean;
  modelWanted: boolean;
  /** The operator drains (jobs are then rejected `draining`, not `no_heat_demand`). */
  draining?: boolean;
}

export interface InferencePort {
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): InferenceStatus;
  /** The configuration changed live (config reload; only the keys the reload plan applies live differ). */
  applyConfig?(config: AgentConfig): void;
  /** Apply the decision's knobs; called on every tick. */
  apply(control: InferenceControl, nowS: number): void;
  /** Tokens produced since the last call (for the counters). */
  takeTokens(): number;
  /** The models this heater has (for `info`); absent: only status().model. */
  models?(): { name: string; size_bytes: number }[];
}
