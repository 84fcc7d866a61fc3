/**
 * JobRuntime's own rules with a hand-driven worker and bus (fast, deterministic): model load and
 * unload following the decision, fleet subscription and `accepting`, CPU fallback, energy shares,
 * chunk coalescing, drain and stop. The end-to-end behaviour is in job-runtime.test.ts.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConfigSchema } from '../../agent/config/schema.js';
import { JsonFileStore } from '../../agent/adapters/system/json-file-store.js';
import { silentLogger } from '../../agent/log.js';
import { JobRuntime } from '../../agent/runtime/job-runtime.js';
import type { InferenceControl } from '../../agent/ports/inference.js';
import { FakeBus } from '../fakes/fake-bus.js';
import { FakeSupervisor } from '../fakes/fake-supervisor.js';
import { waitFor } from '../helpers/wait.js';

type Obj = Record<string, unknown>;
const dirs: string[] = [];
const runtimes: JobRuntime[] = [];
after(async () => {
  // Also those of a test that failed before its close().
  for (const rt of runtimes) await rt.stop().catch(() => undefined);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Lets the runtime's promise callbacks run (the worker answers asynchronously in real life too). */
const tick = () => new Promise<void>((r) => setImmediate(r));
const HEAT: InferenceControl = { sequences: 2, accepting: true, modelWanted: true };
const WARM: InferenceControl = { sequences: 0, accepting: false, modelWanted: true };
const GONE: InferenceControl = { sequences: 0, accepting: false, modelWanted: false };

/** A bus whose SUBACKs the test releases. */
class SlowSubackBus extends FakeBus {
  readonly subacks: Array<{ filter: string; grant: (granted: boolean) => void }> = [];
  override subscribe(filter: string): Promise<{ granted: boolean }> {
    if (!filter.startsWith('$share/')) return super.subscribe(filter);
    return new Promise((resolve) => this.subacks.push({ filter, grant: (granted) => resolve({ granted }) }));
  }
}

interface Rig {
  rt: JobRuntime;
  bus: FakeBus;
  sup: FakeSupervisor;
  events: Array<{ type: string; fields: Obj }>;
  clock: { t: number; monoS(): number; wallMs(): number };
  power: { w: number | null };
  submit(job: Obj): void;
  replies(id: string): Obj[];
  apply(c: InferenceControl, dt?: number): void;
  close(): Promise<void>;
}

async function rig(o: { config?: Obj; bus?: FakeBus } = {}): Promise<Rig> {
  const dir = await mkdtemp(join(tmpdir(), 'anchiale-jobrt-'));
  dirs.push(dir);
  await writeFile(join(dir, 'tiny.gguf'), 'GGUF not really');
  const config = createConfigSchema({ defaultNodeId: 'h1' }).parse({
    version: 1,
    node: { id: 'h1' },
    mqtt: { base_topic: 'b' },
    inputs: { room_temperature: { topic: 'room' } },
    heater: { backend: 'sim' },
    state: { dir },
    llm: { models_dir: dir, default_model: 'tiny.gguf', max_parallel: 2 },
    jobs: { max_queue: 2, drain_timeout_s: 10 },
    ...o.config,
  });
  const bus = o.bus ?? new FakeBus();
  bus.connected = true;
  bus.autoAck = true;
  const sup = new FakeSupervisor();
  const events: Rig['events'] = [];
  const clock = { t: 100, monoS: () => clock.t, wallMs: () => 1.7e12 + clock.t * 1000 };
  const power = { w: 300 as number | null };
  const rt = new JobRuntime({
    config,
    bus,
    log: silentLogger(),
    clock,
    store: new JsonFileStore(dir),
    supervisor: () => sup.asSupervisor(),
    emitEvent: (type, _severity, fields = {}) => events.push({ type, fields }),
    powerW: () => power.w,
    stopGraceMs: 200,
  });
  runtimes.push(rt);
  await rt.start();
  return {
    rt,
    bus,
    sup,
    events,
    clock,
    power,
    submit: (job) =>
      bus.deliver({ topic: 'b/h1/jobs/submit', payload: Buffer.from(JSON.stringify({ reply_to: `b/replies/${String(job.job_id)}`, prompt: 'hi', ...job })), retain: false, qos: 1 }),
    replies: (id) => bus.published.filter((p) => p.topic === `b/replies/${id}`).map((p) => JSON.parse(p.payload) as Obj),
    apply: (c, dt = 0) => {
      clock.t += dt;
      rt.apply(c, clock.t);
    },
    close: () => rt.stop(),
  };
}

describe('JobRuntime with a hand-driven worker', () => {
  it('loads when the model is wanted (one context of max_parallel sequences), never unloads under running jobs, kills the worker when not wanted', async () => {
    const g = await rig();
    g.apply(GONE);
    assert.equal(g.sup.loads.length, 0, 'not wanted: not loaded');
    g.apply(HEAT);
    assert.equal(g.sup.loads.length, 1);
    assert.equal(g.sup.loads[0]!.opts.sequences, 2);
    assert.equal(g.sup.loads[0]!.opts.gpu, false, 'a sim heater infers on the CPU');
    assert.equal(g.rt.status().modelLoading, true);
    g.apply(HEAT);
    assert.equal(g.sup.loads.length, 1, 'one load at a time');
    g.sup.finishLoad();
    assert.equal(g.rt.status().modelLoaded, true);
    assert.equal(g.events.find((e) => e.type === 'model_loaded')?.fields.backend, 'cpu');
    g.submit({ job_id: 'j1' });
    assert.equal(g.rt.status().busy, 1);
    g.apply(GONE, 1);
    assert.equal(g.sup.kills, 0, 'a running job keeps the model');
    g.sup.done('j1');
    await tick();
    g.apply(GONE, 1);
    assert.equal(g.sup.kills, 1, 'then the worker is killed (no model, no GPU context)');
    assert.equal(g.rt.status().modelLoaded, false);
    assert.ok(g.events.some((e) => e.type === 'model_unloaded'));
    await g.close();
  });

  it('accepting turns true only once the fleet SUBACK is in, and the fleet is left when the decision stops accepting', async () => {
    const bus = new SlowSubackBus();
    const g = await rig({ bus });
    g.apply(HEAT);
    g.sup.finishLoad();
    g.apply(HEAT);
    assert.equal(bus.subacks.length, 1);
    assert.equal(bus.subacks[0]!.filter, '$share/anchiale/b/jobs/tiny/submit');
    assert.equal(g.rt.status().accepting, false, 'not before the SUBACK');
    g.submit({ job_id: 'direct' });
    assert.equal(g.replies('direct')[0]?.type, 'accepted', 'direct jobs are taken meanwhile');
    bus.subacks[0]!.grant(true);
    await new Promise((r) => setImmediate(r));
    assert.equal(g.rt.status().accepting, true);
    bus.disconnect();
    assert.equal(g.rt.status().accepting, false, 'not while disconnected');
    bus.connect();
    assert.equal(bus.subacks.length, 2, 'asked again after the reconnect');
    bus.subacks[1]!.grant(true);
    await new Promise((r) => setImmediate(r));
    assert.equal(g.rt.status().accepting, true);
    g.apply(WARM);
    assert.equal(g.rt.status().accepting, false);
    assert.ok(!bus.subscriptions.has('$share/anchiale/b/jobs/tiny/submit'));
    await g.close();
  });

  it('a GPU heater on the CPU is a fault: loud event, worker killed, fault cpu_fallback, jobs refused', async () => {
    const g = await rig({ config: { heater: { backend: 'nvidia' } } });
    g.apply(HEAT);
    assert.equal(g.sup.loads[0]!.opts.gpu, 'auto');
    g.sup.finishLoad('cpu');
    await tick();
    const ev = g.events.find((e) => e.type === 'cpu_fallback');
    assert.ok(ev);
    assert.equal(ev.fields.backend, 'cpu');
    assert.equal(g.sup.kills, 1);
    assert.equal(g.rt.status().fault, 'cpu_fallback');
    assert.ok(!g.events.some((e) => e.type === 'model_loaded'));
    g.apply(HEAT);
    assert.equal(g.rt.status().accepting, false);
    g.submit({ job_id: 'refused' });
    const r = g.replies('refused')[0];
    assert.equal(r?.reason, 'no_heat_demand');
    assert.match(String(r?.message), /cpu_fallback/);
    assert.equal(g.sup.loads.length, 1, 'no reload during the fault backoff');
    g.apply(HEAT, 31);
    assert.equal(g.rt.status().fault, null, 'retried after the backoff');
    g.apply(HEAT);
    assert.equal(g.sup.loads.length, 2);
    g.sup.finishLoad('cuda');
    assert.equal(g.rt.status().fault, null);
    await g.close();
  });

  it('the worker gets the request as asked: max_tokens clamped to jobs.max_tokens_limit, the chat messages as given (no system prompt added), the seed', async () => {
    const g = await rig({ config: { jobs: { max_tokens_limit: 100 } } });
    g.apply(HEAT);
    g.sup.finishLoad();
    const messages = [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' }];
    g.submit({ job_id: 'big', prompt: undefined, messages, max_tokens: 999999, seed: 5, temperature: 0.2 });
    const req = g.sup.jobs.get('big');
    assert.deepEqual(
      { maxTokens: req?.maxTokens, messages: req?.messages, prompt: req?.prompt, seed: req?.seed, temperature: req?.temperature },
      { maxTokens: 100, messages, prompt: undefined, seed: 5, temperature: 0.2 },
    );
    g.sup.done('big');
    await g.close();
  });

  it('energy_j integrates the heat estimate over the run, shared equally among the busy sequences', async () => {
    const g = await rig();
    g.apply(HEAT);
    g.sup.finishLoad();
    g.power.w = 300;
    g.submit({ job_id: 'a' }); // t = 100
    g.apply(HEAT, 10); // a alone: 3000 J
    g.submit({ job_id: 'b' });
    g.apply(HEAT, 10); // shared: 1500 J each
    g.sup.done('a');
    g.apply(HEAT, 10); // b alone: 3000 J
    g.sup.done('b');
    await waitFor(() => g.replies('a').some((r) => r.type === 'done') && g.replies('b').some((r) => r.type === 'done'));
    assert.equal(g.replies('a').find((r) => r.type === 'done')?.energy_j, 4500);
    assert.equal(g.replies('b').find((r) => r.type === 'done')?.energy_j, 4500);
    await g.close();
  });

  it('chunks are coalesced: 64 tokens go out at once, fewer wait for the 100 ms period; seq has no gaps; tokens are counted', async () => {
    const g = await rig();
    g.apply(HEAT);
    g.sup.finishLoad();
    g.submit({ job_id: 's', stream: true, max_tokens: 100 });
    g.submit({ job_id: 'n', stream: false });
    for (let i = 0; i < 64; i++) g.sup.chunk('s', 'x');
    let chunks = () => g.replies('s').filter((r) => r.type === 'chunk');
    assert.equal(chunks().length, 1, '64 tokens: one message at once');
    assert.equal(chunks()[0]!.text, 'x'.repeat(64));
    for (let i = 0; i < 10; i++) g.sup.chunk('s', 'y');
    assert.equal(chunks().length, 1);
    await waitFor(() => chunks().length === 2, { timeoutMs: 1000 });
    assert.deepEqual(chunks().map((c) => c.seq), [0, 1]);
    g.sup.chunk('s', 'z');
    g.sup.chunk('n', 'q');
    g.sup.done('s', 'length', 'x'.repeat(64) + 'y'.repeat(10) + 'z', 75);
    await waitFor(() => g.replies('s').some((r) => r.type === 'done'));
    chunks = () => g.replies('s').filter((r) => r.type === 'chunk');
    assert.deepEqual(chunks().map((c) => [c.seq, c.text]), [[0, 'x'.repeat(64)], [1, 'y'.repeat(10)], [2, 'z']], 'the rest is flushed before done');
    assert.equal(g.replies('n').filter((r) => r.type === 'chunk').length, 0, 'no chunks without stream');
    assert.equal(g.rt.takeTokens(), 76);
    assert.equal(g.rt.takeTokens(), 0);
    await g.close();
  });

  it('worker pieces of several tokens count as those tokens (the 64-token rule, token counters)', async () => {
    const g = await rig();
    g.apply(HEAT);
    g.sup.finishLoad();
    g.submit({ job_id: 'm', stream: true, max_tokens: 100 });
    const chunks = () => g.replies('m').filter((r) => r.type === 'chunk');
    g.sup.chunk('m', 'a'.repeat(40), 40);
    assert.equal(chunks().length, 0, '40 tokens wait for the period');
    g.sup.chunk('m', 'b'.repeat(30), 30);
    assert.equal(chunks().length, 1, '70 tokens: out at once');
    assert.equal(g.rt.takeTokens(), 70);
    await g.close();
  });

  it('drain by the operator: new jobs rejected draining, queued ones preempted, running ones preempted after the (ops) timeout', async () => {
    const g = await rig();
    g.apply(HEAT);
    g.sup.finishLoad();
    g.submit({ job_id: 'r1' });
    g.submit({ job_id: 'r2' });
    g.submit({ job_id: 'q1' });
    assert.equal(g.replies('q1')[0]?.queue_position, 1);
    g.rt.setDrainTimeout(2);
    g.apply({ ...WARM, draining: true });
    await waitFor(() => g.replies('q1').some((r) => r.type === 'error'));
    assert.equal(g.replies('q1').find((r) => r.type === 'error')?.code, 'preempted');
    g.submit({ job_id: 'late' });
    assert.equal(g.replies('late')[0]?.reason, 'draining');
    g.clock.t += 1;
    await new Promise((r) => setTimeout(r, 250));
    assert.deepEqual(g.sup.cancels, [], 'not before the drain timeout');
    g.clock.t += 1.5;
    await waitFor(() => g.sup.cancels.length === 2, { timeoutMs: 1000 });
    g.sup.done('r1', 'cancelled', 'part');
    g.sup.done('r2', 'stop', 'finished just before');
    await waitFor(() => g.replies('r2').some((r) => r.type === 'done'));
    assert.equal(g.replies('r1').find((r) => r.type === 'done')?.finish_reason, 'preempted');
    assert.equal(g.replies('r2').find((r) => r.type === 'done')?.finish_reason, 'stop');
    await g.close();
  });

  it('stop(): queued jobs end preempted and running ones are cancelled into done/preempted; every accepted job gets exactly one terminal answer', async () => {
    const g = await rig();
    g.apply(HEAT);
    g.sup.finishLoad();
    for (const id of ['r1', 'r2', 'q1']) g.submit({ job_id: id });
    g.sup.on('job_error', () => undefined);
    const stopping = g.rt.stop();
    await waitFor(() => g.sup.cancels.length === 2);
    g.sup.done('r1', 'cancelled', 'partial');
    // r2 does not answer its cancel: the supervisor's stop ends it (worker_stopped) → error preempted
    await stopping;
    await waitFor(() => ['r1', 'r2', 'q1'].every((id) => g.replies(id).some((r) => r.type === 'done' || r.type === 'error')), { timeoutMs: 8000 });
    assert.equal(g.replies('r1').find((r) => r.type === 'done')?.finish_reason, 'preempted');
    assert.equal(g.replies('r2').find((r) => r.type === 'error')?.code, 'preempted');
    assert.equal(g.replies('q1').find((r) => r.type === 'error')?.code, 'preempted');
  });

  it('a worker crash: error worker_crashed to each running job and a worker_crashed event; queued jobs wait for the reload', async () => {
    const g = await rig();
    g.apply(HEAT);
    g.sup.finishLoad();
    for (const id of ['r1', 'r2', 'q1']) g.submit({ job_id: id });
    g.sup.emit('crashed', { activeJobIds: ['r1', 'r2'], exitCode: null, signal: 'SIGKILL' });
    g.sup.loaded = false;
    g.sup.error('r1', 'worker_crashed');
    g.sup.error('r2', 'worker_crashed');
    await waitFor(() => g.replies('r2').some((r) => r.type === 'error'));
    assert.equal(g.replies('r1').find((r) => r.type === 'error')?.code, 'worker_crashed');
    assert.deepEqual(g.events.find((e) => e.type === 'worker_crashed')?.fields.job_ids, ['r1', 'r2']);
    assert.equal(g.rt.status().queued, 1);
    g.sup.emit('started', { pid: 99 });
    g.sup.finishLoad();
    assert.equal(g.rt.status().busy, 1, 'the queued job runs once the model is back');
    await g.close();
  });

  it('ops model_load: unknown model refused, the heater model loaded and held for the keep-alive', async () => {
    const g = await rig();
    await assert.rejects(g.rt.loadModel('nope'), (e: { code?: string }) => e.code === 'unknown_model');
    const loading = g.rt.loadModel('tiny');
    await waitFor(() => g.sup.loads.length === 1);
    g.sup.finishLoad();
    await loading;
    g.apply(GONE, 1);
    assert.equal(g.sup.kills, 0, 'held for the keep-alive');
    g.apply(GONE, 700);
    assert.equal(g.sup.kills, 1);
    await g.close();
  });
});
