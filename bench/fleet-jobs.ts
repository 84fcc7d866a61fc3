/**
 * Benchmark: jobs over a small fleet. Three real heaters (AgentRuntime + JobRuntime + LLM worker,
 * the generated tiny model on one CPU thread, max_parallel 2) on Mosquitto; two rooms want heat,
 * the third is above its setpoint. 200 jobs from one JobClient, 16 in flight, every other one
 * through the fleet topic only (shared subscription), the others by heat-aware direct dispatch.
 * Checks: none lost (every submit ends `done`, and the wire shows exactly one terminal answer per
 * job), none served by the heater without heat demand. Reports queue time at the heater p50/p99,
 * the client's acceptance latency and end-to-end latency p50/p99, busy rejections retried, and
 * throughput.
 *
 * Writes bench/results/fleet-jobs.json. Reports; never fails the run.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { JobClient, type JobResult } from '../agent/client/job-client.js';
import { AgentError } from '../agent/errors.js';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { connectProbe } from '../test/helpers/mqtt-probe.js';
import { startJobHeaters } from '../test/helpers/job-heaters.js';
import { waitFor } from '../test/helpers/wait.js';

export interface FleetJobsSummary {
  jobs: number;
  inFlight: number;
  maxTokens: number;
  heaters: { node: string; roomC: number; wantsHeat: boolean; served: number }[];
  done: number;
  lost: number;
  failures: string[];
  servedWithoutDemand: number;
  terminalAnswersOnWire: { jobs: number; duplicates: number; missing: number };
  via: { direct: number; fleet: number };
  busyRejections: number;
  queueMs: { p50: number; p99: number; max: number };
  acceptMs: { p50: number; p99: number };
  latencyMs: { p50: number; p99: number };
  wallS: number;
  jobsPerS: number;
}

export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i]!;
}

export async function runFleetJobsBench(opts: { jobs?: number; inFlight?: number; maxTokens?: number; out?: string | null } = {}): Promise<{ table: string; summary: FleetJobsSummary }> {
  const n = opts.jobs ?? 200;
  const inFlight = opts.inFlight ?? 16;
  const maxTokens = opts.maxTokens ?? 24;
  const rooms = [
    { node: 'cold1', roomC: 18 },
    { node: 'cold2', roomC: 19.5 },
    { node: 'warm', roomC: 23 },
  ];
  const broker = await startMosquitto();
  const cleanups: Array<() => Promise<unknown>> = [() => broker.stop()];
  try {
    const fleet = await startJobHeaters({ url: broker.url, heaters: rooms.map((r) => ({ ...r, maxParallel: 2 })) });
    cleanups.unshift(() => fleet.stop());
    const probe = await connectProbe(broker.url);
    cleanups.unshift(() => probe.end());
    await probe.subscribe(`${fleet.base}/replies/#`);
    const client = new JobClient({ url: broker.url, base: fleet.base, acceptTimeoutMs: 5000, fleetAttempts: 8 });
    await client.start();
    cleanups.unshift(() => client.stop());
    await waitFor(() => client.fleetStatus().usable.length === 2, { timeoutMs: 30_000, what: 'two heaters accepting' });
    // Warm the two workers up (model load) before timing.
    await Promise.all(['cold1', 'cold2'].map((node) => client.submit({ prompt: 'warm-up', maxTokens: 4, node })));

    const t0 = performance.now();
    const outcomes: (JobResult | AgentError)[] = new Array(n);
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < n) {
          const i = next++;
          try {
            outcomes[i] = await client.submit({ prompt: `job ${i}: tell the room`, maxTokens, seed: i, via: i % 2 === 0 ? 'fleet' : 'auto', stream: i % 4 === 0 });
          } catch (err) {
            outcomes[i] = err instanceof AgentError ? err : new AgentError('unexpected', String(err));
          }
        }
      }),
    );
    const wallS = (performance.now() - t0) / 1000;
    const results = outcomes.filter((o): o is JobResult => !(o instanceof AgentError));
    const failures = outcomes.filter((o): o is AgentError => o instanceof AgentError).map((e) => `${e.code}: ${e.message}`);
    const ids = new Set(results.map((r) => r.jobId));
    // The wire: terminal answers per job id (every submitted id, warm-ups excluded).
    await waitFor(() => probe.received(`${fleet.base}/replies/#`).filter((m) => /"type":"(done|error)"/.test(m.text)).length >= n + 2, { timeoutMs: 10_000, what: 'every terminal answer' }).catch(
      () => undefined,
    );
    const terminal = new Map<string, number>();
    for (const m of probe.received(`${fleet.base}/replies/#`)) {
      const r = JSON.parse(m.text) as { type: string; job_id: string };
      if ((r.type === 'done' || r.type === 'error') && ids.has(r.job_id)) terminal.set(r.job_id, (terminal.get(r.job_id) ?? 0) + 1);
    }
    const served = (node: string) => results.filter((r) => r.node === node).length;
    const summary: FleetJobsSummary = {
      jobs: n,
      inFlight,
      maxTokens,
      heaters: rooms.map((r) => ({ ...r, wantsHeat: r.roomC < 21, served: served(r.node) })),
      done: results.length,
      lost: n - results.length,
      failures,
      servedWithoutDemand: results.filter((r) => r.node === 'warm').length,
      terminalAnswersOnWire: {
        jobs: terminal.size,
        duplicates: [...terminal.values()].filter((c) => c > 1).length,
        missing: [...ids].filter((id) => !terminal.has(id)).length,
      },
      via: { direct: results.filter((r) => r.via === 'direct').length, fleet: results.filter((r) => r.via === 'fleet').length },
      busyRejections: results.reduce((a, r) => a + r.attempts.filter((x) => x.outcome === 'rejected').length, 0),
      queueMs: {
        p50: percentile(results.map((r) => r.timing.queueMs ?? 0), 50),
        p99: percentile(results.map((r) => r.timing.queueMs ?? 0), 99),
        max: Math.max(...results.map((r) => r.timing.queueMs ?? 0)),
      },
      acceptMs: { p50: percentile(results.map((r) => r.client.acceptedMs), 50), p99: percentile(results.map((r) => r.client.acceptedMs), 99) },
      latencyMs: { p50: percentile(results.map((r) => r.client.totalMs), 50), p99: percentile(results.map((r) => r.client.totalMs), 99) },
      wallS,
      jobsPerS: results.length / wallS,
    };
    const out = opts.out === undefined ? join(fileURLToPath(new URL('.', import.meta.url)), 'results', 'fleet-jobs.json') : opts.out;
    if (out !== null) {
      await mkdir(join(out, '..'), { recursive: true });
      await writeFile(out, `${JSON.stringify({ generatedAt: new Date().toISOString(), ...summary }, null, 2)}\n`);
    }
    return { table: formatFleetJobs(summary), summary };
  } finally {
    for (const c of cleanups) await c().catch(() => undefined);
  }
}

export function formatFleetJobs(s: FleetJobsSummary): string {
  const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const ok = (b: boolean) => (b ? 'PASS' : 'FAIL');
  return [
    `${s.jobs} jobs, ${s.inFlight} in flight, max_tokens ${s.maxTokens}, tiny model, 1 thread, max_parallel 2 per heater`,
    `heater  room °C  wants heat  served`,
    ...s.heaters.map((h) => `${h.node.padEnd(6)}  ${h.roomC.toFixed(1).padStart(7)}  ${(h.wantsHeat ? 'yes' : 'no').padStart(10)}  ${String(h.served).padStart(6)}`),
    `done ${s.done} · lost ${s.lost} ${ok(s.lost === 0)} · served without heat demand ${s.servedWithoutDemand} ${ok(s.servedWithoutDemand === 0)}`,
    `terminal answers on the wire: ${s.terminalAnswersOnWire.jobs} jobs, ${s.terminalAnswersOnWire.duplicates} duplicated, ${s.terminalAnswersOnWire.missing} missing`,
    `via direct ${s.via.direct} · via fleet ${s.via.fleet} · busy rejections retried ${s.busyRejections}`,
    `queue time at the heater ms: p50 ${f(s.queueMs.p50)} · p99 ${f(s.queueMs.p99)} · max ${f(s.queueMs.max)}`,
    `client: accepted p50 ${f(s.acceptMs.p50, 1)} ms · p99 ${f(s.acceptMs.p99, 1)} ms; answer p50 ${f(s.latencyMs.p50)} ms · p99 ${f(s.latencyMs.p99)} ms`,
    `${f(s.jobsPerS, 1)} jobs/s over ${f(s.wallS, 1)} s`,
    ...(s.failures.length > 0 ? [`failures: ${s.failures.slice(0, 5).join(' | ')}`] : []),
  ].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { table } = await runFleetJobsBench();
  process.stdout.write(`${table}\n`);
}
