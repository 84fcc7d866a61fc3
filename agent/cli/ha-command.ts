/**
 * `anchiale ha remove [--config FILE]`: removes this heater's device from Home Assistant (the
 * empty retained payload on `<discovery.prefix>/device/anchiale_<id>/config`) with the heater's
 * own broker credentials, without the daemon. It connects with its own client id
 * (`<client_id>-ha`) and no last will, so the running daemon and its `online`/`offline` presence
 * are not touched. A daemon running with mqtt.discovery.enabled: true publishes the device again
 * at its next (re)connect or Home Assistant restart: set it to false first to keep it removed.
 *
 * `anchiale ha show [--config FILE]` prints the discovery document (card limits from
 * heater.min_power_w / max_power_w, as the card is not read here).
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import mqtt from 'mqtt';
import type { AgentConfig } from '../config/schema.js';
import { ConfigError } from '../config/config-error.js';
import { DEFAULT_CONFIG_PATH, loadConfig } from '../config/load.js';
import { buildClientOptions, describeConnackCode, isAuthRefusal, redactUrl, type MqttTlsMaterial } from '../adapters/mqtt/mqtt-bus.js';
import { nodeTopics } from '../adapters/mqtt/topics.js';
import { AgentError, errorMessage } from '../errors.js';
import { buildHaDiscovery, haDiscoveryTopic } from '../ops/ha-discovery.js';
import { AGENT_VERSION } from '../runtime/agent-runtime.js';
import { EXIT_CONFIG, EXIT_FAILURE, EXIT_OK } from './exit-codes.js';

export interface HaCommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
}

const processIo = (): HaCommandIo => ({
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
});

async function readTls(config: AgentConfig): Promise<MqttTlsMaterial> {
  const t = config.mqtt.tls;
  const out: MqttTlsMaterial = {};
  if (t.ca_file) out.ca = await readFile(t.ca_file);
  if (t.cert_file) out.cert = await readFile(t.cert_file);
  if (t.key_file) out.key = await readFile(t.key_file);
  return out;
}

/**
 * Publishes the empty retained discovery payload once and disconnects. Rejects with AgentError
 * `mqtt_auth_refused`, `mqtt_connect_refused`, `mqtt_unreachable` or `mqtt_publish_refused`.
 */
export async function removeHaDiscoveryOnce(config: AgentConfig, opts: { timeoutS?: number } = {}): Promise<string> {
  const m = config.mqtt;
  if (!m.url) throw new AgentError('mqtt_invalid_options', 'mqtt.url is not set');
  const topic = haDiscoveryTopic(m.discovery.prefix, config.node.id);
  const options = buildClientOptions(
    {
      url: m.url,
      clientId: `${m.client_id ?? `anchiale-${config.node.id}`}-ha`,
      statusTopic: nodeTopics(m.base_topic, config.node.id).status,
      username: m.username,
      password: m.password,
      protocolVersion: m.protocol_version,
      keepaliveS: m.keepalive_s,
      tls: { caFile: m.tls.ca_file, certFile: m.tls.cert_file, keyFile: m.tls.key_file, rejectUnauthorized: m.tls.reject_unauthorized },
      connectTimeoutS: opts.timeoutS ?? 10,
    },
    await readTls(config),
  );
  // A one-shot client: no presence, no retries.
  delete options.will;
  options.reconnectPeriod = 0;
  options.reconnectOnConnackError = false;
  const url = redactUrl(m.url);
  let client;
  try {
    client = await mqtt.connectAsync(options);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'number') {
      const reason = describeConnackCode(code, m.protocol_version);
      throw new AgentError(isAuthRefusal(code, m.protocol_version) ? 'mqtt_auth_refused' : 'mqtt_connect_refused', `MQTT broker ${url} refused the connection: ${reason} (CONNACK ${code})`, {
        reasonCode: code,
      });
    }
    throw new AgentError('mqtt_unreachable', `cannot connect to ${url}: ${errorMessage(err)}`);
  }
  try {
    await client.publishAsync(topic, '', { qos: 1, retain: true });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new AgentError(typeof code === 'number' ? 'mqtt_publish_refused' : 'mqtt_publish_failed', `removal on ${topic} not accepted: ${errorMessage(err)}`, { topic });
  } finally {
    await client.endAsync().catch(() => undefined);
  }
  return topic;
}

/** `ha remove`: 0 removed, 78 configuration error, 1 broker problem. */
export async function haRemove(path: string, io: HaCommandIo): Promise<number> {
  let config: AgentConfig;
  try {
    config = await loadConfig({ path, env: io.env, requireMqttUrl: true });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr(`${err.format()}\n${err.message}\n`);
    return EXIT_CONFIG;
  }
  try {
    const topic = await removeHaDiscoveryOnce(config);
    io.stdout(`removed the Home Assistant device: empty retained message on ${topic}\n`);
    if (config.mqtt.discovery.enabled) {
      io.stderr('note: mqtt.discovery.enabled is true: a running agent publishes the device again at its next connection or Home Assistant restart\n');
    }
    return EXIT_OK;
  } catch (err) {
    io.stderr(`anchiale ha remove: ${errorMessage(err)} (${(err as { code?: string }).code ?? 'error'})\n`);
    return EXIT_FAILURE;
  }
}

/** `ha show`: the discovery document as JSON. */
export async function haShow(path: string, io: HaCommandIo): Promise<number> {
  let config: AgentConfig;
  try {
    config = await loadConfig({ path, env: io.env, requireMqttUrl: false });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr(`${err.format()}\n${err.message}\n`);
    return EXIT_CONFIG;
  }
  const payload = buildHaDiscovery({
    nodeId: config.node.id,
    nodeName: config.node.name,
    baseTopic: config.mqtt.base_topic,
    agentVersion: AGENT_VERSION,
    gpuName: null,
    minSetpointC: config.thermostat.min_setpoint_c,
    maxSetpointC: config.thermostat.max_setpoint_c,
    minPowerCapW: config.heater.min_power_w ?? 0,
    maxPowerCapW: config.heater.max_power_w,
  });
  io.stdout(`# ${haDiscoveryTopic(config.mqtt.discovery.prefix, config.node.id)} (retained)\n${JSON.stringify(payload, null, 2)}\n`);
  return EXIT_OK;
}

export function registerHaCommand(program: Command, io: HaCommandIo = processIo()): Command {
  const ha = program.command('ha').description('Home Assistant MQTT discovery of this heater');
  ha.command('remove')
    .description('remove this heater\'s device from Home Assistant (empty retained discovery message)')
    .option('-c, --config <path>', 'configuration file', DEFAULT_CONFIG_PATH)
    .action(async (opts: { config: string }) => {
      process.exitCode = await haRemove(opts.config, io);
    });
  ha.command('show')
    .description('print the discovery document this heater publishes')
    .option('-c, --config <path>', 'configuration file', DEFAULT_CONFIG_PATH)
    .action(async (opts: { config: string }) => {
      process.exitCode = await haShow(opts.config, io);
    });
  return ha;
}
