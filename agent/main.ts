#!/usr/bin/env node
/**
 * The composition root: the only place that knows the concrete adapters. It builds the command
 * line and hands each command the factories it needs.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildProgram } from './cli/program.js';
import { EXIT_CONFIG, EXIT_FAILURE } from './cli/exit-codes.js';
import { ConfigError } from './config/config-error.js';
import { errorMessage } from './errors.js';
import type { AgentConfig } from './config/schema.js';
import type { Logger } from './log.js';
import { MqttBus } from './adapters/mqtt/mqtt-bus.js';
import { nodeTopics } from './adapters/mqtt/topics.js';
import { SimGpu } from './adapters/gpu/sim-gpu.js';
import { NvidiaGpu } from './adapters/gpu/nvidia-gpu.js';
import { HostInventory } from './adapters/system/host-inventory.js';
import { resolveHeaterPhysics, tokensPerS } from './adapters/gpu/sim-heater-physics.js';
import { JsonFileStore } from './adapters/system/json-file-store.js';
import { systemClock } from './adapters/system/system-clock.js';
import { AgentRuntime } from './runtime/agent-runtime.js';
import { SimulatedWork } from './runtime/simulated-work.js';
import { JobRuntime } from './runtime/job-runtime.js';
import { attachAgentServices } from './runtime/agent-services.js';
import { attachOps, type AttachOpsDeps } from './runtime/attach-ops.js';
import { ScheduleRunner } from './runtime/schedule-runner.js';
import type { HeaterPort } from './ports/heater.js';
import type { HostInfoPort } from './ports/host-info.js';
import type { InferencePort } from './ports/inference.js';
import type { Clock } from './ports/clock.js';
import type { Scenario } from './sim/scenario.js';
import type { RunOps } from './cli/run-command.js';

export interface BuildAgentOptions {
  clock?: Clock;
  /** Control period override (tests, demo). */
  tickS?: number;
  /** A heater built by the caller (the demo shares its simulated card with the room). */
  heater?: HeaterPort;
  /** Host inventory for `info` (the daemon's; gathered at start and on request). */
  hostInfo?: HostInfoPort;
  /** Remote operations: the config file to read again (reload_config, SIGHUP), restart (exit 75), stagger randomness. */
  ops?: Pick<AttachOpsDeps, 'loadConfig' | 'requestRestart' | 'random' | 'router'>;
}

export function buildAgent(config: AgentConfig, log: Logger, opts: BuildAgentOptions = {}): AgentRuntime {
  const clock = opts.clock ?? systemClock;
  const m = config.mqtt;
  const topics = nodeTopics(m.base_topic, config.node.id);
  const bus = new MqttBus(
    {
      url: m.url ?? '',
      clientId: m.client_id ?? `anchiale-${config.node.id}`,
      statusTopic: topics.status,
      username: m.username,
      password: m.password,
      protocolVersion: m.protocol_version,
      keepaliveS: m.keepalive_s,
      reconnect: { minS: m.reconnect.min_s, maxS: m.reconnect.max_s },
      tls: { caFile: m.tls.ca_file, certFile: m.tls.cert_file, keyFile: m.tls.key_file, rejectUnauthorized: m.tls.reject_unauthorized },
      waitForConnect: false,
      // Oversized job requests must still arrive to be answered `invalid_request`.
      maxPayloadBytes: Math.max(256 * 1024, 2 * config.jobs.max_request_bytes),
    },
    log,
    Math.random,
  );
  const { assume_work: _assume, ...simPhysics } = config.heater.sim;
  const physics = resolveHeaterPhysics(simPhysics);
  let heater: HeaterPort;
  if (opts.heater) heater = opts.heater;
  else if (config.heater.backend === 'sim') heater = new SimGpu(physics, config.llm.max_parallel, clock);
  else {
    heater = new NvidiaGpu({
      gpu: config.heater.gpu,
      method: config.heater.power_limit_method,
      siteMaxW: config.heater.max_power_w,
      clock,
      log,
      // Tests and development only (the helper reads the same variable); the unit sets none.
      powerLimitDir: process.env.ANCHIALE_POWER_LIMIT_DIR || undefined,
    });
  }
  const model = config.llm.default_model ? config.llm.default_model.replace(/\.gguf$/i, '') : null;
  const store = new JsonFileStore(config.state.dir);
  // Real jobs when enabled (unless the sim heater is told to assume work); the runtime is built after, hence the late-bound closures.
  const inference: InferencePort =
    config.jobs.enabled && config.heater.sim.assume_work !== true
      ? new JobRuntime({
          config,
          bus,
          log,
          clock,
          store,
          emitEvent: (type, severity, fields) => runtime.emitEvent(type, severity, fields),
          powerW: () => runtime.snapshot?.heat_w ?? heater.telemetry()?.powerW ?? null,
          workQueued: () => runtime.requestTick(),
          beforeLoad: heater instanceof NvidiaGpu ? () => heater.checkLimitBeforeLoad() : undefined,
        })
      : new SimulatedWork({
          model,
          maxParallel: config.llm.max_parallel,
          loadS: config.heater.backend === 'sim' ? physics.load_s : 0,
          tokensPerS: (busy) => tokensPerS(physics, busy, heater.telemetry()?.powerW ?? 0),
        });
  const runtime = new AgentRuntime({ config, log, clock, bus, heater, inference, store, tickS: opts.tickS, hostInfo: opts.hostInfo });
  const { reloader } = attachOps(runtime, { config, log, clock, bus, heater, inference, tickS: opts.tickS, ...opts.ops });
  runtime.use(new ScheduleRunner({ runtime, schedule: () => reloader.current.thermostat.schedule, store, clock, log }));
  attachAgentServices({ runtime, config, log, clock, bus, heater });
  return runtime;
}

const programDeps = {
  run: { buildAgent: (config: AgentConfig, log: Logger, o: RunOps) => buildAgent(config, log, { ops: o, hostInfo: new HostInventory({ log }) }) },
  demo: { buildAgent: (config: AgentConfig, log: Logger, o: BuildAgentOptions) => buildAgent(config, log, o) },
  sim: async () => {
    const [{ agentControllerFor }, { baselineController }] = await Promise.all([import('./sim/agent-sim-factory.js'), import('./sim/baseline-controller.js')]);
    return {
      controllers: {
        pi: agentControllerFor,
        hysteresis: (s: Scenario) => baselineController('hysteresis', s),
        tpi: (s: Scenario) => baselineController('tpi', s),
      },
    };
  },
};

/** True when this file is the process entry (not imported by a test). */
function isEntry(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) buildProgram(programDeps).then((program) => program.parseAsync(process.argv)).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.format()}\n${err.message}\n`);
    process.exitCode = EXIT_CONFIG;
  } else {
    process.stderr.write(`anchiale: ${errorMessage(err)}\n`);
    process.exitCode = EXIT_FAILURE;
  }
});
