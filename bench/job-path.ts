/**
 * Benchmark: what the job protocol costs. The same generated model (GGUF_PRESETS 'bench-cpu'), the
 * same prompt, seed, temperature and max_tokens, one CPU thread, one job at a time, side by side in
 * one run:
 *  - direct: node-llama-cpp in this process (LlamaCompletion, as the worker runs a prompt job);
 *  - mqtt: JobClient → Mosquitto → a real heater (AgentRuntime + JobRuntime + the LLM worker process)
 *    → chunks and done back, timed by the client from submit() to the answer.
 * Runs alternate (direct first on even runs, mqtt first on odd ones) after one warm-up of each.
 * Goals: tokens/s ratio mqtt/direct ≥ 0.95 (medians); time-to-first-token overhead p50 ≤ 15 ms
 * (median of the per-run differences mqtt − direct). The broker runs with `set_tcp_nodelay true`
 * (see JobPathOptions.brokerNoDelay; `--broker-nagle` measures Mosquitto's default).
 *
 * Writes bench/results/job-path.json (job-path-nagle.json with --broker-nagle). Reports; never fails the run.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { getLlama, LlamaCompletion, LlamaLogLevel } from 'node-llama-cpp';
import { GGUF_PRESETS, writeTinyLlamaGguf } from '../agent/adapters/llm/gguf-writer.js';
import { JobClient } from '../agent/client/job-client.js';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { startJobHeaters } from '../test/helpers/job-heaters.js';
import { waitFor } from '../test/helpers/wait.js';

export const JOB_PATH_GOALS = { tokensPerSRatioMin: 0.95, ttftOverheadP50MaxMs: 15 } as const;

export interface JobPathRun {
  path: 'direct' | 'mqtt';
  run: number;
  tokens: number;
  totalMs: number;
  ttftMs: number | null;
  tokensPerS: number;
  /** The heater's own timing (mqtt only). */
  heater?: { queueMs: number | null; ttftMs: number | null; totalMs: number | null };
  text: string;
}

export interface JobPathSummary {
  preset: 'bench-cpu';
  threads: 1;
  maxTokens: number;
  runs: number;
  brokerNoDelay: boolean;
  prompt: string;
  seed: number;
  temperature: number;
  direct: { tokensPerSP50: number; ttftP50Ms: number | null; totalP50Ms: number };
  mqtt: { tokensPerSP50: number; ttftP50Ms: number | null; totalP50Ms: number; heaterTtftP50Ms: number | null };
  ratio: number;
  /** Median of the per-run ratios mqtt/direct (runs paired by index). */
  pairedRatioP50: number;
  /** Client total − heater total (from receipt to done), p50: the transport's share (ms). */
  transportP50Ms: number;
  ttftOverheadP50Ms: number | null;
  sameText: boolean;
  goals: { tokensPerSRatio: boolean; ttftOverhead: boolean };
  runsDetail: Omit<JobPathRun, 'text'>[];
}

export interface JobPathOptions {
  /** Runs per path (default 31: on 2 shared cores one run's noise is a few %, the goal's margin too). */
  runs?: number;
  maxTokens?: number;
  /** Where the JSON goes (default bench/results/job-path.json; null: not written). */
  out?: string | null;
  /**
   * Mosquitto with `set_tcp_nodelay true` (default true). Without it, a job that reaches a heater
   * right after the heater's previous answer waits for the heater's delayed ACK (Nagle at the
   * broker): about 40 ms more.
   */
  brokerNoDelay?: boolean;
}

const PROMPT = 'The heater in the living room answers a question about the weather:';
const SEED = 42;
const TEMPERATURE = 0.7;

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export async function runJobPathBench(opts: JobPathOptions = {}): Promise<{ table: string; summary: JobPathSummary }> {
  const runs = opts.runs ?? 31;
  const maxTokens = opts.maxTokens ?? 128;
  const contextSize = 1024;
  const dir = await mkdtemp(join(tmpdir(), 'anchiale-bench-job-path-'));
  const modelPath = join(dir, 'bench-cpu.gguf');
  const brokerNoDelay = opts.brokerNoDelay ?? true;
  const broker = await startMosquitto({ extraConfig: brokerNoDelay ? ['set_tcp_nodelay true'] : [] });
  const cleanups: Array<() => Promise<unknown>> = [() => rm(dir, { recursive: true, force: true }), () => broker.stop()];
  try {
    await writeTinyLlamaGguf(modelPath, GGUF_PRESETS['bench-cpu']);

    // The heater: a cold room, jobs on, the model on one thread, one sequence.
    const fleet = await startJobHeaters({ url: broker.url, heaters: [{ node: 'bench', roomC: 18, maxParallel: 1 }], modelPath, contextSize });
    cleanups.unshift(() => fleet.stop());
    const client = new JobClient({ url: broker.url, base: fleet.base, acceptTimeoutMs: 10_000 });
    await client.start();
    cleanups.unshift(() => client.stop());
    await waitFor(() => client.fleetStatus().usable.length === 1, { timeoutMs: 30_000, what: 'the heater accepting jobs' });

    // Direct: the same library, model, context and thread count, in this process.
    const llama = await getLlama({ build: 'never', gpu: false, maxThreads: 1, logLevel: LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
    const context = await model.createContext({ contextSize, sequences: 1, threads: 1 });
    cleanups.unshift(async () => {
      await context.dispose();
      await model.dispose();
      await llama.dispose();
    });

    const direct = async (run: number): Promise<JobPathRun> => {
      const sequence = context.getSequence();
      const completion = new LlamaCompletion({ contextSequence: sequence });
      const out0 = sequence.tokenMeter.usedOutputTokens;
      let ttft: number | null = null;
      const t0 = performance.now();
      try {
        const r = await completion.generateCompletionWithMeta(PROMPT, {
          maxTokens,
          temperature: TEMPERATURE,
          seed: SEED,
          disableContextShift: true,
          onTextChunk: () => {
            ttft ??= performance.now() - t0;
          },
        });
        const totalMs = performance.now() - t0;
        const tokens = Math.min(maxTokens, sequence.tokenMeter.usedOutputTokens - out0);
        return { path: 'direct', run, tokens, totalMs, ttftMs: ttft, tokensPerS: (tokens * 1000) / totalMs, text: r.response };
      } finally {
        completion.dispose({ disposeSequence: false });
        sequence.dispose();
      }
    };
    const mqtt = async (run: number): Promise<JobPathRun> => {
      const r = await client.submit({ prompt: PROMPT, maxTokens, temperature: TEMPERATURE, seed: SEED, stream: true });
      const tokens = r.usage.completionTokens ?? 0;
      return {
        path: 'mqtt',
        run,
        tokens,
        totalMs: r.client.totalMs,
        ttftMs: r.client.firstChunkMs,
        tokensPerS: (tokens * 1000) / r.client.totalMs,
        heater: r.timing,
        text: r.text,
      };
    };

    // Warm-up (the heater's first job also waits for its model load).
    await mqtt(-1);
    await direct(-1);
    const all: JobPathRun[] = [];
    for (let i = 0; i < runs; i++) {
      if (i % 2 === 0) all.push(await direct(i), await mqtt(i));
      else all.push(await mqtt(i), await direct(i));
    }
    const d = all.filter((r) => r.path === 'direct');
    const m = all.filter((r) => r.path === 'mqtt');
    const ttfts = (rs: JobPathRun[]) => rs.map((r) => r.ttftMs).filter((x): x is number => x !== null);
    const overheads: number[] = [];
    const pairedRatios: number[] = [];
    for (let i = 0; i < runs; i++) {
      const dr = d.find((r) => r.run === i);
      const mr = m.find((r) => r.run === i);
      if (!dr || !mr) continue;
      pairedRatios.push(mr.tokensPerS / dr.tokensPerS);
      if (dr.ttftMs !== null && mr.ttftMs !== null) overheads.push(mr.ttftMs - dr.ttftMs);
    }
    const transport = m.map((r) => (typeof r.heater?.totalMs === 'number' ? r.totalMs - r.heater.totalMs : NaN)).filter((x) => Number.isFinite(x));
    const dTps = median(d.map((r) => r.tokensPerS));
    const mTps = median(m.map((r) => r.tokensPerS));
    const overheadP50 = overheads.length > 0 ? median(overheads) : null;
    const heaterTtfts = m.map((r) => r.heater?.ttftMs).filter((x): x is number => typeof x === 'number');
    const summary: JobPathSummary = {
      preset: 'bench-cpu',
      threads: 1,
      maxTokens,
      runs,
      brokerNoDelay,
      prompt: PROMPT,
      seed: SEED,
      temperature: TEMPERATURE,
      direct: { tokensPerSP50: dTps, ttftP50Ms: ttfts(d).length ? median(ttfts(d)) : null, totalP50Ms: median(d.map((r) => r.totalMs)) },
      mqtt: {
        tokensPerSP50: mTps,
        ttftP50Ms: ttfts(m).length ? median(ttfts(m)) : null,
        totalP50Ms: median(m.map((r) => r.totalMs)),
        heaterTtftP50Ms: heaterTtfts.length ? median(heaterTtfts) : null,
      },
      ratio: mTps / dTps,
      pairedRatioP50: median(pairedRatios),
      transportP50Ms: median(transport),
      ttftOverheadP50Ms: overheadP50,
      sameText: all.every((r) => r.text === all[0]!.text),
      goals: {
        tokensPerSRatio: mTps / dTps >= JOB_PATH_GOALS.tokensPerSRatioMin,
        ttftOverhead: overheadP50 !== null && overheadP50 <= JOB_PATH_GOALS.ttftOverheadP50MaxMs,
      },
      runsDetail: all.map(({ text: _t, ...rest }) => rest),
    };
    const out = opts.out === undefined ? join(fileURLToPath(new URL('.', import.meta.url)), 'results', 'job-path.json') : opts.out;
    if (out !== null) {
      await mkdir(join(out, '..'), { recursive: true });
      await writeFile(out, `${JSON.stringify({ generatedAt: new Date().toISOString(), ...summary }, null, 2)}\n`);
    }
    return { table: formatJobPath(summary), summary };
  } finally {
    for (const c of cleanups) await c().catch(() => undefined);
  }
}

export function formatJobPath(s: JobPathSummary): string {
  const f = (x: number | null, d = 1) => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(d));
  const rows = [
    ['path', 'tokens/s p50', 'ttft p50 ms', 'total p50 ms'],
    ['direct node-llama-cpp', f(s.direct.tokensPerSP50), f(s.direct.ttftP50Ms), f(s.direct.totalP50Ms, 0)],
    ['MQTT job (client view)', f(s.mqtt.tokensPerSP50), f(s.mqtt.ttftP50Ms), f(s.mqtt.totalP50Ms, 0)],
  ];
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  const ok = (b: boolean) => (b ? 'PASS' : 'FAIL');
  return [
    `model bench-cpu (generated), 1 thread, max_tokens ${s.maxTokens}, seed ${s.seed}, temperature ${s.temperature}, ${s.runs} runs each, sequential; broker set_tcp_nodelay ${s.brokerNoDelay}`,
    ...rows.map(line),
    `tokens/s ratio mqtt/direct: ${s.ratio.toFixed(3)} (goal ≥ ${JOB_PATH_GOALS.tokensPerSRatioMin}) ${ok(s.goals.tokensPerSRatio)} · paired per run p50 ${s.pairedRatioP50.toFixed(3)}`,
    `time-to-first-token overhead p50: ${f(s.ttftOverheadP50Ms)} ms (goal ≤ ${JOB_PATH_GOALS.ttftOverheadP50MaxMs} ms) ${ok(s.goals.ttftOverhead)}`,
    `heater-reported ttft p50 (from receipt): ${f(s.mqtt.heaterTtftP50Ms)} ms · client total − heater total p50: ${f(s.transportP50Ms)} ms · same text on both paths: ${s.sameText ? 'yes' : 'no'}`,
  ].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // `--broker-nagle`: Mosquitto's default (set_tcp_nodelay false), written to job-path-nagle.json.
  const nagle = process.argv.includes('--broker-nagle');
  const { table } = await runJobPathBench(nagle ? { brokerNoDelay: false, out: join(fileURLToPath(new URL('.', import.meta.url)), 'results', 'job-path-nagle.json') } : {});
  process.stdout.write(`${table}\n`);
}
