/**
 * Where the operator CLIs (`status`, `ctl`) connect: `--mqtt-url` (and `--base-topic`) win; else
 * the agent config file (`--config`, or the default file when it exists) gives the broker, base
 * topic, reply prefix, credentials and TLS files; else ANCHIALE_MQTT__URL / ANCHIALE_MQTT__BASE_TOPIC.
 * Also what the operator commands share: their I/O, connection options and error reporting.
 */
import { access, readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { ConfigError } from '../config/config-error.js';
import { DEFAULT_CONFIG_PATH, loadConfig } from '../config/load.js';
import { AgentError, errorMessage } from '../errors.js';
import type { OpsClientOptions } from '../client/ops-client.js';
import { EXIT_CONFIG, EXIT_FAILURE } from './exit-codes.js';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
  /** Default: /etc/anchiale/agent.yaml. */
  defaultConfigPath?: string;
}

export const processCliIo = (): CliIo => ({
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
});

/** Options shared by the operator commands. */
export function addConnectionOptions(cmd: Command): Command {
  return cmd
    .option('--mqtt-url <url>', 'broker URL (default: mqtt.url of the config file)')
    .option('--base-topic <topic>', 'base topic of the heaters (default: mqtt.base_topic, or anchiale/v1)')
    .option('-c, --config <path>', 'agent config file to take the broker from (default /etc/anchiale/agent.yaml when it exists)')
    .option('--json', 'print JSON');
}

/** A usable message and the exit code (78 for a bad config file). */
export function failed(err: unknown, io: CliIo): number {
  if (err instanceof ConfigError) {
    io.stderr(`${err.format()}\n${err.message}\n`);
    return EXIT_CONFIG;
  }
  io.stderr(`anchiale: ${errorMessage(err)}\n`);
  return EXIT_FAILURE;
}

export interface ClientConnectionFlags {
  mqttUrl?: string;
  baseTopic?: string;
  config?: string;
}

export async function resolveClientConnection(
  flags: ClientConnectionFlags,
  env: Record<string, string | undefined>,
  defaultConfigPath: string = DEFAULT_CONFIG_PATH,
): Promise<OpsClientOptions> {
  let path = flags.config;
  if (path === undefined && flags.mqttUrl === undefined && (await exists(defaultConfigPath))) path = defaultConfigPath;
  if (path !== undefined) {
    const cfg = await loadConfig({ path, env, requireMqttUrl: false });
    const m = cfg.mqtt;
    const url = flags.mqttUrl ?? m.url;
    if (!url) throw new AgentError('no_broker', `no broker: ${path} has no mqtt.url; give --mqtt-url URL`);
    const tls = m.tls;
    const tlsFiles = {
      ...(tls.ca_file ? { ca: await readFile(tls.ca_file) } : {}),
      ...(tls.cert_file ? { cert: await readFile(tls.cert_file) } : {}),
      ...(tls.key_file ? { key: await readFile(tls.key_file) } : {}),
    };
    return {
      url,
      base: flags.baseTopic ?? m.base_topic,
      replyPrefix: cfg.jobs.reply_prefix,
      username: m.username,
      password: m.password,
      protocolVersion: m.protocol_version,
      tls: { ...tlsFiles, rejectUnauthorized: tls.reject_unauthorized },
    };
  }
  const url = flags.mqttUrl ?? env.ANCHIALE_MQTT__URL;
  if (!url) throw new AgentError('no_broker', `no broker: give --mqtt-url URL or --config FILE (${defaultConfigPath} not found)`);
  return { url, base: flags.baseTopic ?? env.ANCHIALE_MQTT__BASE_TOPIC ?? 'anchiale/v1' };
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}
