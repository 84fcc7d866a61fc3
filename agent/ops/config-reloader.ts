/**
 * Configuration reload (SIGHUP, request `reload_config`): read and validate the file again; when
 * valid, apply what can change live (config-reload-plan.ts) and publish `config_reloaded`; when
 * invalid (or unreadable), keep the running configuration, publish `config_reload_failed` with
 * every issue, and say so to the caller. One reload at a time.
 */
import type { AgentConfig } from '../config/schema.js';
import { ConfigError, type ConfigIssue } from '../config/config-error.js';
import { configHash } from '../config/config-hash.js';
import type { Logger } from '../log.js';
import type { Severity } from '../runtime/event-publisher.js';
import { errorMessage } from '../errors.js';
import { planConfigReload } from './config-reload-plan.js';
import type { ReloadResult } from './ops-port.js';

export interface ConfigReloaderDeps {
  /** The running configuration at start. */
  initial: AgentConfig;
  /** Reads and validates the file (throws ConfigError); null: the agent has no file to read again. */
  load: (() => Promise<AgentConfig>) | null;
  /** Applies a validated configuration to the running agent. */
  apply: (config: AgentConfig) => void;
  emitEvent: (type: string, severity: Severity, fields: Record<string, unknown>) => void;
  log: Logger;
}

export class ConfigReloader {
  private running: AgentConfig;
  private inProgress: Promise<ReloadResult> | null = null;

  constructor(private readonly deps: ConfigReloaderDeps) {
    this.running = deps.initial;
  }

  /** The configuration in force. */
  get current(): AgentConfig {
    return this.running;
  }

  /** A reload already running is joined, not repeated. */
  reload(): Promise<ReloadResult> {
    this.inProgress ??= this.doReload().finally(() => {
      this.inProgress = null;
    });
    return this.inProgress;
  }

  private async doReload(): Promise<ReloadResult> {
    const { load, log } = this.deps;
    if (!load) return this.failed('no configuration file to read again (the agent was started without one)', []);
    let next: AgentConfig;
    try {
      next = await load();
    } catch (err) {
      if (err instanceof ConfigError) {
        return this.failed(`${err.message}; running configuration kept`, [...err.issues]);
      }
      return this.failed(`configuration not reloaded: ${errorMessage(err)}; running configuration kept`, []);
    }
    const plan = planConfigReload(this.running, next);
    try {
      this.deps.apply(plan.config);
    } catch (err) {
      return this.failed(`configuration not applied: ${errorMessage(err)}; running configuration kept`, []);
    }
    this.running = plan.config;
    const hash = configHash(plan.config);
    log.info({ config_hash: hash, changed: plan.changed, restart_required: plan.restartRequired }, 'configuration reloaded');
    this.deps.emitEvent('config_reloaded', 'info', { config_hash: hash, changed: plan.changed, restart_required: plan.restartRequired });
    return { ok: true, config_hash: hash, changed: plan.changed, restart_required: plan.restartRequired };
  }

  private failed(message: string, errors: ConfigIssue[]): ReloadResult {
    this.deps.log.error({ errors }, message);
    this.deps.emitEvent('config_reload_failed', 'error', { message, errors });
    return { ok: false, message, errors };
  }
}
