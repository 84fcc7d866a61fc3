import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { JobClient, type ChunkEvent, type JobClientOptions } from '../../agent/client/job-client.js';
import { AgentError } from '../../agent/errors.js';
import { startMosquitto, type MosquittoHandle } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/wait.js';
import { FakeHeater, type FakeBehavior, type FakeHeaterOptions } from '../fakes/fake-heater.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
let seq = 0;

describe('job client against fake heaters on Mosquitto', () => {
  let broker: MosquittoHandle;
  const cleanups: Array<() => Promise<void>> = [];
  before(async () => {
    broker = await startMosquitto();
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await broker.stop();
  });

  /** Heaters on a fresh base topic, then a started client (which has seen their retained state). */
  async function setup(heaters: Omit<FakeHeaterOptions, 'url' | 'base'>[], client: Partial<JobClientOptions> = {}) {
    const base = `jc-test/${process.pid}-${seq++}`;
    const hs = heaters.map((h) => new FakeHeater({ url: broker.url, base, ...h }));
    for (const h of hs) {
      await h.start();
      cleanups.push(() => h.stop());
    }
    const c = new JobClient({ url: broker.url, base, acceptTimeoutMs: 400, ...client });
    await c.start();
    cleanups.push(() => c.stop());
    return { base, hs, c };
  }

  async function rejection(p: Promise<unknown>): Promise<AgentError> {
    try {
      await p;
    } catch (err) {
      assert.ok(err instanceof AgentError, `an AgentError, got ${String(err)}`);
      return err;
    }
    assert.fail('expected a rejection');
  }

  it('sends the job to the heater with the largest demand, then the most free slots; streams and answers', async () => {
    const { hs, c } = await setup([
      { node: 'low', state: { demand: 0.2, slots: 2 } },
      { node: 'high1', state: { demand: 0.9, slots: 1 } },
      { node: 'high2', state: { demand: 0.9, slots: 2 } },
    ]);
    const chunks: ChunkEvent[] = [];
    const accepted: string[] = [];
    const r = await c.submit({ prompt: 'hi', maxTokens: 8 }, { onChunk: (ch) => chunks.push(ch), onAccepted: (a) => accepted.push(a.node) });
    assert.equal(r.node, 'high2');
    assert.equal(r.via, 'direct');
    assert.equal(r.text, 'hello world');
    assert.equal(r.finishReason, 'stop');
    assert.deepEqual(r.usage, { promptTokens: 3, completionTokens: 11 });
    assert.deepEqual(r.timing, { queueMs: 1, ttftMs: 5, totalMs: 20 });
    assert.equal(r.energyJ, 2.5);
    assert.deepEqual(accepted, ['high2']);
    assert.deepEqual(chunks.map((x) => x.text).join(''), 'hello world');
    assert.deepEqual(hs.map((h) => h.jobs.length), [0, 0, 1]);
    assert.equal(hs[2]!.jobs[0]!.body.max_tokens, 8);
    assert.deepEqual(c.fleetStatus().usable.map((h) => h.node), ['high2', 'high1', 'low']);
  });

  it('puts ttl, response topic and correlation data on an MQTT 5 request, and the same reply_to in the payload', async () => {
    const { hs, c } = await setup([{ node: 'h1' }]);
    const r = await c.submit({ prompt: 'hi', ttlS: 42, jobId: 'job-props-1' });
    const job = hs[0]!.jobs[0]!;
    assert.equal(r.jobId, 'job-props-1');
    assert.equal(job.messageExpiryInterval, 42);
    assert.equal(job.body.ttl_s, 42);
    assert.equal(job.body.stream, true);
    assert.equal(job.responseTopic, job.body.reply_to);
    assert.match(String(job.body.reply_to), /\/replies\/anchiale-client-[0-9a-f]+\/job-props-1$/);
    assert.equal(job.correlationData?.toString(), 'job-props-1');
  });

  it('works over MQTT 3.1.1: reply_to in the payload only', async () => {
    const { hs, c } = await setup([{ node: 'h1', protocolVersion: 4 }], { protocolVersion: 4 });
    const r = await c.submit({ messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(r.text, 'hello world');
    const job = hs[0]!.jobs[0]!;
    assert.equal(job.responseTopic, null);
    assert.deepEqual(job.body.messages, [{ role: 'user', content: 'hi' }]);
  });

  it('rejected → the next heater; a heater that is not subscribed is skipped at once (PUBACK: no subscribers)', async () => {
    const { hs, c } = await setup([
      { node: 'a', state: { demand: 0.9 }, behavior: FakeHeater.reject('busy', 'all 2 slots busy') },
      { node: 'b', state: { demand: 0.8 }, direct: false },
      { node: 'c', state: { demand: 0.7 } },
    ]);
    const rejected: string[] = [];
    const t0 = performance.now();
    const r = await c.submit({ prompt: 'hi' }, { onRejected: (x) => rejected.push(`${x.node}:${x.reason}`) });
    assert.equal(r.node, 'c');
    assert.ok(performance.now() - t0 < 400, 'no accept timeout was waited');
    assert.deepEqual(
      r.attempts.map((a) => `${a.target}:${a.outcome}${a.reason ? `:${a.reason}` : ''}`),
      ['a:rejected:busy', 'b:no_subscriber', 'c:accepted'],
    );
    assert.deepEqual(rejected, ['a:busy']);
    assert.equal(hs[0]!.jobs[0]!.jobId, hs[2]!.jobs[0]!.jobId, 'one job id travels to every heater');
  });

  it('a heater that accepts after the client moved on is cancelled; its replies are ignored', async () => {
    const { hs, c } = await setup([
      {
        node: 'slow',
        state: { demand: 0.9 },
        behavior: async (job, h) => {
          await sleep(600);
          await h.reply(job, { type: 'accepted', queue_position: 0 });
          await h.reply(job, { type: 'chunk', seq: 0, text: 'WRONG' });
          await h.reply(job, FakeHeater.done('WRONG'));
        },
      },
      { node: 'fast', state: { demand: 0.5 }, behavior: FakeHeater.serve('right answer', { chunks: 3, delayMs: 150 }) },
    ]);
    const chunks: string[] = [];
    const r = await c.submit({ prompt: 'hi' }, { onChunk: (ch) => chunks.push(ch.text) });
    assert.equal(r.node, 'fast');
    assert.equal(r.text, 'right answer');
    assert.equal(chunks.join(''), 'right answer');
    assert.deepEqual(r.attempts.map((a) => `${a.target}:${a.outcome}`), ['slow:timeout', 'fast:accepted']);
    await waitFor(() => hs[0]!.cancels.includes(r.jobId), { what: 'a cancel to the late heater' });
    assert.equal(hs[1]!.cancels.length, 0);
    assert.equal(c.stats.lateDuplicatesCancelled, 1);
  });

  it('a late acceptance after the job finished (or was given up) is cancelled too', async () => {
    const { hs, c } = await setup(
      [
        {
          node: 'late',
          state: { demand: 0.9 },
          behavior: async (job, h) => {
            await sleep(500);
            await h.reply(job, { type: 'accepted', queue_position: 0 });
          },
        },
      ],
      { acceptTimeoutMs: 150, fleetAttempts: 0 },
    );
    const err = await rejection(c.submit({ prompt: 'hi' }));
    assert.equal(err.code, 'timeout');
    assert.match(err.message, /late: timeout/);
    await waitFor(() => hs[0]!.cancels.length === 1, { what: 'the cancel of the given-up job' });
  });

  it('puts out-of-order chunks back in seq order and ignores duplicate replies', async () => {
    const { c } = await setup([
      {
        node: 'h1',
        behavior: async (job, h) => {
          await h.reply(job, { type: 'accepted', queue_position: 1 });
          await h.reply(job, { type: 'accepted', queue_position: 1 });
          for (const [s, t] of [[2, 'c'], [0, 'a'], [0, 'a'], [3, 'd'], [1, 'b'], [2, 'c']] as const) await h.reply(job, { type: 'chunk', seq: s, text: t });
          await h.reply(job, FakeHeater.done('abcd'));
          await h.reply(job, FakeHeater.done('abcd'));
          await h.reply(job, { type: 'error', code: 'internal', message: 'a stray error after done' });
        },
      },
    ]);
    const chunks: ChunkEvent[] = [];
    let acceptedCalls = 0;
    const r = await c.submit({ prompt: 'hi' }, { onChunk: (ch) => chunks.push(ch), onAccepted: () => acceptedCalls++ });
    assert.deepEqual(chunks.map((x) => [x.seq, x.text]), [[0, 'a'], [1, 'b'], [2, 'c'], [3, 'd']]);
    assert.equal(r.text, 'abcd');
    assert.equal(r.queuePosition, 1);
    assert.equal(r.chunkGaps, 0);
    assert.equal(acceptedCalls, 1);
    await waitFor(() => c.stats.duplicateReplies >= 3, { what: 'duplicates counted' });
    assert.equal(c.stats.done, 1);
    assert.equal(c.stats.failed, 0);
  });

  it('a chunk that never arrives: the rest of the text comes from done, flagged as recovered', async () => {
    const { c } = await setup([
      {
        node: 'h1',
        behavior: async (job, h) => {
          await h.reply(job, { type: 'accepted', queue_position: 0 });
          await h.reply(job, { type: 'chunk', seq: 0, text: 'ab' });
          await h.reply(job, { type: 'chunk', seq: 2, text: 'ef' });
          await h.reply(job, FakeHeater.done('abcdef'));
        },
      },
    ]);
    const chunks: ChunkEvent[] = [];
    const r = await c.submit({ prompt: 'hi' }, { onChunk: (ch) => chunks.push(ch) });
    assert.deepEqual(chunks.map((x) => [x.text, x.recovered === true]), [['ab', false], ['cdef', true]]);
    assert.equal(r.chunkGaps, 1);
  });

  it('falls back to the fleet topic when the direct heaters say no', async () => {
    const { hs, c } = await setup([
      { node: 'a', state: { demand: 0.9 }, behavior: FakeHeater.reject('busy') },
      { node: 'member', state: { demand: 0.5, slots: 0, maxSlots: 2, jobsActive: 10 }, fleet: true, direct: false },
    ]);
    const r = await c.submit({ prompt: 'hi' });
    assert.equal(r.node, 'member');
    assert.equal(r.via, 'fleet');
    assert.deepEqual(r.attempts.map((a) => `${a.via}:${a.target}:${a.outcome}`), ['direct:a:rejected', 'fleet:tiny:accepted']);
    assert.equal(hs[1]!.jobs[0]!.via, 'fleet');
    assert.equal(hs[1]!.jobs[0]!.body.model, 'tiny', 'a fleet request names the topic model');
    assert.equal(hs[0]!.jobs[0]!.body.model, undefined, 'a direct request without a model lets the heater use its own');
  });

  it('retries the fleet topic, and tells "rejected" with the last reason when every try is refused', async () => {
    const { hs, c } = await setup([{ node: 'm', state: { demand: 0.5 }, fleet: true, direct: false, behavior: FakeHeater.reject('busy', 'queue full') }], {
      fleetAttempts: 3,
      maxDirectAttempts: 0,
    });
    const err = await rejection(c.submit({ prompt: 'hi' }));
    assert.equal(err.code, 'rejected');
    assert.equal(err.details?.reason, 'busy');
    assert.match(err.message, /rejected by m: busy \(queue full\)/);
    assert.equal(hs[0]!.jobs.length, 3);
  });

  it('no heater wants heat: no_heater, saying how many were seen and why each was skipped', async () => {
    const old = new Date(Date.now() - 3600_000).toISOString();
    const { c } = await setup([
      { node: 'gone', status: 'offline' },
      { node: 'warm', state: { demand: 0, accepting: false, phase: 'idle', reasons: ['at_setpoint'] } },
      { node: 'stale', state: { ts: old } },
    ]);
    const err = await rejection(c.submit({ prompt: 'hi' }));
    assert.equal(err.code, 'no_heater');
    assert.match(err.message, /no heater wants heat: 3 heaters seen, 0 usable/);
    assert.match(err.message, /gone: offline/);
    assert.match(err.message, /warm: no_heat_demand \(room does not want heat \(phase idle, at_setpoint\)\)/);
    assert.match(err.message, /stale: stale_state/);
    assert.equal((err.details?.heaters as unknown[]).length, 3);
    assert.equal(c.stats.rejected, 1);
  });

  it('no heater at all: no_heater "no heater seen"', async () => {
    const { c } = await setup([]);
    const err = await rejection(c.submit({ prompt: 'hi' }));
    assert.equal(err.code, 'no_heater');
    assert.match(err.message, /no heater seen/);
  });

  it('usable by its state but subscribed to nothing: no_heater from the PUBACKs, without waiting', async () => {
    const { c } = await setup([{ node: 'ghost', direct: false }], { fleetAttempts: 1 });
    const t0 = performance.now();
    const err = await rejection(c.submit({ prompt: 'hi' }));
    assert.equal(err.code, 'no_heater');
    assert.match(err.message, /reached no subscriber/);
    assert.ok(performance.now() - t0 < 400);
  });

  it('MQTT 5: an answer published while the client reconnects still reaches it (kept session)', async () => {
    let cut: () => void = () => undefined;
    const { c } = await setup(
      [
        {
          node: 'h1',
          behavior: async (job, h) => {
            await h.reply(job, { type: 'accepted', queue_position: 0 });
            cut(); // the client's connection drops right after the acceptance…
            await sleep(200);
            await h.reply(job, FakeHeater.done('kept')); // …and the answer comes while it is away
          },
        },
      ],
      { resultTimeoutMs: 8000 },
    );
    const mqttClient = (c as unknown as { client: { stream: { destroy(): void }; connected: boolean } }).client;
    cut = () => mqttClient.stream.destroy();
    const r = await c.submit({ prompt: 'hi' });
    assert.equal(r.text, 'kept');
    await waitFor(() => mqttClient.connected, { what: 'the client connected again' });
  });

  it('preempted before it started (that room warmed up): offered to the next heater, once per heater', async () => {
    const preempt = (): FakeBehavior => async (job, h) => {
      await h.reply(job, { type: 'accepted', queue_position: 2 });
      await h.reply(job, { type: 'error', code: 'preempted', message: 'room warm, queue drained' });
    };
    const { hs, c } = await setup([
      { node: 'warming', state: { demand: 0.9, slots: 2 }, behavior: preempt() },
      { node: 'cold', state: { demand: 0.6, slots: 2 } },
    ]);
    const said: string[] = [];
    const r = await c.submit({ prompt: 'hi' }, { onRejected: (x) => said.push(`${x.node}: ${x.reason}`) });
    assert.equal(r.node, 'cold');
    assert.equal(r.text, 'hello world');
    assert.deepEqual(r.attempts.map((a) => `${a.target}:${a.outcome}`), ['warming:accepted', 'warming:preempted', 'cold:accepted']);
    assert.deepEqual(said, ['warming: preempted']);
    assert.deepEqual(hs.map((h) => h.jobs.length), [1, 1], 'the same job went to each heater once');
    assert.equal(c.stats.preemptedRetries, 1);
    assert.equal(c.stats.done, 1);

    // Named heater: its preemption is final.
    const err = await rejection(c.submit({ prompt: 'hi', node: 'warming' }));
    assert.equal(err.code, 'job_error');
    assert.equal(err.details?.code, 'preempted');

    // Every heater preempts: the last preemption is the answer, after trying each heater once.
    hs[1]!.behavior = preempt();
    const err2 = await rejection(c.submit({ prompt: 'hi', via: 'direct' }));
    assert.equal(err2.code, 'job_error');
    assert.equal(err2.details?.code, 'preempted');
    assert.deepEqual(hs.map((h) => h.jobs.length), [3, 2]);
  });

  it('an error after acceptance is a job_error with the heater code', async () => {
    const { c } = await setup([
      {
        node: 'h1',
        behavior: async (job, h) => {
          await h.reply(job, { type: 'accepted', queue_position: 3 });
          await h.reply(job, { type: 'error', code: 'expired', message: 'ttl passed while queued' });
        },
      },
    ]);
    const err = await rejection(c.submit({ prompt: 'hi' }));
    assert.equal(err.code, 'job_error');
    assert.equal(err.details?.code, 'expired');
    assert.match(err.message, /failed on h1: expired: ttl passed while queued/);
    assert.equal(c.stats.failed, 1);
  });

  it('--node: only that heater; its rejection is final', async () => {
    const { hs, c } = await setup([
      { node: 'best', state: { demand: 0.9 } },
      { node: 'chosen', state: { demand: 0.1 }, behavior: FakeHeater.reject('model_not_loaded', 'tiny is not loaded') },
    ]);
    const err = await rejection(c.submit({ prompt: 'hi', node: 'chosen' }));
    assert.equal(err.code, 'rejected');
    assert.equal(err.details?.reason, 'model_not_loaded');
    assert.equal(hs[0]!.jobs.length, 0);
    hs[1]!.behavior = FakeHeater.serve('ok');
    assert.equal((await c.submit({ prompt: 'hi', node: 'chosen' })).node, 'chosen');
  });

  it('aborting cancels the running job, which ends done/cancelled', async () => {
    const { hs, c } = await setup([
      {
        node: 'h1',
        behavior: async (job, h) => {
          await h.reply(job, { type: 'accepted', queue_position: 0 });
          await h.reply(job, { type: 'chunk', seq: 0, text: 'partial' });
          await waitFor(() => h.cancels.includes(job.jobId), { timeoutMs: 3000 });
          await h.reply(job, FakeHeater.done('partial', { finish_reason: 'cancelled' }));
        },
      },
    ]);
    const ac = new AbortController();
    const r = await c.submit({ prompt: 'hi' }, { signal: ac.signal, onChunk: () => ac.abort() });
    assert.equal(r.finishReason, 'cancelled');
    assert.deepEqual(hs[0]!.cancels, [r.jobId]);
  });

  it('many jobs at once are each answered once', async () => {
    const { c } = await setup([
      { node: 'a', state: { demand: 0.9 } },
      { node: 'b', state: { demand: 0.8 } },
    ]);
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => c.submit({ prompt: `p${i}` })));
    assert.equal(new Set(results.map((r) => r.jobId)).size, 30);
    assert.ok(results.every((r) => r.text === 'hello world'));
    assert.equal(c.stats.done, 30);
    assert.equal(c.stats.active, 0);
  });
});
