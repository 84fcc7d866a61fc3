/**
 * The heater side of the job protocol end to end: a real agent (real MqttBus on the shared
 * Mosquitto, sim heater, real LLM worker with node-llama-cpp on one CPU thread, a tiny model the
 * test writes), driven by a probe client that publishes the room temperature and jobs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyLlamaGguf } from '../../agent/adapters/llm/gguf-writer.js';
import { planConfigReload } from '../../agent/ops/config-reload-plan.js';
import { connectProbe, type Probe, type ProbeMessage } from '../helpers/mqtt-probe.js';
import { startMosquitto, type MosquittoHandle } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/wait.js';
import { startTestAgent, uniqueBase, type TestAgent } from './agent-harness.js';

const BROKER = 'mqtt://127.0.0.1:1883';
type Obj = Record<string, unknown>;
const json = (m: ProbeMessage): Obj => JSON.parse(m.text) as Obj;
const trv = (t: number, sp = 21) => JSON.stringify({ local_temperature: t, occupied_heating_setpoint: sp, last_seen: new Date().toISOString() });
/** Long enough to still run when the test acts (the model rarely ends by itself); such jobs are cancelled. */
const LONG = 3500;

let modelsDir: string;
before(async () => {
  modelsDir = await mkdtemp(join(tmpdir(), 'anchiale-jobs-models-'));
  await writeTinyLlamaGguf(join(modelsDir, 'tiny.gguf'), { endTokens: 'rare', contextLength: 8192 });
  await writeTinyLlamaGguf(join(modelsDir, 'other.gguf'), { seed: 2 });
});
after(async () => {
  await rm(modelsDir, { recursive: true, force: true });
});

function jobConfig(extra: Obj = {}): Obj {
  return merge(
    {
      // stretch_wait_s 0: these tests are about the protocol; every job starts as soon as a sequence
      // is free (stretching has its own test below).
      jobs: { enabled: true, max_queue: 2, drain_timeout_s: 1, stretch_wait_s: 0 },
      llm: { models_dir: modelsDir, default_model: 'tiny.gguf', threads: 1, context_size: 4096, max_parallel: 2 },
      thermostat: { min_on_s: 0.5, min_off_s: 0.5 },
    },
    extra,
  );
}

/** A probe subscribed to everything under the agent's base, with job helpers. */
class JobClient {
  private n = 0;
  constructor(
    readonly probe: Probe,
    readonly base: string,
    readonly node = 'h1',
  ) {}

  id(prefix = 'job'): string {
    return `${prefix}-${process.pid}-${this.n++}`;
  }
  replyTopic(id: string): string {
    return `${this.base}/replies/c/${id}`;
  }
  async submit(job: Obj, opts: Parameters<Probe['publish']>[2] = {}): Promise<string> {
    const id = String(job.job_id);
    await this.probe.publish(`${this.base}/${this.node}/jobs/submit`, JSON.stringify({ reply_to: this.replyTopic(id), ...job }), opts);
    return id;
  }
  async raw(payload: string | Buffer, topic = `${this.base}/${this.node}/jobs/submit`, opts: Parameters<Probe['publish']>[2] = {}): Promise<void> {
    await this.probe.publish(topic, payload, opts);
  }
  async cancel(id: string): Promise<void> {
    await this.probe.publish(`${this.base}/${this.node}/jobs/cancel`, JSON.stringify({ job_id: id }));
  }
  replies(id: string): Obj[] {
    return this.probe.received(this.replyTopic(id)).map(json);
  }
  async reply(id: string, type: string | string[], timeoutMs = 10000): Promise<Obj> {
    const types = Array.isArray(type) ? type : [type];
    return waitFor(() => this.replies(id).find((r) => types.includes(String(r.type))), { timeoutMs, what: `${types.join('/')} for ${id}` }).catch((err: Error) => {
      throw new Error(`${err.message}; replies: ${JSON.stringify(this.replies(id)).slice(0, 400)}`);
    });
  }
  terminal(id: string, timeoutMs = 15000): Promise<Obj> {
    return this.reply(id, ['done', 'error'], timeoutMs);
  }
  chunks(id: string): Obj[] {
    return this.replies(id).filter((r) => r.type === 'chunk');
  }
  events(type: string): Obj[] {
    return this.probe.received(`${this.base}/${this.node}/event`).map(json).filter((e) => e.type === type);
  }
  async event(type: string, pred: (e: Obj) => boolean = () => true, timeoutMs = 10000): Promise<Obj> {
    return waitFor(() => this.events(type).find(pred), { timeoutMs, what: `event ${type}` });
  }
  lastState(): Obj | null {
    const s = this.probe.received(`${this.base}/${this.node}/state`).filter((m) => m.text !== '');
    return s.length ? json(s[s.length - 1]!) : null;
  }
  /** A mark: state() after it only looks at states received later. */
  stateMark(): number {
    return this.probe.received(`${this.base}/${this.node}/state`).length;
  }
  async state(pred: (s: Obj) => boolean, what: string, after = 0, timeoutMs = 15000): Promise<Obj> {
    return waitFor(
      () =>
        this.probe
          .received(`${this.base}/${this.node}/state`)
          .slice(after)
          .filter((m) => m.text !== '')
          .map(json)
          .find(pred),
      { timeoutMs, what },
    );
  }
  llm(s: Obj | null): Obj {
    return (s?.llm ?? {}) as Obj;
  }
  /** Until the agent takes jobs with the model loaded. */
  async ready(after = 0, timeoutMs = 20000): Promise<void> {
    await this.state((s) => this.llm(s).accepting === true && this.llm(s).loaded === true, 'accepting with the model loaded', after, timeoutMs);
  }
}

async function setupAgent(
  cleanups: Array<() => Promise<void>>,
  o: { config?: Obj; stateDir?: string; base?: string; url?: string; probeOpts?: Parameters<typeof connectProbe>[1] } = {},
): Promise<{ a: TestAgent; c: JobClient }> {
  const url = o.url ?? BROKER;
  const base = o.base ?? uniqueBase();
  const probe = await connectProbe(url, o.probeOpts);
  await probe.subscribe(`${base}/#`);
  // A client id of its own: agents of other tests on the shared broker must not take over its session.
  const clientId = `anchiale-${base.replace(/[^a-zA-Z0-9-]/g, '-')}-h1`;
  const a = await startTestAgent({ url, base, config: merge(jobConfig(o.config), { mqtt: { client_id: clientId } }), stateDir: o.stateDir, tickS: 0.2 });
  const c = new JobClient(probe, base);
  cleanups.push(async () => {
    await a.cleanup();
    for (const t of ['status', 'state', 'info']) await probe.publish(`${base}/h1/${t}`, '', { retain: true, qos: 1 }).catch(() => undefined);
    await probe.end();
  });
  return { a, c };
}

/** Runs a long job until its first chunk (it is then running). */
async function startLong(c: JobClient, prefix = 'long'): Promise<string> {
  const id = await c.submit({ job_id: c.id(prefix), prompt: 'the heater', max_tokens: LONG, stream: true });
  await c.reply(id, 'chunk');
  return id;
}

function assertChunksInOrder(chunks: Obj[]): void {
  chunks.forEach((ch, i) => assert.equal(ch.seq, i, `chunk ${i} has seq ${String(ch.seq)}`));
}

describe('job runtime: one heater on the shared broker', () => {
  const cleanups: Array<() => Promise<void>> = [];
  let a: TestAgent;
  let c: JobClient;
  before(async () => {
    ({ a, c } = await setupAgent(cleanups));
    await c.probe.publish(a.roomTopic, trv(17));
    await c.ready();
  });
  after(async () => {
    for (const f of cleanups.reverse()) await f().catch(() => undefined);
  });

  it('heat demand loads the model: phase warming_up while it loads, model_loaded with the backend and the sequences', () => {
    const states = c.probe.received(`${c.base}/h1/state`).filter((m) => m.text !== '').map(json);
    assert.ok(states.some((s) => s.phase === 'warming_up' && c.llm(s).loaded === false), 'warming_up seen');
    const loaded = c.events('model_loaded')[0];
    assert.deepEqual([loaded?.model, loaded?.backend, loaded?.sequences], ['tiny', 'cpu', 2]);
    assert.equal(c.llm(c.lastState()).max_slots, 2);
  });

  it('direct chat job (MQTT 5 response topic): accepted → chunks in seq order → done with usage, timing and energy_j', async () => {
    const id = c.id('chat');
    const cd = Buffer.from('corr-42');
    await c.raw(JSON.stringify({ job_id: id, messages: [{ role: 'user', content: 'hello heater' }], max_tokens: 300, stream: true, seed: 1 }), undefined, {
      properties: { responseTopic: c.replyTopic(id), correlationData: cd },
    });
    const done = await c.terminal(id);
    const msgs = c.probe.received(c.replyTopic(id));
    const types = msgs.map((m) => json(m).type);
    assert.equal(types[0], 'accepted');
    assert.equal(json(msgs[0]!).queue_position, 0);
    assert.equal(types[types.length - 1], 'done');
    for (const m of msgs) {
      assert.equal(json(m).job_id, id);
      assert.equal(json(m).node, 'h1');
      assert.deepEqual(m.properties?.correlationData, cd, 'correlation data echoed on every reply');
    }
    const chunks = c.chunks(id);
    assert.ok(chunks.length >= 1);
    assertChunksInOrder(chunks);
    assert.equal(chunks.map((ch) => ch.text).join(''), done.text, 'the chunks add up to the text');
    assert.equal(done.finish_reason, 'length');
    const usage = done.usage as { prompt_tokens: number; completion_tokens: number };
    assert.equal(usage.completion_tokens, 300);
    assert.ok(usage.prompt_tokens > 3, 'the chat template is applied');
    assert.ok(chunks.length < usage.completion_tokens / 4, `coalesced: ${chunks.length} chunks for ${usage.completion_tokens} tokens`);
    const timing = done.timing as { queue_ms: number; ttft_ms: number; total_ms: number };
    assert.ok(timing.queue_ms >= 0 && timing.ttft_ms >= timing.queue_ms && timing.total_ms >= timing.ttft_ms, JSON.stringify(timing));
    assert.ok(typeof done.energy_j === 'number' && done.energy_j > 0, `energy_j ${String(done.energy_j)}`);
  });

  it('completion (prompt, no stream): no chunks; the same seed gives the same text', async () => {
    const ids = [c.id('cmp'), c.id('cmp')];
    for (const id of ids) await c.submit({ job_id: id, prompt: 'Once upon a time', max_tokens: 40, temperature: 0.9, seed: 7 });
    const [d1, d2] = await Promise.all(ids.map((id) => c.terminal(id)));
    assert.equal(d1!.type, 'done');
    assert.equal(d1!.text, d2!.text);
    assert.equal((d1!.usage as { completion_tokens: number }).completion_tokens, 40);
    for (const id of ids) assert.deepEqual(c.replies(id).map((r) => r.type), ['accepted', 'done']);
  });

  it('cancel a queued job (error cancelled) and a running one (done, partial text, cancelled); ttl expiry while queued; a full queue answers busy', async () => {
    const l1 = await startLong(c);
    const l2 = await startLong(c);
    const q = await c.submit({ job_id: c.id('queued'), prompt: 'wait', max_tokens: 10 });
    assert.equal((await c.reply(q, 'accepted')).queue_position, 1);
    const t = await c.submit({ job_id: c.id('ttl'), prompt: 'wait', max_tokens: 10, ttl_s: 0.3 });
    assert.equal((await c.reply(t, 'accepted')).queue_position, 2);
    const full = await c.submit({ job_id: c.id('full'), prompt: 'wait', max_tokens: 10 });
    const busy = await c.reply(full, 'rejected');
    assert.equal(busy.reason, 'busy');
    await c.cancel(q);
    const qe = await c.terminal(q);
    assert.deepEqual([qe.type, qe.code], ['error', 'cancelled']);
    const te = await c.terminal(t, 3000);
    assert.deepEqual([te.type, te.code], ['error', 'expired']);
    await c.cancel(l1);
    const d1 = await c.terminal(l1);
    assert.equal(d1.type, 'done');
    assert.equal(d1.finish_reason, 'cancelled');
    assert.ok(String(d1.text).length > 0, 'partial text');
    assert.ok((d1.usage as { completion_tokens: number }).completion_tokens < LONG);
    await c.cancel(l2);
    assert.equal((await c.terminal(l2)).finish_reason, 'cancelled');
    for (const id of [q, t, l1, l2]) assert.equal(c.replies(id).filter((r) => r.type === 'done' || r.type === 'error').length, 1, `one terminal answer for ${id}`);
  });

  it('bad requests are answered invalid_request naming the field (or, when they cannot be, logged with a job_rejected event) while another job runs undisturbed', async () => {
    const long = await startLong(c, 'undisturbed');
    const R = (id: string) => c.replyTopic(id);
    const answerable: Array<[string, Obj, string]> = [
      ['bad-model', { job_id: 'bad-model', reply_to: R('bad-model'), model: 'Not A Model', prompt: 'x' }, 'model'],
      ['bad-msgs', { job_id: 'bad-msgs', reply_to: R('bad-msgs'), messages: [{ role: 'robot', content: 'x' }] }, 'messages[0].role'],
      ['bad-tokens', { job_id: 'bad-tokens', reply_to: R('bad-tokens'), prompt: 'x', max_tokens: -1 }, 'max_tokens'],
      ['bad-temp', { job_id: 'bad-temp', reply_to: R('bad-temp'), prompt: 'x', temperature: 9 }, 'temperature'],
      ['bad-seed', { job_id: 'bad-seed', reply_to: R('bad-seed'), prompt: 'x', seed: 'abc' }, 'seed'],
      ['bad-ttl', { job_id: 'bad-ttl', reply_to: R('bad-ttl'), prompt: 'x', ttl_s: 0 }, 'ttl_s'],
      ['bad-both', { job_id: 'bad-both', reply_to: R('bad-both'), prompt: 'x', messages: [{ role: 'user', content: 'y' }] }, 'prompt'],
      ['too-large', { job_id: 'too-large', reply_to: R('too-large'), prompt: 'x'.repeat(300 * 1024) }, 'payload'],
    ];
    for (const [, body] of answerable) await c.raw(JSON.stringify(body));
    // Not answerable: not JSON, no job_id, a forbidden reply topic.
    const forbidden = `${c.base}/h1/state-not-a-reply`;
    await c.raw('{"job_id": "broken", ');
    await c.raw(JSON.stringify({ reply_to: R('no-id'), prompt: 'x' }));
    await c.raw(JSON.stringify({ job_id: 'forbidden', reply_to: forbidden, prompt: 'x' }));
    await c.raw(JSON.stringify({ job_id: 'wild', reply_to: `${c.base}/replies/+`, prompt: 'x' }));
    for (const [id, , field] of answerable) {
      const r = await c.reply(id, 'rejected');
      assert.equal(r.reason, 'invalid_request', id);
      assert.equal(r.field, field, id);
      assert.ok(String(r.message).includes(field === 'payload' ? 'over the limit' : field), `${id}: ${String(r.message)}`);
    }
    await waitFor(() => c.events('job_rejected').length >= 4, { what: 'four job_rejected events', timeoutMs: 5000 });
    const ev = c.events('job_rejected');
    assert.ok(ev.some((e) => e.field === 'payload' && /not JSON/.test(String(e.message))));
    assert.ok(ev.some((e) => e.field === 'job_id'));
    assert.ok(ev.some((e) => e.job_id === 'forbidden' && e.field === 'reply_to' && /reply prefix/.test(String(e.message))));
    assert.ok(ev.some((e) => e.job_id === 'wild' && /\+ or #/.test(String(e.message))));
    assert.equal(c.probe.received(forbidden).length, 0, 'nothing published on the forbidden topic');
    // The long job went on: more chunks after the bad requests, in order, then it ends normally when cancelled.
    const before = c.chunks(long).length;
    await waitFor(() => c.chunks(long).length > before + 1, { what: 'more chunks of the running job' });
    await c.cancel(long);
    const done = await c.terminal(long);
    assert.equal(done.finish_reason, 'cancelled');
    assertChunksInOrder(c.chunks(long));
    assert.equal(c.chunks(long).map((ch) => ch.text).join(''), done.text);
  });

  it('models: the heater model and the others are listed in info; another model → model_not_loaded, an unknown one → unknown_model', async () => {
    const info = json(await c.probe.next(`${c.base}/h1/info`, (m) => m.text !== ''));
    const models = info.models as Array<{ name: string; size_bytes: number }>;
    assert.deepEqual(models.map((m) => m.name), ['other', 'tiny']);
    assert.ok(models.every((m) => m.size_bytes > 1000));
    const other = await c.submit({ job_id: c.id('other'), model: 'other', prompt: 'x' });
    assert.equal((await c.reply(other, 'rejected')).reason, 'model_not_loaded');
    const unknown = await c.submit({ job_id: c.id('unknown'), model: 'llama-70b', prompt: 'x' });
    assert.equal((await c.reply(unknown, 'rejected')).reason, 'unknown_model');
    const explicit = await c.submit({ job_id: c.id('explicit'), model: 'tiny', prompt: 'x', max_tokens: 5 });
    assert.equal((await c.terminal(explicit)).type, 'done');
  });

  it('fleet: the heater holds the shared subscription while it accepts and answers jobs sent to the model topic', async () => {
    const id = c.id('fleet');
    await c.raw(JSON.stringify({ job_id: id, reply_to: c.replyTopic(id), prompt: 'fleet job', max_tokens: 8 }), `${c.base}/jobs/tiny/submit`);
    const done = await c.terminal(id);
    assert.equal(done.type, 'done');
    assert.equal(done.node, 'h1');
    const wrong = c.id('fleet-wrong');
    await c.raw(JSON.stringify({ job_id: wrong, reply_to: c.replyTopic(wrong), model: 'other', prompt: 'x' }), `${c.base}/jobs/tiny/submit`);
    const r = await c.reply(wrong, 'rejected');
    assert.deepEqual([r.reason, r.field], ['invalid_request', 'model']);
  });

  it('worker killed mid-job: error worker_crashed, event worker_crashed, the worker comes back, a new job works, and the agent kept deciding', async () => {
    const loaded = c.events('model_loaded');
    const pid = loaded[loaded.length - 1]?.pid;
    assert.equal(typeof pid, 'number');
    const id = await startLong(c, 'victim');
    const statesBefore = c.probe.received(`${c.base}/h1/state`).length;
    process.kill(pid as number, 'SIGKILL');
    const err = await c.terminal(id);
    assert.deepEqual([err.type, err.code], ['error', 'worker_crashed']);
    const crash = await c.event('worker_crashed');
    assert.deepEqual(crash.job_ids, [id]);
    assert.equal(crash.signal, 'SIGKILL');
    const reloaded = await c.event('model_loaded', (e) => e.pid !== pid, 15000);
    assert.notEqual(reloaded.pid, pid);
    await c.ready(statesBefore);
    const after = await c.submit({ job_id: c.id('after-crash'), prompt: 'again', max_tokens: 20 });
    assert.equal((await c.terminal(after)).type, 'done');
    assert.ok(c.probe.received(`${c.base}/h1/state`).length > statesBefore, 'state kept coming: the control loop went on');
    assert.equal(c.lastState()?.mode, 'auto');
  });

  it('the room warms up: new jobs rejected no_heat_demand, queued ones preempted, running ones end done/preempted after drain_timeout_s', async () => {
    const l1 = await startLong(c, 'drain');
    const l2 = await startLong(c, 'drain');
    const q = await c.submit({ job_id: c.id('drain-q'), prompt: 'x', max_tokens: 10 });
    await c.reply(q, 'accepted');
    const t0 = Date.now();
    const mark = c.stateMark();
    await c.probe.publish(a.roomTopic, trv(25));
    const qe = await c.terminal(q);
    assert.deepEqual([qe.type, qe.code], ['error', 'preempted']);
    await c.state((s) => c.llm(s).accepting === false, 'not accepting', mark);
    const late = await c.submit({ job_id: c.id('late'), prompt: 'x' });
    assert.equal((await c.reply(late, 'rejected')).reason, 'no_heat_demand');
    for (const id of [l1, l2]) {
      const d = await c.terminal(id);
      assert.deepEqual([d.type, d.finish_reason], ['done', 'preempted']);
      assert.ok(String(d.text).length > 0);
    }
    const waited = Date.now() - t0;
    assert.ok(waited >= 900 && waited < 6000, `ended after the 1 s drain timeout (${waited} ms)`);
    // The fleet subscription was left: a fleet job finds no member and is dropped by the broker.
    const fleet = c.id('fleet-left');
    await c.raw(JSON.stringify({ job_id: fleet, reply_to: c.replyTopic(fleet), prompt: 'x' }), `${c.base}/jobs/tiny/submit`);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(c.replies(fleet).length, 0);
  });
});

describe('job runtime: scarce work in a cold room', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const f of cleanups.reverse()) await f().catch(() => undefined);
  });
  /** A heater of its own in a 17 °C room, ready with its model loaded. */
  async function coldHeater(config: Obj): Promise<{ a: TestAgent; c: JobClient }> {
    const { a, c } = await setupAgent(cleanups, { config });
    await c.probe.publish(a.roomTopic, trv(17));
    await c.ready();
    return { a, c };
  }

  it('stretching: a second job waits behind the first (one sequence: more heat per token), then starts after stretch_wait_s', async () => {
    const { c } = await coldHeater({ jobs: { stretch_wait_s: 1.5 } });
    const first = await startLong(c, 'stretch-first');
    const t0 = Date.now();
    const second = await c.submit({ job_id: c.id('stretch-second'), prompt: 'the second', max_tokens: 20, stream: true });
    assert.equal((await c.reply(second, 'accepted')).queue_position, 1, 'queued although a sequence is free');
    await c.reply(second, 'chunk');
    const waited = Date.now() - t0;
    assert.ok(waited >= 1400, `started after the wait bound, not at once (${waited} ms)`);
    assert.equal(c.replies(first).filter((r) => r.type === 'done' || r.type === 'error').length, 0, 'while the first still runs');
    const done = await c.terminal(second);
    assert.equal(done.type, 'done');
    assert.ok((done.timing as { queue_ms: number }).queue_ms >= 1400, 'its queue time says so');
    await c.cancel(first);
    assert.equal((await c.terminal(first)).type, 'done');
  });

  it('a model that gets no jobs is unloaded after keep_alive_s while the room still asks; the heater keeps accepting, and the next job loads it', async () => {
    const { c } = await coldHeater({ llm: { keep_alive_s: 1 } });
    const first = await c.submit({ job_id: c.id('before'), prompt: 'one', max_tokens: 5 });
    assert.equal((await c.terminal(first)).type, 'done');
    await c.event('model_unloaded', undefined, 10000);
    const mark = c.stateMark();
    const idle = await c.state((s) => c.llm(s).loaded === false, 'unloaded', mark);
    assert.equal(c.llm(idle).accepting, true, 'still taking jobs: the room wants heat');
    assert.equal(idle.phase, 'heating');
    assert.ok((idle.reasons as string[]).includes('no_work'), String(idle.reasons));
    const loads = c.events('model_loaded').length;
    const next = await c.submit({ job_id: c.id('after'), prompt: 'two', max_tokens: 5 });
    assert.equal((await c.reply(next, 'accepted')).queue_position, 1, 'queued until the model is back');
    const end = await c.terminal(next, 20000);
    assert.equal(end.type, 'done', JSON.stringify(end));
    assert.equal(c.events('model_loaded').length, loads + 1, 'loaded again for it');
  });
});

describe('job runtime: config reload', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const f of cleanups.reverse()) await f().catch(() => undefined);
  });

  it('the job limits apply live: a queue cut to 0 answers the next job busy, naming the new limit', async () => {
    const { a, c } = await setupAgent(cleanups);
    await c.probe.publish(a.roomTopic, trv(17));
    await c.ready();
    const running = [await startLong(c, 'reload-1'), await startLong(c, 'reload-2')]; // both sequences busy
    const plan = planConfigReload(a.config, { ...a.config, jobs: { ...a.config.jobs, max_queue: 0 }, llm: { ...a.config.llm, max_parallel: 4 } });
    assert.deepEqual([plan.changed, plan.restartRequired], [['jobs.max_queue'], ['llm.max_parallel']]);
    a.agent.applyConfig(plan.config); // what reload_config does with the plan
    const late = await c.submit({ job_id: c.id('reload-full'), prompt: 'x', max_tokens: 5 });
    const r = await c.reply(late, 'rejected');
    assert.equal(r.reason, 'busy');
    assert.match(String(r.message), /jobs\.max_queue 0/);
    for (const id of running) await c.cancel(id);
    for (const id of running) assert.equal((await c.terminal(id)).type, 'done');
  });
});

describe('job runtime: restarts and broker outages', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const f of cleanups.reverse()) await f().catch(() => undefined);
  });

  it('a job_id accepted before a restart is ignored silently after it (MQTT 3.1.1 heater)', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'anchiale-jobs-state-'));
    cleanups.push(() => rm(stateDir, { recursive: true, force: true }));
    const base = uniqueBase();
    const cfg = { mqtt: { protocol_version: 4 } };
    const first = await setupAgent(cleanups, { config: cfg, stateDir, base });
    await first.c.probe.publish(first.a.roomTopic, trv(17));
    await first.c.ready();
    const id = first.c.id('once');
    await first.c.submit({ job_id: id, prompt: 'only once', max_tokens: 10 });
    assert.equal((await first.c.terminal(id)).type, 'done');
    await first.a.stop();

    const second = await setupAgent(cleanups, { config: cfg, stateDir, base });
    await second.c.probe.publish(second.a.roomTopic, trv(17));
    await second.c.ready();
    await second.c.submit({ job_id: id, prompt: 'only once', max_tokens: 10 });
    const fresh = second.c.id('fresh');
    await second.c.submit({ job_id: fresh, prompt: 'new', max_tokens: 10 });
    assert.equal((await second.c.terminal(fresh)).type, 'done');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(second.c.replies(id).length, 0, 'the repeat got no answer at all');
  });

  it('the broker goes down while a job finishes: its done answer is kept in the outbox and delivered after the reconnect', async () => {
    const persistDir = await mkdtemp(join(tmpdir(), 'anchiale-mosq-persist-'));
    await import('node:fs/promises').then((fs) => fs.chmod(persistDir, 0o777));
    const broker: MosquittoHandle = await startMosquitto({ extraConfig: ['persistence true', `persistence_location ${persistDir}/`] });
    cleanups.push(async () => {
      await broker.stop();
      await rm(persistDir, { recursive: true, force: true });
    });
    // The client's session (and its subscription) survives the broker restart: what is published for it meanwhile waits.
    const { a, c } = await setupAgent(cleanups, {
      url: broker.url,
      probeOpts: { clean: false, clientId: `probe-outage-${process.pid}`, properties: { sessionExpiryInterval: 300 } },
    });
    await c.probe.publish(a.roomTopic, trv(17));
    await c.ready();
    const id = await c.submit({ job_id: c.id('outage'), prompt: 'through the outage', max_tokens: 1500, stream: true });
    await c.reply(id, 'chunk');
    // Down (SIGTERM: the broker saves its sessions) while the job finishes; its answer waits in the outbox file.
    process.kill(broker.pid, 'SIGTERM');
    const outbox = join(a.stateDir, 'outbox.jsonl');
    await waitFor(async () => (await readFile(outbox, 'utf8').catch(() => '')).includes(`"job_id\\":\\"${id}\\"`), { timeoutMs: 15000, what: 'the done answer in the outbox file' });
    assert.equal(c.replies(id).filter((r) => r.type === 'done').length, 0, 'not delivered while the broker is down');
    await broker.restart(); // up again on the same port
    const done = await c.terminal(id, 20000);
    assert.equal(done.type, 'done');
    assert.equal(done.finish_reason, 'length');
    await waitFor(async () => {
      const lines = (await readFile(outbox, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { op: string });
      return lines.filter((l) => l.op === 'ack').length >= lines.filter((l) => l.op === 'add').length;
    }, { what: 'the outbox entry acknowledged' });
  });
});

function merge(x: Obj, y: Obj): Obj {
  const out: Obj = { ...x };
  for (const [k, v] of Object.entries(y)) {
    const cur = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' ? merge(cur as Obj, v as Obj) : v;
  }
  return out;
}
