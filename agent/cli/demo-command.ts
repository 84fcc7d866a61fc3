/**
 * `anchiale demo [--duration S] [--speed X] [--mqtt-url URL]`: the whole thing working on one
 * machine with nothing installed. An in-process broker (aedes) unless --mqtt-url is given, a room
 * in accelerated real time, a Zigbee2MQTT thermostat, a Shelly plug and an outdoor sensor
 * publishing what real ones publish, and the real agent with the simulated heater, shown live.
 */
import type { Command } from 'commander';
import type { AgentRuntime } from '../runtime/agent-runtime.js';
import type { AgentConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Clock } from '../ports/clock.js';
import type { HeaterPort } from '../ports/heater.js';

export interface DemoDeps {
  buildAgent: (config: AgentConfig, log: Logger, opts: { clock: Clock; heater: HeaterPort; tickS: number }) => AgentRuntime;
}

export interface DemoOptions {
  duration: string;
  speed: string;
  mqttUrl?: string;
  plain?: boolean;
}

export function registerDemoCommand(program: Command, deps: DemoDeps): Command {
  return program
    .command('demo')
    .description('Run a simulated room, its devices and the agent together, with a live view')
    .option('--duration <s>', 'real seconds to run (Ctrl-C stops earlier)', '60')
    .option('--speed <x>', 'simulated seconds per real second', '120')
    .option('--mqtt-url <url>', 'use this broker instead of the built-in one')
    .option('--plain', 'no screen refresh or colours (logs, CI)')
    .action(async (o: DemoOptions) => {
      const { runDemo } = await import('./demo-session.js');
      process.exitCode = await runDemo(o, deps);
    });
}

