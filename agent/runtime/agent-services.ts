/**
 * The runtime's companions that only watch or announce it: MQTT health (refused logins),
 * Home Assistant discovery (mqtt.discovery.enabled) and the Prometheus endpoint
 * (metrics.listen). main.ts attaches them to every agent it builds; each is a runtime extension,
 * started before the bus connects and stopped before it disconnects.
 */
import type { AgentConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Clock } from '../ports/clock.js';
import type { HeaterPort } from '../ports/heater.js';
import type { MqttBusStats } from '../adapters/mqtt/mqtt-bus.js';
import { MetricsServer } from '../adapters/system/metrics-server.js';
import { errorMessage } from '../errors.js';
import { buildHaDiscovery } from '../ops/ha-discovery.js';
import { AGENT_VERSION, type AgentRuntime, type StartableBus } from './agent-runtime.js';
import { AgentMetrics } from './agent-metrics.js';
import { HaPublisher } from './ha-publisher.js';
import { MqttHealth } from './mqtt-health.js';

export interface AgentServicesDeps {
  runtime: AgentRuntime;
  config: AgentConfig;
  log: Logger;
  clock: Clock;
  /** The bus; its stats() (MqttBus) feed the metrics when present. */
  bus: StartableBus & { stats?: () => MqttBusStats };
  heater: HeaterPort;
}

export interface AgentServices {
  health: MqttHealth;
  metrics: AgentMetrics;
  /** null when mqtt.discovery.enabled is false. */
  ha: HaPublisher | null;
  /** null when metrics.listen is not set. */
  metricsServer: MetricsServer | null;
}

const attached = new WeakMap<AgentRuntime, AgentServices>();

/** The services attached to `runtime` (doctor, tests), if any. */
export function agentServices(runtime: AgentRuntime): AgentServices | undefined {
  return attached.get(runtime);
}

export function attachAgentServices(d: AgentServicesDeps): AgentServices {
  const { runtime, config, log, bus, heater, clock } = d;
  const m = config.mqtt;

  const health = new MqttHealth({
    log,
    now: () => clock.wallMs(),
    emit: (type, severity, fields) => runtime.emitEvent(type, severity, fields),
    protocolVersion: m.protocol_version,
    username: m.username,
  });
  const healthHandlers: Array<() => void> = [];
  runtime.use({
    start: async () => {
      healthHandlers.push(
        bus.onConnect(() => health.onConnect()),
        bus.onDisconnect((info) => health.onDisconnect(info)),
      );
    },
    stop: async () => {
      for (const u of healthHandlers.splice(0)) u();
    },
  });

  let ha: HaPublisher | null = null;
  if (m.discovery.enabled) {
    ha = new HaPublisher({
      bus,
      log,
      prefix: m.discovery.prefix,
      nodeId: config.node.id,
      payload: () => {
        const card = heater.limits();
        return buildHaDiscovery({
          nodeId: config.node.id,
          nodeName: config.node.name ?? null,
          baseTopic: m.base_topic,
          agentVersion: AGENT_VERSION,
          gpuName: heater.inventory().name,
          minSetpointC: config.thermostat.min_setpoint_c,
          maxSetpointC: config.thermostat.max_setpoint_c,
          // The bounds set/power_cap accepts (agent-runtime onSet).
          minPowerCapW: card.minLimitW,
          maxPowerCapW: Math.min(card.maxLimitW, config.heater.max_power_w),
        });
      },
    });
    const publisher = ha;
    runtime.use({ start: () => publisher.start(), stop: () => publisher.stop() });
  }

  const metrics = new AgentMetrics({
    nodeId: config.node.id,
    version: AGENT_VERSION,
    snapshot: () => runtime.snapshot,
    counters: () => runtime.energy,
    busConnected: () => bus.connected,
    busStats: () => (typeof bus.stats === 'function' ? bus.stats() : null),
    health: () => health.status(),
    discovery: () => ha?.stats() ?? null,
  });
  runtime.onEvent((type, severity) => metrics.countEvent(type, severity));

  let metricsServer: MetricsServer | null = null;
  if (config.metrics.listen) {
    const server = new MetricsServer({
      listen: config.metrics.listen,
      allowRemote: config.metrics.allow_remote,
      render: () => metrics.render(),
      log,
    });
    metricsServer = server;
    runtime.use({
      start: async () => {
        try {
          await server.start();
        } catch (err) {
          // A non-loopback address without allow_remote is a configuration error: refuse to start.
          if ((err as { code?: string }).code === 'metrics_not_loopback') throw err;
          // A taken port must not keep the room cold: heat on, without metrics.
          log.error({ listen: config.metrics.listen, err: errorMessage(err) }, 'metrics endpoint not started; the agent runs without it');
        }
      },
      stop: () => server.stop(),
    });
  }

  const services: AgentServices = { health, metrics, ha, metricsServer };
  attached.set(runtime, services);
  return services;
}
