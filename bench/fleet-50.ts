/**
 * Benchmark: a fleet of 50 heaters on one Mosquitto, 1 000 jobs from 8 concurrent JobClients.
 *
 * 50 real node-llama-cpp workers do not fit a 2-core machine, so each heater is a FakeHeater
 * (test/fakes/fake-heater.ts): it speaks the same job protocol (retained `status` + `state` with
 * demand and `llm.accepting`, direct topic, fleet topic through `$share` only while it wants heat,
 * accepted → chunks → done) with a short simulated generation. Half the heaters have heat demand;
 * the other half advertise demand 0 / not accepting, join no fleet subscription and answer
 * `rejected: no_heat_demand` to anything sent to them. A heater with demand takes at most
 * `slots` jobs at once and answers `rejected: busy` beyond that (the client retries elsewhere).
 *
 * Checks: zero lost (every submit ends done, and the wire shows exactly one terminal answer per
 * accepted job), zero served by a heater without heat demand. Reports p50/p99 of the time to
 * `accepted` and to `done` as the client measured them, and throughput.
 *
 * Writes bench/results/fleet-50.json and bench/results/fleet-50.svg. Reports; never fails the run.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { JobClient, type JobResult } from '../agent/client/job-client.js';
import { AgentError } from '../agent/errors.js';
import { FakeHeater, type FakeBehavior } from '../test/fakes/fake-heater.js';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { connectProbe } from '../test/helpers/mqtt-probe.js';
import { waitFor } from '../test/helpers/wait.js';
import { histogramSvg } from './svg-chart.js';
import { percentile } from './fleet-jobs.js';

export interface Fleet50Summary {
  heaters: number;
  withDemand: number;
  clients: number;
  inFlightPerClient: number;
  jobs: number;
  genMs: number;
  done: number;
  lost: number;
  failures: string[];
  servedWithoutDemand: number;
  /** Jobs that reached a heater without demand (all rejected, none served). */
  offeredToNoDemand: number;
  terminalOnWire: { accepted: number; exactlyOne: number; missing: number; conflicting: number };
  via: { direct: number; fleet: number };
  rejectionsRetried: number;
  /** Dispatch attempts by outcome (accepted, rejected, timeout, no_subscriber). */
  attempts: Record<string, number>;
  acceptMs: { p50: number; p99: number; max: number };
  doneMs: { p50: number; p99: number; max: number };
  servedPerHeater: { min: number; max: number };
  wallS: number;
  jobsPerS: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * A heater with demand: `slots` jobs run at once, up to `maxQueue` more wait (accepted with their
 * queue position), beyond that `rejected: busy`; a short generation, one streamed chunk when asked.
 */
function servingBehavior(slots: number, maxQueue: number, genMs: number): FakeBehavior {
  const running = new Map<string, number>();
  const waiting = new Map<string, Array<() => void>>();
  const pending = new Set<string>();
  // Like a real heater, the retained state follows the free slots (throttled: at most every 250 ms).
  const advertise = (h: FakeHeater) => {
    if (pending.has(h.node)) return;
    pending.add(h.node);
    setTimeout(() => {
      pending.delete(h.node);
      const run = running.get(h.node) ?? 0;
      void h.setState({ slots: Math.max(0, slots - run), jobsActive: run + (waiting.get(h.node)?.length ?? 0) }).catch(() => undefined);
    }, 250);
  };
  return async (job, h) => {
    const run = running.get(h.node) ?? 0;
    const queue = waiting.get(h.node) ?? [];
    waiting.set(h.node, queue);
    if (run >= slots && queue.length >= maxQueue) {
      await h.reply(job, { type: 'rejected', reason: 'busy', message: 'queue full' });
      return;
    }
    const queuedAt = performance.now();
    advertise(h);
    if (run < slots) {
      running.set(h.node, run + 1);
      await h.reply(job, { type: 'accepted', queue_position: 0 });
    } else {
      const slot = new Promise<void>((r) => queue.push(r));
      await h.reply(job, { type: 'accepted', queue_position: queue.length });
      await slot; // the finishing job hands its slot over (running count unchanged)
    }
    try {
      const queueMs = Math.round(performance.now() - queuedAt);
      const text = `heat from ${h.node}`;
      if (job.body.stream === true) {
        await sleep(genMs / 2);
        await h.reply(job, { type: 'chunk', seq: 0, text });
        await sleep(genMs / 2);
      } else {
        await sleep(genMs);
      }
      await h.reply(job, FakeHeater.done(text, { timing: { queue_ms: queueMs, ttft_ms: Math.round(genMs / 2), total_ms: queueMs + genMs } }));
    } finally {
      const nextJob = queue.shift();
      if (nextJob) nextJob();
      else running.set(h.node, (running.get(h.node) ?? 1) - 1);
    }
  };
}

export async function runFleet50Bench(
  opts: { heaters?: number; clients?: number; inFlightPerClient?: number; jobs?: number; genMs?: number; slots?: number; maxQueue?: number; out?: string | null } = {},
): Promise<{ table: string; summary: Fleet50Summary }> {
  const nHeaters = opts.heaters ?? 50;
  const nClients = opts.clients ?? 8;
  const perClient = opts.inFlightPerClient ?? 8;
  const nJobs = opts.jobs ?? 1000;
  const genMs = opts.genMs ?? 40;
  const slots = opts.slots ?? 2;
  const maxQueue = opts.maxQueue ?? 8;
  const base = `anchiale-bench/fleet50-${process.pid}-${Date.now().toString(36)}`;
  const broker = await startMosquitto({ extraConfig: ['max_queued_messages 10000'] });
  const cleanups: Array<() => Promise<unknown>> = [() => broker.stop()];
  try {
    const serve = servingBehavior(slots, maxQueue, genMs);
    const offeredToNoDemand = { n: 0 };
    const heaters: FakeHeater[] = [];
    for (let i = 0; i < nHeaters; i++) {
      const wants = i % 2 === 0;
      const node = `h${String(i).padStart(2, '0')}`;
      const h = new FakeHeater({
        url: broker.url,
        base,
        node,
        fleet: wants,
        state: wants ? { demand: 0.3 + (i % 7) / 10, accepting: true, slots, maxSlots: slots } : { demand: 0, accepting: false, slots: 0, maxSlots: slots, reasons: ['above_setpoint'] },
        behavior: wants
          ? serve
          : async (job, me) => {
              offeredToNoDemand.n += 1;
              await me.reply(job, { type: 'rejected', reason: 'no_heat_demand', message: 'the room does not want heat' });
            },
      });
      await h.start();
      heaters.push(h);
    }
    cleanups.unshift(async () => {
      for (const h of heaters) await h.stop().catch(() => undefined);
    });
    const wantsHeat = new Set(heaters.filter((_, i) => i % 2 === 0).map((h) => h.node));

    const probe = await connectProbe(broker.url);
    cleanups.unshift(() => probe.end());
    await probe.subscribe(`${base}/replies/#`);

    const clients: JobClient[] = [];
    for (let c = 0; c < nClients; c++) {
      const client = new JobClient({ url: broker.url, base, clientId: `bench-fleet50-${process.pid}-${c}`, acceptTimeoutMs: 3000, fleetAttempts: 8, maxDirectAttempts: 4 });
      await client.start();
      clients.push(client);
      cleanups.unshift(() => client.stop());
    }
    await waitFor(() => clients.every((c) => c.fleetStatus().usable.length === wantsHeat.size), { timeoutMs: 30_000, what: `${wantsHeat.size} heaters usable by every client` });

    const t0 = performance.now();
    const outcomes: (JobResult | AgentError)[] = new Array(nJobs);
    let next = 0;
    await Promise.all(
      clients.flatMap((client) =>
        Array.from({ length: perClient }, async () => {
          while (next < nJobs) {
            const i = next++;
            try {
              outcomes[i] = await client.submit({ prompt: `job ${i}`, maxTokens: 16, seed: i, via: i % 5 === 0 ? 'fleet' : 'auto', stream: i % 3 === 0, ttlS: 60 });
            } catch (err) {
              outcomes[i] = err instanceof AgentError ? err : new AgentError('unexpected', String(err));
            }
          }
        }),
      ),
    );
    const wallS = (performance.now() - t0) / 1000;
    const results = outcomes.filter((o): o is JobResult => !(o instanceof AgentError));
    const failures = outcomes.filter((o): o is AgentError => o instanceof AgentError).map((e) => `${e.code}: ${e.message}`);

    // The wire: for every accepted (job_id, node), the distinct terminal types seen.
    await sleep(300);
    const accepted = new Set<string>();
    const terminal = new Map<string, Set<string>>();
    for (const m of probe.received(`${base}/replies/#`)) {
      const r = JSON.parse(m.text) as { type: string; job_id: string; node: string };
      const key = `${r.job_id}|${r.node}`;
      if (r.type === 'accepted') accepted.add(key);
      if (r.type === 'done' || r.type === 'error') terminal.set(key, (terminal.get(key) ?? new Set()).add(r.type));
    }
    const acceptedKeys = [...accepted];
    const served = heaters.map((h) => results.filter((r) => r.node === h.node).length).filter((_, i) => i % 2 === 0);
    const acc = results.map((r) => r.client.acceptedMs);
    const tot = results.map((r) => r.client.totalMs);
    const summary: Fleet50Summary = {
      heaters: nHeaters,
      withDemand: wantsHeat.size,
      clients: nClients,
      inFlightPerClient: perClient,
      jobs: nJobs,
      genMs,
      done: results.length,
      lost: nJobs - results.length,
      failures,
      servedWithoutDemand: results.filter((r) => !wantsHeat.has(r.node)).length,
      offeredToNoDemand: offeredToNoDemand.n,
      terminalOnWire: {
        accepted: acceptedKeys.length,
        exactlyOne: acceptedKeys.filter((k) => terminal.get(k)?.size === 1).length,
        missing: acceptedKeys.filter((k) => !terminal.has(k)).length,
        conflicting: acceptedKeys.filter((k) => (terminal.get(k)?.size ?? 0) > 1).length,
      },
      via: { direct: results.filter((r) => r.via === 'direct').length, fleet: results.filter((r) => r.via === 'fleet').length },
      rejectionsRetried: results.reduce((a, r) => a + r.attempts.filter((x) => x.outcome === 'rejected').length, 0),
      attempts: results.flatMap((r) => r.attempts).reduce<Record<string, number>>((a, x) => ({ ...a, [x.outcome]: (a[x.outcome] ?? 0) + 1 }), {}),
      acceptMs: { p50: percentile(acc, 50), p99: percentile(acc, 99), max: Math.max(...acc) },
      doneMs: { p50: percentile(tot, 50), p99: percentile(tot, 99), max: Math.max(...tot) },
      servedPerHeater: { min: Math.min(...served), max: Math.max(...served) },
      wallS,
      jobsPerS: results.length / wallS,
    };
    const out = opts.out === undefined ? join(fileURLToPath(new URL('.', import.meta.url)), 'results', 'fleet-50.json') : opts.out;
    if (out !== null) {
      await mkdir(join(out, '..'), { recursive: true });
      await writeFile(out, `${JSON.stringify({ generatedAt: new Date().toISOString(), ...summary }, null, 2)}\n`);
      const svg = histogramSvg({
        title: `fleet-50: ${nJobs} jobs, ${nHeaters} heaters (${wantsHeat.size} with demand), ${nClients} clients`,
        xLabel: 'ms from submit (client)',
        series: [
          { name: 'to accepted', values: acc },
          { name: 'to done', values: tot },
        ],
        markers: [
          { x: summary.acceptMs.p99, label: `accepted p99 ${summary.acceptMs.p99.toFixed(0)}` },
          { x: summary.doneMs.p50, label: `done p50 ${summary.doneMs.p50.toFixed(0)}` },
          { x: summary.doneMs.p99, label: `done p99 ${summary.doneMs.p99.toFixed(0)}` },
        ],
      });
      await writeFile(out.replace(/\.json$/, '.svg'), svg);
    }
    return { table: formatFleet50(summary), summary };
  } finally {
    for (const c of cleanups) await c().catch(() => undefined);
  }
}

export function formatFleet50(s: Fleet50Summary): string {
  const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const ok = (b: boolean) => (b ? 'PASS' : 'FAIL');
  const w = s.terminalOnWire;
  return [
    `${s.heaters} fake heaters (same job protocol, ${s.genMs} ms generation, 2 slots + queue 8), ${s.withDemand} with heat demand; ${s.clients} JobClients × ${s.inFlightPerClient} in flight; ${s.jobs} jobs`,
    `metric                          p50      p99      max`,
    `time to accepted (ms)     ${f(s.acceptMs.p50, 1).padStart(8)} ${f(s.acceptMs.p99, 1).padStart(8)} ${f(s.acceptMs.max, 1).padStart(8)}`,
    `time to done (ms)         ${f(s.doneMs.p50, 1).padStart(8)} ${f(s.doneMs.p99, 1).padStart(8)} ${f(s.doneMs.max, 1).padStart(8)}`,
    `done ${s.done} · lost ${s.lost} ${ok(s.lost === 0)} · served without heat demand ${s.servedWithoutDemand} ${ok(s.servedWithoutDemand === 0)} (offered to such heaters: ${s.offeredToNoDemand}, all rejected)`,
    `wire: ${w.accepted} accepted, ${w.exactlyOne} with exactly one terminal answer, ${w.missing} missing, ${w.conflicting} conflicting ${ok(w.missing === 0 && w.conflicting === 0)}`,
    `via direct ${s.via.direct} · via fleet ${s.via.fleet} · attempts ${JSON.stringify(s.attempts)} · jobs per heater with demand ${s.servedPerHeater.min}–${s.servedPerHeater.max}`,
    `${f(s.jobsPerS, 1)} jobs/s over ${f(s.wallS, 1)} s`,
    ...(s.failures.length > 0 ? [`failures: ${s.failures.slice(0, 5).join(' | ')}`] : []),
  ].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { table } = await runFleet50Bench();
  process.stdout.write(`${table}\n`);
}
