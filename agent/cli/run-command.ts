/**
 * `anchiale run --config FILE`: the daemon. SIGTERM/SIGINT → clean stop (`offline` published,
 * safe power limit restored) and exit 0; a configuration error exits 78 before anything starts.
 */
import type { Command } from 'commander';
import type { AgentConfig } from '../config/schema.js';
import { DEFAULT_CONFIG_PATH, loadConfig } from '../config/load.js';
import { createLogger, type Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import { EXIT_FAILURE, EXIT_OK } from './exit-codes.js';

export interface RunnableAgent {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface RunCommandDeps {
  buildAgent: (config: AgentConfig, log: Logger) => Promise<RunnableAgent> | RunnableAgent;
}

export function registerRunCommand(program: Command, deps: RunCommandDeps): Command {
  return program
    .command('run')
    .description('Run the heater agent (the daemon)')
    .option('-c, --config <path>', 'configuration file', DEFAULT_CONFIG_PATH)
    .action(async (opts: { config: string }) => {
      const config = await loadConfig({ path: opts.config, requireMqttUrl: true });
      const log = createLogger({ level: config.log.level, base: { node: config.node.id } });
      process.exitCode = await runAgent(config, log, deps);
    });
}

/** Starts the agent and resolves with the exit code once it has stopped. */
export async function runAgent(config: AgentConfig, log: Logger, deps: RunCommandDeps): Promise<number> {
  let agent: RunnableAgent;
  try {
    agent = await deps.buildAgent(config, log);
    await agent.start();
  } catch (err) {
    log.fatal({ err: errorMessage(err), code: (err as { code?: string }).code }, 'agent failed to start');
    return EXIT_FAILURE;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string, code: number) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping');
      const hardExit = setTimeout(() => {
        log.error('stop took longer than 20 s: exiting anyway');
        resolve(EXIT_FAILURE);
      }, 20_000);
      hardExit.unref();
      agent.stop().then(
        () => {
          clearTimeout(hardExit);
          resolve(code);
        },
        (err: unknown) => {
          clearTimeout(hardExit);
          log.error({ err: errorMessage(err) }, 'stop failed');
          resolve(EXIT_FAILURE);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM', EXIT_OK));
    process.once('SIGINT', () => stop('SIGINT', EXIT_OK));
  });
}
