/**
 * Wires remote operations into an agent: the config reloader (SIGHUP and `reload_config`), the
 * OpsPort over the runtime, and the request router, started and stopped with the runtime.
 */
import type { AgentConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Clock } from '../ports/clock.js';
import type { HeaterPort } from '../ports/heater.js';
import type { InferencePort } from '../ports/inference.js';
import type { MessageBus } from '../ports/bus.js';
import { ConfigReloader } from '../ops/config-reloader.js';
import { RequestRouter, type RequestRouterDeps } from '../ops/request-router.js';
import type { LogLevel } from '../ops/ops-port.js';
import { AgentOps } from './agent-ops.js';
import type { AgentRuntime } from './agent-runtime.js';

export interface AttachOpsDeps {
  config: AgentConfig;
  /** The root logger (log_level and reloads set its level). */
  log: Logger;
  clock: Clock;
  bus: MessageBus;
  heater: HeaterPort;
  inference: InferencePort;
  /** Reads and validates the config file again; absent: reload_config answers that there is none. */
  loadConfig?: (() => Promise<AgentConfig>) | null;
  /** Ordered stop and exit 75 (`anchiale run`); absent: restart answers `internal`. */
  requestRestart?: (() => void) | null;
  /** [0, 1) for the fleet stagger; default Math.random. */
  random?: () => number;
  tickS?: number;
  /** Router settings (tests: rates, stagger). */
  router?: Pick<RequestRouterDeps, 'rates' | 'defaultRate' | 'staggerMaxS'>;
}

export function attachOps(runtime: AgentRuntime, d: AttachOpsDeps): { ops: AgentOps; router: RequestRouter; reloader: ConfigReloader } {
  const emitEvent: RequestRouterDeps['emitEvent'] = (type, severity, fields) => runtime.emitEvent(type, severity, fields);
  const reloader = new ConfigReloader({
    initial: d.config,
    load: d.loadConfig ?? null,
    apply: (next) => {
      const before = reloader.current;
      runtime.applyConfig(next);
      if (next.log.level !== before.log.level) d.log.level = next.log.level as LogLevel;
    },
    emitEvent,
    log: d.log.child({ component: 'config' }),
  });
  const ops = new AgentOps({
    runtime,
    bus: d.bus,
    heater: d.heater,
    inference: d.inference,
    clock: d.clock,
    log: d.log,
    reloader,
    requestRestart: d.requestRestart ?? null,
    tickS: d.tickS,
  });
  const router = new RequestRouter({
    bus: d.bus,
    topics: runtime.nodeTopics,
    port: ops,
    log: d.log,
    emitEvent,
    monoS: () => d.clock.monoS(),
    random: d.random ?? Math.random,
    ...d.router,
  });
  runtime.use(router);
  runtime.reloadConfig = () => reloader.reload();
  return { ops, router, reloader };
}
