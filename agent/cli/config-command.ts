/**
 * `anchiale config check|schema|show`: validate the config without starting anything (mqtt.url
 * not needed), print the JSON Schema, print the effective config (secrets redacted).
 */
import type { Command } from 'commander';
import YAML from 'yaml';
import { ConfigError } from '../config/config-error.js';
import { configHash } from '../config/config-hash.js';
import { configJsonSchemaText } from '../config/json-schema.js';
import { DEFAULT_CONFIG_PATH, loadConfig } from '../config/load.js';
import { redactConfig } from '../config/redact-config.js';
import { EXIT_CONFIG, EXIT_OK } from './exit-codes.js';

export interface ConfigCommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
  /** For the default node id; default os.hostname(). */
  hostname?: string;
}

const processIo = (): ConfigCommandIo => ({
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
});

/** `config check`: `config ok: <path> (node <id>, hash <h>)` and 0, or every issue on stderr and 78. */
export async function configCheck(path: string, io: ConfigCommandIo): Promise<number> {
  try {
    const cfg = await loadConfig({ path, env: io.env, requireMqttUrl: false, hostname: io.hostname });
    io.stdout(`config ok: ${path} (node ${cfg.node.id}, hash ${configHash(cfg)})\n`);
    return EXIT_OK;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr(`${err.format()}\n${err.message}\n`);
    return EXIT_CONFIG;
  }
}

/** `config show`: the effective config as YAML, mqtt.password replaced by "[redacted]". */
export async function configShow(path: string, io: ConfigCommandIo): Promise<number> {
  try {
    const cfg = await loadConfig({ path, env: io.env, requireMqttUrl: false, hostname: io.hostname });
    io.stdout(`# effective configuration of ${path} (hash ${configHash(cfg)})\n${YAML.stringify(redactConfig(cfg))}`);
    return EXIT_OK;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr(`${err.format()}\n${err.message}\n`);
    return EXIT_CONFIG;
  }
}

export function registerConfigCommand(program: Command, io: ConfigCommandIo = processIo()): Command {
  const config = program.command('config').description('check, show or describe the configuration');
  config
    .command('check')
    .description('validate the configuration and exit (0: ok, 78: invalid)')
    .option('-c, --config <path>', 'configuration file', DEFAULT_CONFIG_PATH)
    .action(async (opts: { config: string }) => {
      process.exitCode = await configCheck(opts.config, io);
    });
  config
    .command('schema')
    .description('print the JSON Schema of the configuration file')
    .action(() => {
      io.stdout(configJsonSchemaText());
    });
  config
    .command('show')
    .description('print the effective configuration (defaults and environment applied, secrets redacted)')
    .option('-c, --config <path>', 'configuration file', DEFAULT_CONFIG_PATH)
    .action(async (opts: { config: string }) => {
      process.exitCode = await configShow(opts.config, io);
    });
  return config;
}
