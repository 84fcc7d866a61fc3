/**
 * Benchmark: a building's worth of heaters on one broker. N simulated heaters (default 500,
 * ANCHIALE_BENCH_LOAD_HEATERS) — one light MQTT 5 client each, as a heater connects: last will
 * `offline`, retained `status` `online` and `info`, then its retained `state` (≈ 700 bytes) every
 * 10 s, the contract's fastest telemetry rate, at a random phase — plus one observer subscribed to
 * `<base>/+/state` and `<base>/+/status` (a dashboard or a dispatching client), against the system
 * broker for `durationS` (default 30 s, ANCHIALE_BENCH_LOAD_S). Alongside, one real agent (compiled,
 * sim heater, its room sensor reporting every 10 s) on the same broker: its CPU is the agent's cost
 * per heater. Sampled every second: broker CPU and RSS (the Mosquitto process listening on the
 * broker's port, from /proc), messages/s published and delivered, the agent's CPU.
 *
 * Writes bench/results/broker-load.json and bench/results/broker-load.svg.
 */
import { mkdir, mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { spawnAgent } from '../test/helpers/agent-process.js';
import { pidsNamed, readProcSample, type ProcSample } from '../test/helpers/proc-stats.js';
import { compiledAgentEntry, deployedNodeArgs } from './agent-build.js';
import { lineChartSvg } from './svg-chart.js';

const RESULTS_DIR = fileURLToPath(new URL('results', import.meta.url));
const BROKER_PORT = 1883;
const STATE_PERIOD_S = 10;

export interface LoadSample {
  t: number;
  publishedPerS: number;
  deliveredPerS: number;
  brokerCpuPct: number | null;
  brokerRssMiB: number | null;
  agentCpuPct: number;
  generatorCpuPct: number;
}

export interface BrokerLoadResult {
  heaters: number;
  durationS: number;
  connectS: number;
  brokerPid: number | null;
  published: number;
  delivered: number;
  publishedPerS: number;
  deliveredPerS: number;
  brokerCpuPct: number | null;
  brokerCpuPerHeaterPct: number | null;
  brokerRssMiB: number | null;
  agentCpuPct: number;
  generatorCpuPerHeaterPct: number;
  samples: LoadSample[];
  table: string;
}

export interface BrokerLoadOptions {
  heaters?: number;
  durationS?: number;
  resultsDir?: string | null;
  /** Default 127.0.0.1:1883. */
  port?: number;
}

const r2 = (x: number) => Math.round(x * 100) / 100;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** The PID of the process listening on TCP `port` on this machine (a Mosquitto one preferred), from /proc. */
export async function pidListeningOn(port: number): Promise<number | null> {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(f, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 9 && cols[1]!.endsWith(`:${hex}`) && cols[3] === '0A') inodes.add(cols[9]!);
    }
  }
  if (inodes.size === 0) return null;
  const candidates = pidsNamed('mosquitto');
  const all = candidates.length > 0 ? candidates : (await readdir('/proc')).filter((e) => /^\d+$/.test(e)).map(Number);
  for (const pid of all) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && inodes.has(m[1]!)) return pid;
    }
  }
  return null;
}

function fakeState(i: number, tick: number): string {
  const room = 19 + ((i * 7 + tick) % 30) / 10;
  const heating = room < 21;
  return JSON.stringify({
    ts: new Date().toISOString(),
    mode: 'auto',
    preset: 'comfort',
    phase: heating ? 'heating' : 'idle',
    action: heating ? 'heating' : 'idle',
    room_temp_c: room,
    setpoint_c: 21,
    setpoint_source: 'input',
    outdoor_temp_c: 4.5,
    demand: heating ? 0.62 : 0,
    power_limit_w: heating ? 240 : 100,
    gpu: { power_w: heating ? 231.5 : 18, temp_c: heating ? 66 : 34, util_pct: heating ? 93 : 0, mem_used_mib: 5120, pstate: heating ? 'P2' : 'P8' },
    wall_power_w: heating ? 298 : 58,
    heat_w: heating ? 298 : 58,
    energy_kwh: 153.27 + tick * 0.001,
    llm: { model: 'qwen2.5-7b-q4', loaded: true, accepting: heating, slots: 2, max_slots: 4, jobs_active: 2, jobs_done: 1234 + tick, tokens_per_s: heating ? 58.1 : 0 },
    inputs_stale: [],
    reasons: [heating ? 'below_setpoint' : 'at_setpoint'],
    safe_mode: false,
  });
}

function fakeInfo(id: string): string {
  return JSON.stringify({
    agent_version: '0.1.0',
    node_id: id,
    hostname: id,
    gpu: { name: 'Simulated GPU', uuid: `GPU-${id}`, driver: null, vram_mib: 24576, min_limit_w: 100, max_limit_w: 350, default_limit_w: 350 },
    host: { cpu: 'sim', mem_mib: 32768, os: 'Linux' },
    models: [{ name: 'qwen2.5-7b-q4', size_bytes: 4683073536 }],
    capabilities: { fleet_jobs: true, mqtt_version: 5 },
    config_hash: '000000000000',
  });
}

export function brokerLoadTable(r: Omit<BrokerLoadResult, 'samples' | 'table'>): string {
  const pct = (x: number | null, d = 2) => (x === null ? 'n/a' : `${x.toFixed(d)} %`);
  return [
    `Broker load: ${r.heaters} simulated heaters + 1 real agent on the system broker, ${r.durationS} s (after ${r.connectS.toFixed(1)} s to connect them all)`,
    '',
    '| measure | value |',
    '|---|---:|',
    `| messages published (heaters' state, per s) | ${r.publishedPerS.toFixed(1)} |`,
    `| messages delivered to the observer (per s) | ${r.deliveredPerS.toFixed(1)} |`,
    `| broker CPU (% of a core) | ${pct(r.brokerCpuPct)} |`,
    `| broker CPU per heater | ${pct(r.brokerCpuPerHeaterPct, 4)} |`,
    `| broker RSS (MiB) | ${r.brokerRssMiB === null ? 'n/a' : r.brokerRssMiB.toFixed(1)} |`,
    `| real agent CPU = agent CPU per heater (% of a core) | ${pct(r.agentCpuPct, 3)} |`,
    `| load generator CPU per simulated heater | ${pct(r.generatorCpuPerHeaterPct, 4)} |`,
  ].join('\n');
}

export async function runBrokerLoadBench(o: BrokerLoadOptions = {}): Promise<BrokerLoadResult> {
  const heaters = o.heaters ?? Number(process.env.ANCHIALE_BENCH_LOAD_HEATERS ?? 500);
  const durationS = o.durationS ?? Number(process.env.ANCHIALE_BENCH_LOAD_S ?? 30);
  const port = o.port ?? BROKER_PORT;
  const url = `mqtt://127.0.0.1:${port}`;
  const entry = await compiledAgentEntry();
  const brokerPid = await pidListeningOn(port);
  const base = `anchiale-bench/load-${process.pid}-${Date.now().toString(36)}`;
  const stateDir = await mkdtemp(join(tmpdir(), 'anchiale-bench-load-'));
  const clients: MqttClient[] = [];
  const timers: NodeJS.Timeout[] = [];
  const retainedTopics: string[] = [];
  let published = 0;
  let delivered = 0;
  const observer = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: `bench-observer-${process.pid}`, reconnectPeriod: 0 });
  observer.on('message', () => {
    delivered++;
  });
  await observer.subscribeAsync([`${base}/+/state`, `${base}/+/status`], { qos: 1 });
  const agent = await spawnAgent({ url, base, nodeId: 'real', stateDir, entry, nodeArgs: await deployedNodeArgs(), config: { jobs: { enabled: false } } });
  retainedTopics.push(...['status', 'state', 'info'].map((t) => `${base}/real/${t}`));
  try {
    // Connect the simulated heaters, 25 at a time.
    const tc = performance.now();
    for (let i = 0; i < heaters; i += 25) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(25, heaters - i) }, async (_, j) => {
          const id = `sim${String(i + j).padStart(4, '0')}`;
          const n = `${base}/${id}`;
          const c = await mqtt.connectAsync(url, {
            protocolVersion: 5,
            clientId: `bench-${process.pid}-${id}`,
            clean: true,
            keepalive: 30,
            reconnectPeriod: 0,
            properties: { sessionExpiryInterval: 0 },
            will: { topic: `${n}/status`, payload: Buffer.from('offline'), qos: 1, retain: true },
          });
          retainedTopics.push(`${n}/status`, `${n}/info`, `${n}/state`);
          await c.publishAsync(`${n}/status`, 'online', { qos: 1, retain: true });
          await c.publishAsync(`${n}/info`, fakeInfo(id), { qos: 1, retain: true });
          published += 2;
          return { c, n, idx: i + j };
        }),
      );
      for (const { c, n, idx } of batch) {
        clients.push(c);
        let tick = 0;
        const send = () => {
          tick++;
          c.publish(`${n}/state`, fakeState(idx, tick), { qos: 1, retain: true });
          published++;
        };
        const first = setTimeout(() => {
          send();
          timers.push(setInterval(send, STATE_PERIOD_S * 1000));
        }, Math.random() * STATE_PERIOD_S * 1000);
        timers.push(first);
      }
    }
    const connectS = (performance.now() - tc) / 1000;
    // The real agent's room sensor.
    const room = () => void observer.publishAsync(agent.roomTopic, JSON.stringify({ local_temperature: 20 + Math.random(), occupied_heating_setpoint: 21 }), { qos: 1 });
    room();
    timers.push(setInterval(room, STATE_PERIOD_S * 1000));
    await new Promise((r) => setTimeout(r, 2000));

    const samples: LoadSample[] = [];
    const proc = (pid: number | null) => (pid === null ? null : readProcSample(pid));
    const first = { broker: proc(brokerPid), agent: proc(agent.pid), gen: process.cpuUsage(), at: performance.now(), published, delivered };
    let prev = first;
    for (let i = 1; i <= durationS; i++) {
      await new Promise((r) => setTimeout(r, Math.max(0, first.at + i * 1000 - performance.now())));
      const now = { broker: proc(brokerPid), agent: proc(agent.pid), gen: process.cpuUsage(), at: performance.now(), published, delivered };
      const dt = (now.at - prev.at) / 1000;
      const cpu = (a: ProcSample | null, b: ProcSample | null) => (a && b ? ((a.cpuS - b.cpuS) / dt) * 100 : null);
      samples.push({
        t: r2((now.at - first.at) / 1000),
        publishedPerS: r2((now.published - prev.published) / dt),
        deliveredPerS: r2((now.delivered - prev.delivered) / dt),
        brokerCpuPct: cpu(now.broker, prev.broker) === null ? null : r3(cpu(now.broker, prev.broker)!),
        brokerRssMiB: now.broker ? r2(now.broker.rssKiB / 1024) : null,
        agentCpuPct: r3(cpu(now.agent, prev.agent) ?? 0),
        generatorCpuPct: r3(((now.gen.user + now.gen.system - prev.gen.user - prev.gen.system) / 1e6 / dt) * 100),
      });
      prev = now;
    }
    const wall = (prev.at - first.at) / 1000;
    const whole = (a: ProcSample | null, b: ProcSample | null) => (a && b ? r3(((a.cpuS - b.cpuS) / wall) * 100) : null);
    const brokerCpuPct = whole(prev.broker, first.broker);
    const genPct = ((prev.gen.user + prev.gen.system - first.gen.user - first.gen.system) / 1e6 / wall) * 100;
    const core = {
      heaters,
      durationS,
      connectS: r2(connectS),
      brokerPid,
      published: prev.published - first.published,
      delivered: prev.delivered - first.delivered,
      publishedPerS: r2((prev.published - first.published) / wall),
      deliveredPerS: r2((prev.delivered - first.delivered) / wall),
      brokerCpuPct,
      brokerCpuPerHeaterPct: brokerCpuPct === null ? null : Math.round((brokerCpuPct / (heaters + 1)) * 1e5) / 1e5,
      brokerRssMiB: prev.broker ? r2(prev.broker.rssKiB / 1024) : null,
      agentCpuPct: whole(prev.agent, first.agent) ?? 0,
      generatorCpuPerHeaterPct: Math.round((genPct / heaters) * 1e5) / 1e5,
    };
    const result: BrokerLoadResult = { ...core, samples, table: brokerLoadTable(core) };
    const dir = o.resultsDir === undefined ? RESULTS_DIR : o.resultsDir;
    if (dir !== null) {
      await mkdir(dir, { recursive: true });
      const meta = { node: process.version, platform: `${process.platform} ${process.arch}`, measured_at: new Date().toISOString(), state_period_s: STATE_PERIOD_S };
      await writeFile(join(dir, 'broker-load.json'), JSON.stringify({ ...meta, ...result, table: undefined }, null, 1) + '\n');
      await writeFile(join(dir, 'broker-load.svg'), brokerLoadSvg(result));
    }
    return result;
  } finally {
    for (const t of timers) clearTimeout(t);
    await Promise.all(clients.map((c) => c.endAsync().catch(() => undefined)));
    await agent.cleanup();
    // Leave nothing retained on the shared broker.
    for (let i = 0; i < retainedTopics.length; i += 100) {
      await Promise.all(retainedTopics.slice(i, i + 100).map((t) => observer.publishAsync(t, '', { qos: 1, retain: true }).catch(() => undefined)));
    }
    await observer.endAsync().catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true });
  }
}

export function brokerLoadSvg(r: BrokerLoadResult): string {
  return lineChartSvg({
    title: `Broker load: ${r.heaters} simulated heaters (state every ${STATE_PERIOD_S} s) + 1 real agent, ${r.durationS} s`,
    xLabel: 'time (s)',
    panels: [
      {
        yLabel: 'messages / s',
        series: [
          { name: `published by the heaters (${r.publishedPerS.toFixed(1)}/s)`, points: r.samples.map((s) => [s.t, s.publishedPerS] as const) },
          { name: `delivered to the observer (${r.deliveredPerS.toFixed(1)}/s)`, points: r.samples.map((s) => [s.t, s.deliveredPerS] as const), dashed: true },
        ],
      },
      {
        yLabel: 'CPU (% of a core)',
        series: [
          { name: `broker (${r.brokerCpuPct === null ? 'n/a' : r.brokerCpuPct.toFixed(2)} %)`, points: r.samples.filter((s) => s.brokerCpuPct !== null).map((s) => [s.t, s.brokerCpuPct!] as const) },
          { name: `real agent (${r.agentCpuPct.toFixed(3)} %)`, points: r.samples.map((s) => [s.t, s.agentCpuPct] as const) },
        ],
      },
    ],
  });
}
