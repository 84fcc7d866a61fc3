/**
 * Builds the agent's controller for a scenario: the scenario's `agent:` overrides go through the
 * agent's own configuration schema (same defaults, same validation) on top of a simulated heater
 * whose inputs are the room sensor, the setpoint input, the outdoor sensor and the plug.
 */
import { ConfigError } from '../config/config-error.js';
import { controlConfigFrom } from '../config/control-config.js';
import { configSchema } from '../config/schema.js';
import { deepMerge } from '../config/deep-merge.js';
import { AgentSimController } from './agent-controller.js';
import { scenarioCardLimits, type Scenario } from './scenario.js';
import { scenarioScheduleAt } from './setpoint-source.js';

export function agentControllerFor(s: Scenario): AgentSimController {
  const agent = s.agent;
  const inputs: Record<string, unknown> = {
    room_temperature: { topic: 'sim/room/temperature' },
    outdoor_temperature: { topic: 'sim/outdoor/temperature' },
    wall_power: { topic: 'sim/plug/power' },
  };
  if (s.setpointC !== null) inputs.setpoint = { topic: 'sim/room/setpoint' };
  const doc = deepMerge(
    { version: 1, inputs, heater: { backend: 'sim', sim: { ...s.heater } } },
    agent,
  );
  const parsed = configSchema.safeParse(doc);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: `agent.${i.path.join('.')}`, message: i.message }));
    throw new ConfigError('config_invalid', issues, s.name);
  }
  return new AgentSimController({ control: controlConfigFrom(parsed.data), card: scenarioCardLimits(s), schedule: scenarioScheduleAt(s), name: 'pi' });
}
