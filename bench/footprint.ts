/**
 * Benchmark: the footprint of an idle agent (sim heater, no model, jobs off, the room warm) next to a
 * bare `node -e "setInterval(()=>{},1e9)"`, side by side on the same machine for `durationS`
 * (default 60 s, ANCHIALE_BENCH_FOOTPRINT_S): RSS (/proc/<pid>/status VmRSS) and CPU
 * (/proc/<pid>/stat utime + stime) sampled every second after a 5 s warm-up. The agent runs as
 * deployed: compiled JavaScript on plain node with the systemd unit's node options
 * (bench/agent-build.ts), on the system broker.
 * Goals: agent RSS ≤ 2× the bare process's, agent CPU ≤ 0.5 % of one core. A second agent, with
 * jobs on and a model configured but not loaded (a heater whose room is warm), is measured beside
 * them for the record: it has no worker process then, and its own RSS is reported.
 *
 * Writes bench/results/footprint.json and bench/results/footprint.svg.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnAgent } from '../test/helpers/agent-process.js';
import { connectProbe } from '../test/helpers/mqtt-probe.js';
import { readProcSample, type ProcSample } from '../test/helpers/proc-stats.js';
import { compiledAgentEntry, deployedNodeArgs } from './agent-build.js';
import { writeTinyLlamaGguf } from '../agent/adapters/llm/gguf-writer.js';
import { lineChartSvg } from './svg-chart.js';

export const FOOTPRINT_GOALS = { rssRatioMax: 2, cpuPctMax: 0.5 } as const;
const RESULTS_DIR = fileURLToPath(new URL('results', import.meta.url));
const BROKER = 'mqtt://127.0.0.1:1883';
const WARMUP_S = 5;

export interface FootprintSample {
  /** Seconds since the window began. */
  t: number;
  agentRssMiB: number;
  /** The agent with jobs on (model configured, not loaded). */
  jobsAgentRssMiB: number;
  bareRssMiB: number;
  /** CPU over the last second, % of one core. */
  agentCpuPct: number;
  bareCpuPct: number;
}

export interface ProcessFootprint {
  rssMeanMiB: number;
  rssMaxMiB: number;
  /** CPU over the whole window, % of one core. */
  cpuPct: number;
}

export interface FootprintResult {
  durationS: number;
  agent: ProcessFootprint;
  /** Jobs on, a model configured but not loaded (no worker process while the room is warm). */
  jobsAgent: ProcessFootprint & { childProcesses: number };
  jobsRssRatio: number;
  bare: ProcessFootprint;
  rssRatio: number;
  goals: { rss: boolean; cpu: boolean };
  samples: FootprintSample[];
  table: string;
}

export interface FootprintOptions {
  durationS?: number;
  /** Default bench/results; null: write nothing. */
  resultsDir?: string | null;
  url?: string;
}

const mib = (kib: number) => kib / 1024;
const r2 = (x: number) => Math.round(x * 100) / 100;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

function summary(first: ProcSample, last: ProcSample, rss: number[]): ProcessFootprint {
  const wallS = (last.atMs - first.atMs) / 1000;
  return {
    rssMeanMiB: r2(rss.reduce((s, x) => s + x, 0) / Math.max(1, rss.length)),
    rssMaxMiB: r2(Math.max(...rss)),
    cpuPct: r3(((last.cpuS - first.cpuS) / Math.max(1e-9, wallS)) * 100),
  };
}

export function footprintTable(r: Omit<FootprintResult, 'table' | 'samples'>): string {
  const row = (name: string, p: ProcessFootprint) => `| ${name} | ${p.rssMeanMiB.toFixed(1)} | ${p.rssMaxMiB.toFixed(1)} | ${p.cpuPct.toFixed(3)} |`;
  return [
    `Idle footprint over ${r.durationS} s (sampled every 1 s, after a ${WARMUP_S} s warm-up)`,
    '',
    '| process | RSS mean (MiB) | RSS max (MiB) | CPU (% of a core) |',
    '|---|---:|---:|---:|',
    row('agent (idle, no model, compiled)', r.agent),
    row('agent, jobs on (model configured, not loaded)', r.jobsAgent),
    row('bare node (setInterval)', r.bare),
    '',
    `RSS ratio agent/bare: ${r.rssRatio.toFixed(2)}× (goal ≤ ${FOOTPRINT_GOALS.rssRatioMax}×: ${r.goals.rss ? 'met' : 'NOT met'}); ` +
      `agent CPU ${r.agent.cpuPct.toFixed(3)} % (goal ≤ ${FOOTPRINT_GOALS.cpuPctMax} %: ${r.goals.cpu ? 'met' : 'NOT met'})`,
    `With jobs on: ${r.jobsRssRatio.toFixed(2)}× bare, CPU ${r.jobsAgent.cpuPct.toFixed(3)} %, ${r.jobsAgent.childProcesses} child process(es) at the end (no LLM worker while no model is loaded)`,
  ].join('\n');
}

export async function runFootprintBench(o: FootprintOptions = {}): Promise<FootprintResult> {
  const durationS = o.durationS ?? Number(process.env.ANCHIALE_BENCH_FOOTPRINT_S ?? 60);
  const url = o.url ?? BROKER;
  const entry = await compiledAgentEntry();
  const stateDir = await mkdtemp(join(tmpdir(), 'anchiale-bench-footprint-'));
  const base = `anchiale-bench/footprint-${process.pid}-${Date.now().toString(36)}`;
  const node = `${base}/h1`;
  const probe = await connectProbe(url);
  const bare = spawn(process.execPath, ['-e', 'setInterval(()=>{},1e9)'], { stdio: 'ignore' });
  const nodeArgs = await deployedNodeArgs();
  const agent = await spawnAgent({ url, base, stateDir, entry, nodeArgs, config: { jobs: { enabled: false }, llm: { default_model: null } } });
  const jobsStateDir = await mkdtemp(join(tmpdir(), 'anchiale-bench-footprint-jobs-'));
  const jobsBase = `${base}-jobs`;
  await writeTinyLlamaGguf(join(jobsStateDir, 'tiny.gguf'));
  const jobsAgent = await spawnAgent({
    url,
    base: jobsBase,
    stateDir: jobsStateDir,
    entry,
    nodeArgs,
    config: { jobs: { enabled: true }, llm: { models_dir: jobsStateDir, default_model: 'tiny' } },
  });
  try {
    await probe.subscribe([`${node}/status`, `${jobsBase}/h1/status`]);
    await probe.next(`${node}/status`, (m) => m.text === 'online', 20_000);
    await probe.next(`${jobsBase}/h1/status`, (m) => m.text === 'online', 20_000);
    // Warm rooms: the agents idle (no heat, no model).
    for (const a of [agent, jobsAgent]) await probe.publish(a.roomTopic, JSON.stringify({ local_temperature: 21.6, occupied_heating_setpoint: 21 }));
    await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
    if (bare.pid === undefined) throw new Error('bare node did not start');
    const pids = { agent: agent.pid, jobs: jobsAgent.pid, bare: bare.pid };
    const first = { agent: readProcSample(pids.agent), jobs: readProcSample(pids.jobs), bare: readProcSample(pids.bare) };
    if (!first.agent || !first.jobs || !first.bare) throw new Error('cannot read /proc for an agent or the bare process');
    let prev = { agent: first.agent, jobs: first.jobs, bare: first.bare };
    const samples: FootprintSample[] = [];
    const t0 = first.agent.atMs;
    for (let i = 1; i <= durationS; i++) {
      await new Promise((r) => setTimeout(r, Math.max(0, t0 + i * 1000 - performance.now())));
      const a = readProcSample(pids.agent);
      const j = readProcSample(pids.jobs);
      const b = readProcSample(pids.bare);
      if (!a || !j || !b) throw new Error(`a process ended during the benchmark (agent stderr: ${agent.stderr().slice(-300)} ${jobsAgent.stderr().slice(-300)})`);
      const pct = (now: ProcSample, before: ProcSample) => ((now.cpuS - before.cpuS) / Math.max(1e-9, (now.atMs - before.atMs) / 1000)) * 100;
      samples.push({
        t: r2((a.atMs - t0) / 1000),
        agentRssMiB: r2(mib(a.rssKiB)),
        jobsAgentRssMiB: r2(mib(j.rssKiB)),
        bareRssMiB: r2(mib(b.rssKiB)),
        agentCpuPct: r3(pct(a, prev.agent)),
        bareCpuPct: r3(pct(b, prev.bare)),
      });
      prev = { agent: a, jobs: j, bare: b };
    }
    const childProcesses = (await readFile(`/proc/${pids.jobs}/task/${pids.jobs}/children`, 'utf8').catch(() => '')).trim().split(/\s+/).filter(Boolean).length;
    const jobsSummary = { ...summary(first.jobs, prev.jobs, samples.map((s) => s.jobsAgentRssMiB)), childProcesses };
    const agentSummary = summary(first.agent, prev.agent, samples.map((s) => s.agentRssMiB));
    const bareSummary = summary(first.bare, prev.bare, samples.map((s) => s.bareRssMiB));
    const rssRatio = r2(agentSummary.rssMeanMiB / bareSummary.rssMeanMiB);
    const core = {
      durationS,
      agent: agentSummary,
      jobsAgent: jobsSummary,
      jobsRssRatio: r2(jobsSummary.rssMeanMiB / bareSummary.rssMeanMiB),
      bare: bareSummary,
      rssRatio,
      goals: { rss: rssRatio <= FOOTPRINT_GOALS.rssRatioMax, cpu: agentSummary.cpuPct <= FOOTPRINT_GOALS.cpuPctMax },
    };
    const table = footprintTable(core);
    const result: FootprintResult = { ...core, samples, table };
    const dir = o.resultsDir === undefined ? RESULTS_DIR : o.resultsDir;
    if (dir !== null) {
      await mkdir(dir, { recursive: true });
      const meta = { node: process.version, platform: `${process.platform} ${process.arch}`, measured_at: new Date().toISOString(), goals: FOOTPRINT_GOALS };
      await writeFile(join(dir, 'footprint.json'), JSON.stringify({ ...meta, ...result, table: undefined }, null, 1) + '\n');
      await writeFile(join(dir, 'footprint.svg'), footprintSvg(result));
    }
    return result;
  } finally {
    await agent.cleanup();
    await jobsAgent.cleanup();
    for (const t of ['status', 'state', 'info']) await probe.publish(`${jobsBase}/h1/${t}`, '', { retain: true }).catch(() => undefined);
    await rm(jobsStateDir, { recursive: true, force: true });
    if (bare.exitCode === null && bare.signalCode === null && bare.pid !== undefined) process.kill(bare.pid, 'SIGTERM');
    for (const t of ['status', 'state', 'info']) await probe.publish(`${node}/${t}`, '', { retain: true }).catch(() => undefined);
    await probe.end();
    await rm(stateDir, { recursive: true, force: true });
  }
}

export function footprintSvg(r: FootprintResult): string {
  return lineChartSvg({
    title: `Idle footprint: agent (compiled, sim heater, no model) vs bare node, ${r.durationS} s`,
    xLabel: 'time (s)',
    panels: [
      {
        yLabel: 'RSS (MiB)',
        series: [
          { name: `agent (mean ${r.agent.rssMeanMiB.toFixed(1)} MiB)`, points: r.samples.map((s) => [s.t, s.agentRssMiB] as const) },
          { name: `agent, jobs on (mean ${r.jobsAgent.rssMeanMiB.toFixed(1)} MiB)`, points: r.samples.map((s) => [s.t, s.jobsAgentRssMiB] as const) },
          { name: `bare node (mean ${r.bare.rssMeanMiB.toFixed(1)} MiB)`, points: r.samples.map((s) => [s.t, s.bareRssMiB] as const) },
        ],
        refs: [{ y: r.bare.rssMeanMiB * FOOTPRINT_GOALS.rssRatioMax, label: `goal: ${FOOTPRINT_GOALS.rssRatioMax}× bare` }],
      },
      {
        yLabel: 'CPU (% of a core, per second)',
        series: [
          { name: `agent (${r.agent.cpuPct.toFixed(3)} % overall)`, points: r.samples.map((s) => [s.t, s.agentCpuPct] as const) },
          { name: `bare node (${r.bare.cpuPct.toFixed(3)} %)`, points: r.samples.map((s) => [s.t, s.bareCpuPct] as const) },
        ],
        refs: [{ y: FOOTPRINT_GOALS.cpuPctMax, label: `goal ≤ ${FOOTPRINT_GOALS.cpuPctMax} %` }],
      },
    ],
  });
}
