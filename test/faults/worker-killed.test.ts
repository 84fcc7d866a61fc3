/**
 * Fault: the LLM worker process is SIGKILLed mid-job on a heater (real agent, jobs on, generated
 * tiny model on one thread, own Mosquitto).
 * Reported: that job ends `error worker_crashed` (exactly one terminal answer), an event
 * `worker_crashed` naming it. Kept: the worker comes back (a new pid), a later job is served,
 * and heat control kept deciding all along (states kept coming, still heating).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startJobHeaters } from '../helpers/job-heaters.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { connectProbe, type ProbeMessage } from '../helpers/mqtt-probe.js';
import { waitFor } from '../helpers/wait.js';
import { json, sleep } from './fault-kit.js';

type Obj = Record<string, unknown>;

describe('fault: inference worker killed', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it('the job in flight ends worker_crashed, the worker comes back, a later job works, control kept deciding', async () => {
    const broker = await startMosquitto();
    cleanups.push(() => broker.stop());
    const probe = await connectProbe(broker.url);
    cleanups.push(() => probe.end());
    const fleet = await startJobHeaters({ url: broker.url, heaters: [{ node: 'h1', roomC: 17 }], contextSize: 4096 });
    cleanups.push(() => fleet.stop());
    const node = `${fleet.base}/h1`;
    await probe.subscribe([`${fleet.base}/#`]);
    const events = (type: string): Obj[] => probe.received(`${node}/event`).map(json).filter((e) => e.type === type);
    const replyTo = (id: string) => `${fleet.base}/replies/fault/${id}`;
    const replies = (id: string): Obj[] => probe.received(replyTo(id)).map(json);
    const reply = (id: string, types: string[], timeoutMs = 15_000) => waitFor(() => replies(id).find((r) => types.includes(String(r.type))), { timeoutMs, what: `${types.join('/')} for ${id}` });
    const submit = (id: string, maxTokens: number) =>
      probe.publish(`${node}/jobs/submit`, JSON.stringify({ job_id: id, reply_to: replyTo(id), prompt: `job ${id}`, max_tokens: maxTokens, stream: true }));
    const accepting = (m: ProbeMessage) => ((json(m).llm ?? {}) as Obj).loaded === true && ((json(m).llm ?? {}) as Obj).accepting === true;

    // The worker's pid: a job makes sure the model is loaded, model_loaded names it.
    const warm = `warm-${process.pid}`;
    await submit(warm, 4);
    assert.equal((await reply(warm, ['done', 'error'], 30_000)).type, 'done');
    const pid = await waitFor(() => events('model_loaded').at(-1)?.pid as number | undefined, { timeoutMs: 10_000, what: 'model_loaded with a pid' });

    const victim = `victim-${process.pid}`;
    await submit(victim, 4000);
    await reply(victim, ['chunk']);
    // Heat control: every decision from the kill on (the runtime's hook; nothing else uses it here).
    const decisions: Array<{ action: unknown }> = [];
    fleet.heaters[0]!.agent.onDecision = (_d, s) => decisions.push({ action: s.action });
    process.kill(pid, 'SIGKILL');
    const err = await reply(victim, ['done', 'error']);
    assert.deepEqual([err.type, err.code], ['error', 'worker_crashed']);
    const crash = await waitFor(() => events('worker_crashed').at(-1), { timeoutMs: 10_000, what: 'event worker_crashed' });
    assert.deepEqual(crash.job_ids, [victim]);
    assert.equal(crash.signal, 'SIGKILL');
    const reloaded = await waitFor(() => events('model_loaded').find((e) => e.pid !== pid), { timeoutMs: 20_000, what: 'the worker back' });
    assert.notEqual(reloaded.pid, pid);
    // Accepting again (the latest state says so) before a later job.
    await waitFor(() => {
      const last = probe.received(`${node}/state`).filter((m) => m.text !== '').at(-1);
      return last !== undefined && accepting(last) ? true : undefined;
    }, { timeoutMs: 20_000, what: 'accepting again with the model loaded' });

    const later = `later-${process.pid}`;
    await submit(later, 12);
    assert.equal((await reply(later, ['done', 'error'])).type, 'done', 'a later job is served');
    await sleep(300);
    assert.equal(replies(victim).filter((r) => r.type === 'done' || r.type === 'error').length, 1, 'one terminal answer for the victim');
    assert.ok(decisions.length >= 5, `heat control kept deciding (${decisions.length} decisions since the kill)`);
    const actions = new Set(decisions.map((d) => String(d.action)));
    assert.deepEqual([...actions], ['heating'], 'and kept heating through the crash');
  });
});
