/**
 * The agent's real control core, driven by the simulator. The same `decide` the daemon runs,
 * never a copy: the simulator hands it readings as MQTT would, and obeys its actuator rules
 * (the limit is only changed when the decision says to write it).
 */
import { decide, initialCoreState, type CoreState } from '../core/heat-decision.js';
import type { OptimalStartSetting } from '../core/optimal-start.js';
import type { ActiveSchedule, CardLimits, ControlConfig, HeatDecision, OperatorState } from '../core/types.js';
import type { SimCommand, SimController, SimObservation } from './sim-controller.js';

export interface AgentSimOptions {
  control: ControlConfig & OptimalStartSetting;
  card: CardLimits;
  /** The schedule's active entry at a wall time (null when the scenario has none). */
  schedule: ((wallMs: number) => ActiveSchedule | null) | null;
  /** GPU temperature reported to the core (the sim has no thermal model of the card). */
  gpuTempC?: number;
  name?: string;
}

export class AgentSimController implements SimController {
  readonly name: string;
  private state: CoreState;
  private limitW: number;
  private readonly operator: OperatorState = {
    mode: 'auto',
    preset: 'none',
    manualSetpointC: null,
    override: null,
    powerCapW: null,
    drain: false,
  };
  lastDecision: HeatDecision | null = null;

  constructor(private readonly opts: AgentSimOptions) {
    this.name = opts.name ?? 'pi';
    this.state = initialCoreState();
    this.limitW = opts.card.defaultLimitW;
  }

  /** The core's state after the last tick (what it learned included). */
  get coreState(): CoreState {
    return this.state;
  }

  step(obs: SimObservation): SimCommand {
    const at = obs.tS;
    const { state, decision } = decide(
      this.state,
      {
        now: { monoS: at, wallMs: obs.wallMs },
        inputs: {
          room_temperature: { value: obs.roomTempC, atMonoS: at },
          setpoint: obs.setpointInputC === null ? null : { value: obs.setpointInputC, atMonoS: at },
          outdoor_temperature: { value: obs.outdoorC, atMonoS: at },
          wall_power: { value: obs.wallPowerW, atMonoS: at },
          window_open: null,
        },
        operator: this.operator,
        schedule: this.opts.schedule ? this.opts.schedule(obs.wallMs) : null,
        card: this.opts.card,
        gpu: {
          powerW: obs.gpuPowerW,
          tempC: this.opts.gpuTempC ?? 60,
          utilPct: obs.busy > 0 ? 95 : 0,
          memUsedMib: null,
          pstate: null,
          limitW: obs.gpuLimitW,
          atMonoS: at,
        },
        work: {
          busy: obs.busy,
          queued: obs.queued,
          oldestWaitS: obs.oldestWaitS,
          modelLoaded: obs.modelLoaded,
          modelLoading: obs.modelLoading,
          assumeWork: obs.backlog,
          fault: null,
        },
      },
      this.opts.control,
    );
    this.state = state;
    this.lastDecision = decision;
    if (decision.writeLimit) this.limitW = decision.targetLimitW;
    return {
      limitW: this.limitW,
      sequences: decision.sequences,
      accepting: decision.accepting,
      modelWanted: decision.modelWanted,
      demand: decision.demand,
      reasons: decision.reasons,
    };
  }
}
