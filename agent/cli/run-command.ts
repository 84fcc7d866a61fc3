/**
 * `anchiale run --config FILE`: the daemon. SIGTERM/SIGINT → clean stop (`offline` published,
 * safe power limit restored) and exit 0; a configuration error exits 78 before anything starts.
 * SIGHUP reads the file again (an invalid one keeps the running configuration); a `restart`
 * request stops the same way and exits 75.
 */
import type { Command } from 'commander';
import type { AgentConfig } from '../config/schema.js';
import { DEFAULT_CONFIG_PATH, loadConfig } from '../config/load.js';
import { createLogger, type Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_RESTART } from './exit-codes.js';
import { SdNotifier } from '../adapters/system/sd-notify.js';
import { systemClock } from '../adapters/system/system-clock.js';
import { TICK_S } from '../runtime/agent-runtime.js';
import { startServiceNotify, type NotifiableAgent } from './service-notify.js';

export interface RunnableAgent {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Reads the config file again and applies it (SIGHUP). */
  reloadConfig?: (() => Promise<unknown>) | null;
}

/** What `run` gives the agent for remote operations: the file to read again, and restart (exit 75). */
export interface RunOps {
  loadConfig: (() => Promise<AgentConfig>) | null;
  requestRestart: () => void;
}

export interface RunCommandDeps {
  buildAgent: (config: AgentConfig, log: Logger, ops: RunOps) => Promise<RunnableAgent> | RunnableAgent;
  /** sd_notify (default: systemd-notify when NOTIFY_SOCKET is set). */
  notifier?: SdNotifier;
}

export function registerRunCommand(program: Command, deps: RunCommandDeps): Command {
  return program
    .command('run')
    .description('Run the heater agent (the daemon)')
    .option('-c, --config <path>', 'configuration file', DEFAULT_CONFIG_PATH)
    .action(async (opts: { config: string }) => {
      const config = await loadConfig({ path: opts.config, requireMqttUrl: true });
      const log = createLogger({ level: config.log.level, base: { node: config.node.id } });
      process.exitCode = await runAgent(config, log, deps, { configPath: opts.config });
    });
}

/** Starts the agent and resolves with the exit code once it has stopped. */
export async function runAgent(config: AgentConfig, log: Logger, deps: RunCommandDeps, opts: { configPath?: string } = {}): Promise<number> {
  let agent: RunnableAgent;
  let onRestart = () => log.warn('restart requested before the agent started: ignored');
  const path = opts.configPath;
  try {
    agent = await deps.buildAgent(config, log, {
      loadConfig: path ? () => loadConfig({ path, requireMqttUrl: true }) : null,
      requestRestart: () => onRestart(),
    });
    await agent.start();
  } catch (err) {
    log.fatal({ err: errorMessage(err), code: (err as { code?: string }).code }, 'agent failed to start');
    return EXIT_FAILURE;
  }
  const service = startServiceNotify(agent as RunnableAgent & NotifiableAgent, deps.notifier ?? new SdNotifier({ log }), { tickS: TICK_S, monoS: systemClock.monoS });
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onHup = () => {
      log.info('SIGHUP: reloading the configuration');
      agent.reloadConfig?.()?.catch((err: unknown) => log.error({ err: errorMessage(err) }, 'reload failed'));
    };
    const stop = (signal: string, code: number) => {
      if (stopping) return;
      stopping = true;
      process.off('SIGHUP', onHup);
      log.info({ signal }, 'stopping');
      service.stopping(signal);
      const hardExit = setTimeout(() => {
        log.error('stop took longer than 20 s: exiting anyway');
        resolve(EXIT_FAILURE);
      }, 20_000);
      hardExit.unref();
      // The exit code is given once systemd has been told (STOPPING=1 sent, at most 5 s more).
      const done = (exitCode: number) => {
        clearTimeout(hardExit);
        const told = service.stopped();
        const giveUp = new Promise<void>((r) => setTimeout(r, 5000).unref());
        void Promise.race([told, giveUp]).then(() => resolve(exitCode));
      };
      agent.stop().then(
        () => done(code),
        (err: unknown) => {
          log.error({ err: errorMessage(err) }, 'stop failed');
          done(EXIT_FAILURE);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM', EXIT_OK));
    process.once('SIGINT', () => stop('SIGINT', EXIT_OK));
    process.on('SIGHUP', onHup);
    onRestart = () => stop('restart', EXIT_RESTART);
  });
}
