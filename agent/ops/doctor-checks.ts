/**
 * `anchiale doctor`: one function per check, each returning {name, status, detail, hint}. They
 * read the host as it is (nvidia-smi, the broker, files, systemd) and change nothing — except one
 * throwaway message on the node's own `doctor/` topic to prove the broker round trip.
 */
import { constants as fsConstants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { ConfigError } from '../config/config-error.js';
import { configHash } from '../config/config-hash.js';
import { loadConfig } from '../config/load.js';
import type { AgentConfig } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import { buildClientOptions, describeConnackCode, isAuthRefusal, redactUrl, type MqttTlsMaterial } from '../adapters/mqtt/mqtt-bus.js';
import { nodeTopics } from '../adapters/mqtt/topics.js';
import { NVIDIA_QUERY_FIELDS, classifyQueryFailure, deriveLimits, parseCsv, queryArgs, type NvidiaSample } from '../adapters/gpu/nvidia-smi-parser.js';
import type { ExecFn } from '../adapters/system/exec-file.js';

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do about it (null when there is nothing to do). */
  hint: string | null;
}

export type LlamaBackend = 'cuda' | 'vulkan' | 'metal' | 'cpu';

export interface DoctorContext {
  configPath: string;
  env: NodeJS.ProcessEnv;
  exec: ExecFn;
  hostname: string;
  nodeVersion: string;
  uid: number;
  /** nvidia-smi (default `nvidia-smi` on PATH). */
  nvidiaSmi: string;
  /** The helper's directory (default /run/anchiale/power-limit). */
  powerLimitDir: string;
  /** The root-owned site ceiling the helper reads (default /etc/anchiale/site-max-power-w). */
  siteMaxFile: string;
  /** Which backend node-llama-cpp would load here (run in a child process: a CUDA abort must not kill the doctor). */
  detectLlamaBackend: () => Promise<{ backend: LlamaBackend } | { error: string }>;
  /** Connect / round-trip timeout (ms). */
  brokerTimeoutMs: number;
}

const pass = (name: string, detail: string, hint: string | null = null): CheckResult => ({ name, status: 'pass', detail, hint });
const warn = (name: string, detail: string, hint: string | null): CheckResult => ({ name, status: 'warn', detail, hint });
const fail = (name: string, detail: string, hint: string | null): CheckResult => ({ name, status: 'fail', detail, hint });
const skipped = (name: string, why: string): CheckResult => warn(name, `not checked: ${why}`, null);

/* ---------------- Node ---------------- */

export function checkNodeVersion(version: string): CheckResult {
  const major = Number(version.replace(/^v/, '').split('.')[0]);
  if (!Number.isFinite(major) || major < 20) {
    return fail('node', `Node ${version}: the agent needs Node 20 or later`, 'install a supported Node (22 or 24 LTS) and point /opt/anchiale/node at it (provisioning/install.sh --node …)');
  }
  if (major === 20) return warn('node', `Node ${version}: Node 20 reached its end of life in 2026-04`, 'move to Node 22 or 24 LTS (provisioning/install.sh --node …)');
  if (major % 2 === 1) return warn('node', `Node ${version} is not an LTS release`, 'prefer Node 22 or 24 LTS');
  return pass('node', `Node ${version}`);
}

/* ---------------- configuration ---------------- */

export async function checkConfig(ctx: DoctorContext): Promise<{ result: CheckResult; config: AgentConfig | null }> {
  try {
    const config = await loadConfig({ path: ctx.configPath, env: ctx.env, requireMqttUrl: true, hostname: ctx.hostname });
    return { result: pass('config', `${ctx.configPath}: node ${config.node.id}, hash ${configHash(config)}`), config };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const issues = err.format().split('\n');
    const detail = `${err.message}: ${issues.slice(0, 3).join('; ')}${issues.length > 3 ? `; … (${issues.length - 3} more)` : ''}`;
    return { result: fail('config', detail, `anchiale config check --config ${ctx.configPath} lists every issue`), config: null };
  }
}

/* ---------------- broker ---------------- */

async function readTls(config: AgentConfig): Promise<MqttTlsMaterial> {
  const t = config.mqtt.tls;
  const out: MqttTlsMaterial = {};
  if (t.ca_file) out.ca = await readFile(t.ca_file);
  if (t.cert_file) out.cert = await readFile(t.cert_file);
  if (t.key_file) out.key = await readFile(t.key_file);
  return out;
}

/** MQTT.js options for the doctor: the agent's credentials, its own client id, no last will, no reconnect. */
async function doctorClientOptions(config: AgentConfig, timeoutMs: number): Promise<IClientOptions> {
  const m = config.mqtt;
  const topics = nodeTopics(m.base_topic, config.node.id);
  const o = buildClientOptions(
    {
      url: m.url ?? '',
      clientId: `anchiale-doctor-${config.node.id}-${randomBytes(3).toString('hex')}`,
      statusTopic: topics.status,
      username: m.username,
      password: m.password,
      protocolVersion: m.protocol_version,
      keepaliveS: m.keepalive_s,
      tls: { caFile: m.tls.ca_file, certFile: m.tls.cert_file, keyFile: m.tls.key_file, rejectUnauthorized: m.tls.reject_unauthorized },
    },
    await readTls(config),
  );
  // Never the agent's last will: a doctor that dies must not mark the heater offline.
  delete o.will;
  o.reconnectPeriod = 0;
  o.connectTimeout = timeoutMs;
  return o;
}

type Connect = { ok: true; client: MqttClient } | { ok: false; kind: 'refused'; code: number } | { ok: false; kind: 'network'; message: string };

function connect(options: IClientOptions, timeoutMs: number): Promise<Connect> {
  return new Promise((resolve) => {
    const client = mqtt.connect(options);
    let done = false;
    const finish = (r: Connect) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (!r.ok) client.end(true);
      resolve(r);
    };
    const timer = setTimeout(() => finish({ ok: false, kind: 'network', message: `no CONNACK within ${timeoutMs} ms` }), timeoutMs + 500);
    client.once('connect', () => finish({ ok: true, client }));
    client.on('error', (err: Error & { code?: unknown }) => {
      if (typeof err.code === 'number') finish({ ok: false, kind: 'refused', code: err.code });
      else finish({ ok: false, kind: 'network', message: typeof err.code === 'string' ? `${err.code}: ${err.message}` : err.message });
    });
    client.once('close', () => finish({ ok: false, kind: 'network', message: 'connection closed before CONNACK' }));
  });
}

/**
 * Broker reachable, authenticated, allowed to publish and subscribe its own topics (a round trip
 * on `<base>/<id>/doctor/<nonce>`), and no other heater online with the same node id.
 */
export async function checkBroker(config: AgentConfig, ctx: DoctorContext): Promise<CheckResult[]> {
  const m = config.mqtt;
  const url = redactUrl(m.url ?? '');
  const pv = m.protocol_version;
  let options: IClientOptions;
  try {
    options = await doctorClientOptions(config, ctx.brokerTimeoutMs);
  } catch (err) {
    return [fail('broker', `cannot build the connection to ${url}: ${errorMessage(err)}`, 'check mqtt.url and mqtt.tls.* files'), skipped('broker_auth', 'no connection'), skipped('broker_topics', 'no connection'), skipped('node_id', 'no connection')];
  }
  const c = await connect(options, ctx.brokerTimeoutMs);
  if (!c.ok && c.kind === 'network') {
    return [
      fail('broker', `${url} unreachable: ${c.message}`, 'is the broker running and reachable from here (host, port, firewall, TLS)? mosquitto_sub -h HOST -p PORT -t x'),
      skipped('broker_auth', 'no connection'),
      skipped('broker_topics', 'no connection'),
      skipped('node_id', 'no connection'),
    ];
  }
  const who = m.username ? `user ${m.username}` : options.cert ? 'a client certificate' : 'anonymous';
  if (!c.ok) {
    const what = describeConnackCode(c.code, pv);
    const hint = isAuthRefusal(c.code, pv)
      ? 'check mqtt.username and the password (mqtt.password_file, ANCHIALE_MQTT_PASSWORD) or the client certificate, and the broker\'s password file'
      : 'see the broker\'s log for why it refused the connection';
    return [
      pass('broker', `${url} answered (MQTT ${pv === 5 ? '5' : '3.1.1'})`),
      fail('broker_auth', `connection refused as ${who}: ${what} (${c.code})`, hint),
      skipped('broker_topics', 'not authenticated'),
      skipped('node_id', 'not authenticated'),
    ];
  }
  const client = c.client;
  try {
    const out = [pass('broker', `${url} reachable (MQTT ${pv === 5 ? '5' : '3.1.1'})`), pass('broker_auth', `authenticated as ${who}`)];
    out.push(await roundTrip(client, config, ctx.brokerTimeoutMs));
    out.push(await duplicateNode(client, config, ctx.hostname));
    return out;
  } finally {
    await client.endAsync(true).catch(() => undefined);
  }
}

async function roundTrip(client: MqttClient, config: AgentConfig, timeoutMs: number): Promise<CheckResult> {
  const topics = nodeTopics(config.mqtt.base_topic, config.node.id);
  const nonce = randomBytes(6).toString('hex');
  const topic = `${topics.base}/${topics.node}/doctor/${nonce}`;
  const acl = `the broker's ACL must let this client read and write ${topics.base}/${topics.node}/# (e.g. mosquitto: pattern readwrite ${topics.base}/%u/#)`;
  const t0 = Date.now();
  const received = new Promise<boolean>((resolve) => {
    const onMessage = (t: string, payload: Buffer) => {
      if (t === topic && payload.toString('utf8') === nonce) {
        client.off('message', onMessage);
        clearTimeout(timer);
        resolve(true);
      }
    };
    const timer = setTimeout(() => {
      client.off('message', onMessage);
      resolve(false);
    }, timeoutMs);
    client.on('message', onMessage);
  });
  try {
    const granted = await client.subscribeAsync(topic, { qos: 1 });
    if (granted.some((g) => g.qos >= 0x80)) return fail('broker_topics', `subscribe to ${topic} refused`, acl);
  } catch (err) {
    return fail('broker_topics', `subscribe to ${topic} failed: ${errorMessage(err)}`, acl);
  }
  try {
    await client.publishAsync(topic, nonce, { qos: 1, retain: false });
  } catch (err) {
    return fail('broker_topics', `publish to ${topic} refused: ${errorMessage(err)}`, acl);
  }
  if (!(await received)) {
    return fail('broker_topics', `published to ${topic} but nothing came back within ${timeoutMs} ms (a forbidden subscription is granted but delivers nothing)`, acl);
  }
  return pass('broker_topics', `published and received on ${topics.base}/${topics.node}/doctor/… in ${Date.now() - t0} ms`);
}

/** Another live heater with this node id shows as a retained `online` status with another host's info. */
async function duplicateNode(client: MqttClient, config: AgentConfig, hostname: string): Promise<CheckResult> {
  const topics = nodeTopics(config.mqtt.base_topic, config.node.id);
  let status: string | null = null;
  let info: { hostname?: unknown; instance_id?: unknown } | null = null;
  const onMessage = (t: string, payload: Buffer) => {
    if (t === topics.status) status = payload.toString('utf8');
    if (t === topics.info) {
      try {
        info = JSON.parse(payload.toString('utf8')) as typeof info;
      } catch {
        info = null;
      }
    }
  };
  client.on('message', onMessage);
  try {
    await client.subscribeAsync([topics.status, topics.info], { qos: 1 });
    // Retained messages follow the SUBACK at once.
    await new Promise((r) => setTimeout(r, 300));
  } catch (err) {
    client.off('message', onMessage);
    return warn('node_id', `could not read ${topics.status}: ${errorMessage(err)}`, null);
  }
  client.off('message', onMessage);
  const id = config.node.id;
  const st = status as string | null;
  const inf = info as { hostname?: unknown; instance_id?: unknown } | null;
  if (st !== 'online') return pass('node_id', `no heater online with node id ${id}`);
  const otherHost = typeof inf?.hostname === 'string' ? inf.hostname : null;
  if (otherHost === hostname) return pass('node_id', `the agent on this host (${hostname}) is online as ${id}`);
  return fail(
    'node_id',
    `another heater is online with node id ${id} (host ${otherHost ?? 'unknown'}, instance ${typeof inf?.instance_id === 'string' ? inf.instance_id : 'unknown'})`,
    'give each heater its own node.id (default: the host name); two heaters with one id fight over its topics',
  );
}

/* ---------------- GPU ---------------- */

export interface GpuFacts {
  results: CheckResult[];
  /** The card as nvidia-smi reports it (null when not read). */
  sample: NvidiaSample | null;
}

const GPU_HINTS: Record<string, string> = {
  nvidia_smi_missing: 'install the NVIDIA driver (nvidia-smi comes with it), or set heater.backend: sim',
  gpu_not_found: 'check heater.gpu.index / heater.gpu.uuid against `nvidia-smi -L`',
  gpu_lost: 'the GPU has fallen off the bus: check power cables and seating, then reboot',
  nvidia_driver_not_loaded: 'load the NVIDIA driver (modprobe nvidia; check dmesg and Secure Boot signing)',
};

/** GPU present, driver, power management, limits vs the site ceiling, persistence mode. */
export async function checkGpu(config: AgentConfig, ctx: DoctorContext): Promise<GpuFacts> {
  const names = ['gpu', 'driver', 'power_management', 'power_limits', 'persistence_mode'];
  if (config.heater.backend === 'sim') {
    return { results: [pass('gpu', 'heater.backend sim: no GPU used'), ...names.slice(1).map((n) => pass(n, 'sim heater'))], sample: null };
  }
  const id = config.heater.gpu.uuid ?? String(config.heater.gpu.index);
  const r = await ctx.exec(ctx.nvidiaSmi, [...queryArgs(NVIDIA_QUERY_FIELDS), '-i', id], { timeoutMs: 20_000, env: ctx.env });
  let failure: { code: string; message: string } | null = null;
  if (r.error === 'ENOENT') failure = { code: 'nvidia_smi_missing', message: `${ctx.nvidiaSmi} not found` };
  else if (r.error === 'ETIMEDOUT') failure = { code: 'nvidia_smi_timeout', message: 'nvidia-smi did not answer within 20 s' };
  else if (r.code !== 0) failure = classifyQueryFailure(r.code, `${r.stdout}\n${r.stderr}`);
  const sample = failure ? null : (parseCsv(r.stdout, NVIDIA_QUERY_FIELDS).samples[0] ?? null);
  if (!failure && !sample) failure = { code: 'nvidia_smi_unparsable', message: 'nvidia-smi printed nothing usable' };
  if (failure || !sample) {
    const f = failure ?? { code: 'nvidia_smi_failed', message: 'no answer' };
    return {
      results: [fail('gpu', `GPU ${id}: ${f.code}: ${f.message}`, GPU_HINTS[f.code] ?? 'run nvidia-smi by hand and read its message'), ...names.slice(1).map((n) => skipped(n, 'no GPU'))],
      sample: null,
    };
  }
  const out: CheckResult[] = [pass('gpu', `GPU ${id}: ${sample.name ?? '?'} (${sample.uuid ?? 'no UUID'}), ${sample.memTotalMib ?? '?'} MiB VRAM, bus ${sample.pciBusId ?? '?'}`)];

  const driverMajor = Number((sample.driver ?? '').split('.')[0]);
  if (!sample.driver) out.push(warn('driver', 'driver version unknown', null));
  else if (driverMajor < 525) out.push(warn('driver', `driver ${sample.driver}`, 'node-llama-cpp\'s CUDA 12 build needs driver 525 or later'));
  else out.push(pass('driver', `driver ${sample.driver}`));

  const method = config.heater.power_limit_method;
  const siteW = config.heater.max_power_w;
  const d = deriveLimits(sample, siteW);
  if (d.problem) {
    out.push(
      warn(
        'power_management',
        `${d.problem}: the card takes no power limit; the agent cycles it on and off instead of modulating`,
        method === 'none' ? null : 'expected on some cards; heater.power_limit_method: none avoids helper errors',
      ),
    );
  } else if (method === 'none') {
    out.push(warn('power_management', `supported (${d.range!.minW}–${d.range!.maxW} W) but heater.power_limit_method is none: on/off cycling only`, 'use helper (with provisioning) or direct (agent as root) to modulate the limit'));
  } else {
    out.push(pass('power_management', `supported, ${d.range!.minW}–${d.range!.maxW} W, set through the ${method} method`));
  }

  const current = sample.powerLimitW ?? sample.enforcedLimitW;
  const siteFile = await readSiteCeiling(ctx.siteMaxFile);
  const managed = d.problem === null && method !== 'none';
  if (!managed) {
    const worst = current ?? sample.defaultLimitW;
    if (worst === null) out.push(warn('power_limits', `the card reports no power limit: heater.max_power_w (${siteW} W) cannot be enforced`, 'measure the unit\'s wall power (inputs.wall_power) to know what it draws'));
    else if (worst > siteW) {
      out.push(fail('power_limits', `the card may draw up to ${worst} W, above heater.max_power_w (${siteW} W), and the agent cannot lower it`, 'use a card with power management and method helper/direct, or set the limit by other means at boot'));
    } else out.push(pass('power_limits', `card limit ${worst} W, within heater.max_power_w (${siteW} W)`));
  } else {
    const { minW, maxW } = d.range!;
    const parts = [`card ${minW}–${maxW} W (default ${sample.defaultLimitW ?? '?'} W, now ${current ?? '?'} W)`, `heater.max_power_w ${siteW} W`];
    if (method === 'helper' && siteFile.value !== null) parts.push(`site ceiling file ${siteFile.value} W`);
    if (siteW < minW) out.push(warn('power_limits', parts.join('; '), `heater.max_power_w is below the card's minimum: the card cannot go under ${minW} W`));
    else if (method === 'helper' && siteFile.value !== null && siteFile.value !== siteW) {
      out.push(warn('power_limits', parts.join('; '), `the helper clamps to ${ctx.siteMaxFile} (${siteFile.value} W), the agent plans with ${siteW} W: make them agree`));
    } else out.push(pass('power_limits', parts.join('; ')));
  }

  if (sample.persistenceMode === 'Enabled') out.push(pass('persistence_mode', 'enabled'));
  else {
    out.push(
      warn(
        'persistence_mode',
        sample.persistenceMode === 'Disabled' ? 'disabled: the driver unloads when idle and forgets the power limit' : 'unknown',
        'systemctl enable --now nvidia-persistenced',
      ),
    );
  }
  return { results: out, sample };
}

async function readSiteCeiling(file: string): Promise<{ value: number | null }> {
  try {
    const t = (await readFile(file, 'utf8')).trim();
    return { value: /^[1-9]\d{0,4}$/.test(t) ? Number(t) : null };
  } catch {
    return { value: null };
  }
}

/* ---------------- inference ---------------- */

export async function checkLlmBackend(config: AgentConfig, ctx: DoctorContext): Promise<CheckResult> {
  const r = await ctx.detectLlamaBackend();
  const gpuHeater = config.heater.backend === 'nvidia';
  if ('error' in r) {
    const detail = `node-llama-cpp could not start: ${r.error}`;
    return gpuHeater ? fail('llm_backend', detail, 'reinstall the agent bundle (node-llama-cpp prebuilt binaries)') : warn('llm_backend', detail, null);
  }
  if (r.backend === 'cpu' && gpuHeater) {
    return fail(
      'llm_backend',
      'node-llama-cpp would run on the CPU on a GPU heater: no heat from the card, and slow',
      'CUDA: install the CUDA 12/13 runtime and cuBLAS (libcudart.so.12, libcublas.so.12); or Vulkan: libvulkan1 and the NVIDIA Vulkan driver',
    );
  }
  return pass('llm_backend', gpuHeater ? `node-llama-cpp would use ${r.backend}` : `node-llama-cpp would use ${r.backend} (sim heater: no GPU needed)`);
}

/** Rough VRAM need of a GGUF model: weights + KV cache (f16) for the context + ~600 MiB of CUDA context and buffers. */
export async function estimateModelMib(file: string, contextTokens: number): Promise<{ weightsMib: number; kvMib: number | null; totalMib: number }> {
  const size = (await stat(file)).size;
  const weightsMib = size / 1048576;
  let kvMib: number | null = null;
  try {
    const { readGgufFileInfo } = await import('node-llama-cpp');
    const info = await readGgufFileInfo(file, { readTensorInfo: false, logWarnings: false });
    const meta = info.metadata as unknown as Record<string, Record<string, unknown>> & { general?: { architecture?: string } };
    const arch = meta.general?.architecture;
    const a = arch ? (meta[arch] as Record<string, unknown> | undefined) : undefined;
    const att = (a?.attention ?? {}) as Record<string, unknown>;
    const layers = Number(a?.block_count);
    const embd = Number(a?.embedding_length);
    const heads = Number(att.head_count);
    const kvHeads = Number(att.head_count_kv ?? att.head_count);
    if ([layers, embd, heads, kvHeads].every((x) => Number.isFinite(x) && x > 0)) {
      kvMib = (2 * layers * contextTokens * (embd / heads) * kvHeads * 2) / 1048576;
    }
  } catch {
    kvMib = null;
  }
  return { weightsMib, kvMib, totalMib: weightsMib + (kvMib ?? 0) + 600 };
}

export async function checkModel(config: AgentConfig, sample: NvidiaSample | null): Promise<CheckResult> {
  const llm = config.llm;
  if (!llm.default_model) {
    return config.jobs.enabled
      ? warn('model', 'no llm.default_model: no job can run', `put a GGUF file in ${llm.models_dir} and set llm.default_model`)
      : pass('model', 'jobs disabled: no model needed');
  }
  const file = path.resolve(llm.models_dir, llm.default_model);
  try {
    await access(file, fsConstants.R_OK);
  } catch {
    return fail('model', `${file} not found or not readable`, `copy the model to ${llm.models_dir} (owner anchiale) or fix llm.default_model`);
  }
  if (config.heater.backend === 'sim' || !sample?.memTotalMib) return pass('model', `${file} present`);
  const est = await estimateModelMib(file, llm.context_size * llm.max_parallel);
  const total = sample.memTotalMib;
  const free = total - (sample.memUsedMib ?? 0);
  const need = Math.round(est.totalMib);
  const what = `${llm.default_model}: ~${need} MiB (weights ${Math.round(est.weightsMib)}${est.kvMib !== null ? `, KV cache ${Math.round(est.kvMib)} for ${llm.max_parallel} × ${llm.context_size} tokens` : ', KV cache unknown'}) of ${total} MiB`;
  if (need > total) return fail('model', `${what}: does not fit`, 'a smaller quantisation, fewer llm.max_parallel, a smaller llm.context_size, or llm.gpu_layers below max');
  if (need > free) return warn('model', `${what}; ${free} MiB free now (something else uses VRAM)`, 'see nvidia-smi for the other processes on the card');
  return pass('model', `${what}: fits`);
}

/* ---------------- host ---------------- */

export async function checkDirectories(config: AgentConfig, ctx: DoctorContext): Promise<CheckResult> {
  const problems: string[] = [];
  const ok: string[] = [];
  const dirs: Array<[string, string, number]> = [
    ['state.dir', config.state.dir, fsConstants.R_OK | fsConstants.W_OK | fsConstants.X_OK],
    ['llm.models_dir', config.llm.models_dir, fsConstants.R_OK | fsConstants.X_OK],
  ];
  for (const [key, dir, mode] of dirs) {
    const st = await stat(dir).catch(() => null);
    if (!st) problems.push(`${key} ${dir} missing`);
    else if (!st.isDirectory()) problems.push(`${key} ${dir} is not a directory`);
    else if (!(await access(dir, mode).then(() => true, () => false))) problems.push(`${key} ${dir} not ${mode & fsConstants.W_OK ? 'writable' : 'readable'} by uid ${ctx.uid}`);
    else ok.push(`${key} ${dir}`);
  }
  if (problems.length > 0) {
    return fail('directories', problems.join('; '), 'provisioning/install.sh makes them (owner anchiale, 0750); run the doctor as the agent\'s user: runuser -u anchiale -- anchiale doctor');
  }
  return pass('directories', `${ok.join(', ')} usable by uid ${ctx.uid}`);
}

/** The power-limit method's needs: the helper's directory and units, or root for direct. */
export async function checkPowerLimitHelper(config: AgentConfig, ctx: DoctorContext): Promise<CheckResult> {
  const name = 'power_limit_helper';
  if (config.heater.backend === 'sim') return pass(name, 'sim heater: no power limit to set');
  const method = config.heater.power_limit_method;
  if (method === 'none') return pass(name, 'method none: no helper used');
  if (method === 'direct') {
    return ctx.uid === 0 ? pass(name, 'method direct: running as root') : fail(name, `method direct needs root (uid ${ctx.uid})`, 'use heater.power_limit_method: helper (the agent runs unprivileged), or run as root');
  }
  const dir = ctx.powerLimitDir;
  const st = await stat(dir).catch(() => null);
  if (!st?.isDirectory()) return fail(name, `${dir} missing`, 'install /etc/tmpfiles.d/anchiale.conf (provisioning/install.sh) and run systemd-tmpfiles --create');
  if (!(await access(dir, fsConstants.W_OK).then(() => true, () => false))) {
    return fail(name, `${dir} not writable by uid ${ctx.uid}`, 'the agent\'s user must be in group anchiale (directory 3770 root:anchiale)');
  }
  const parts = [`${dir} writable`];
  type LastResult = { ok?: boolean; error?: string; message?: string; applied_w?: number | null; ts?: string };
  const last = await readFile(path.join(dir, 'result'), 'utf8')
    .then((t) => JSON.parse(t) as LastResult)
    .catch(() => null);
  if (last) parts.push(last.ok ? `last result ok (${String(last.applied_w)} W at ${String(last.ts)})` : `last result ${String(last.error)}: ${String(last.message ?? '')}`);
  const units = await Promise.all(
    ['is-enabled', 'is-active'].map((verb) => ctx.exec('systemctl', [verb, 'anchiale-power-limit.path'], { timeoutMs: 5000, env: ctx.env })),
  );
  // Without systemd as init, systemctl prints nothing on stdout (its complaint goes to stderr).
  const [enabled, active] = units.map((u) => (u.error || u.stdout.trim() === '' ? null : u.stdout.trim()));
  if (enabled === null || active === null) {
    return warn(name, `${parts.join('; ')}; systemctl unavailable: units not checked`, null);
  }
  parts.push(`anchiale-power-limit.path ${enabled}, ${active}`);
  if (active !== 'active') return fail(name, parts.join('; '), 'systemctl enable --now anchiale-power-limit.path');
  if (last && last.ok === false) return warn(name, parts.join('; '), 'journalctl -u anchiale-power-limit.service shows why');
  return pass(name, parts.join('; '));
}

export async function checkClockSync(ctx: DoctorContext): Promise<CheckResult> {
  const r = await ctx.exec('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { timeoutMs: 5000, env: ctx.env });
  const v = r.code === 0 ? r.stdout.trim() : null;
  if (v === 'yes') return pass('clock_sync', 'system clock synchronised (NTP)');
  if (v === 'no') return warn('clock_sync', 'system clock not synchronised', 'enable systemd-timesyncd or chrony: schedules, timestamps and TLS need the right time');
  const why = (r.error ?? r.stderr.trim().split('\n')[0]) || `exit ${String(r.code)}`;
  return warn('clock_sync', `could not tell (timedatectl: ${why})`, 'check the time source by hand (chronyc tracking, timedatectl)');
}

/* ---------------- all of them ---------------- */

/** Every check, in order; those that need a valid configuration are skipped without one. */
export async function runDoctorChecks(ctx: DoctorContext): Promise<{ checks: CheckResult[]; config: AgentConfig | null }> {
  const checks: CheckResult[] = [checkNodeVersion(ctx.nodeVersion)];
  const { result, config } = await checkConfig(ctx);
  checks.push(result);
  if (!config) {
    for (const n of ['broker', 'gpu', 'llm_backend', 'model', 'directories', 'power_limit_helper']) checks.push(skipped(n, 'configuration invalid'));
    checks.push(await checkClockSync(ctx));
    return { checks, config: null };
  }
  const [broker, gpu] = await Promise.all([checkBroker(config, ctx), checkGpu(config, ctx)]);
  checks.push(...broker, ...gpu.results);
  checks.push(await checkLlmBackend(config, ctx));
  checks.push(await checkModel(config, gpu.sample));
  checks.push(await checkDirectories(config, ctx));
  checks.push(await checkPowerLimitHelper(config, ctx));
  checks.push(await checkClockSync(ctx));
  return { checks, config };
}
