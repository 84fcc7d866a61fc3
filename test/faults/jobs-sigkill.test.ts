/**
 * Fault: a heater serving jobs (the real daemon in a child process: sim heater, jobs on, generated
 * tiny model on one thread) is SIGKILLed mid-generation, and again with a finished job's answer
 * still in its outbox (the broker was down when the job ended), then started again.
 * Kept: no job runs twice (a job_id accepted before the kill is ignored silently after it), the
 * answer waiting in the outbox is delivered after the restart, counters.json's energy never goes
 * back. Reported: offline by the last will, a later job served normally.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyLlamaGguf } from '../../agent/adapters/llm/gguf-writer.js';
import { spawnAgent, type AgentProcess } from '../helpers/agent-process.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { connectProbe, type ProbeMessage } from '../helpers/mqtt-probe.js';
import { waitFor } from '../helpers/wait.js';
import { uniqueBase } from '../runtime/agent-harness.js';
import { json, sleep, trv } from './fault-kit.js';

type Obj = Record<string, unknown>;

describe('fault: heater SIGKILLed with jobs in flight', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it('a job accepted before the kill is never run again; an answer left in the outbox is delivered; energy never goes back', async (t) => {
    const tmp = await mkdtemp(join(tmpdir(), 'anchiale-fault-jobkill-'));
    cleanups.push(() => rm(tmp, { recursive: true, force: true }));
    const persistDir = join(tmp, 'mosq');
    await import('node:fs/promises').then((fs) => fs.mkdir(persistDir));
    await chmod(tmp, 0o755);
    await chmod(persistDir, 0o777);
    const stateDir = join(tmp, 'state');
    const modelsDir = join(tmp, 'models');
    await import('node:fs/promises').then((fs) => fs.mkdir(modelsDir));
    await writeTinyLlamaGguf(join(modelsDir, 'tiny.gguf'), { endTokens: 'rare', contextLength: 8192 });
    const broker = await startMosquitto({ extraConfig: ['persistence true', `persistence_location ${persistDir}/`] });
    cleanups.push(() => broker.stop());
    const base = uniqueBase();
    const node = `${base}/h1`;
    const replyTo = (id: string) => `${base}/replies/fault/${id}`;
    // A persistent session: answers published while it is away (broker restart) wait for it.
    const probe = await connectProbe(broker.url, { clean: false, clientId: `fault-jobkill-${process.pid}`, reconnectPeriod: 100, properties: { sessionExpiryInterval: 600 } });
    cleanups.push(() => probe.end());
    await probe.subscribe([`${base}/#`]);
    const replies = (id: string): Obj[] => probe.received(replyTo(id)).map(json);
    const reply = (id: string, types: string[], timeoutMs = 15_000) =>
      waitFor(() => replies(id).find((r) => types.includes(String(r.type))), { timeoutMs, what: `${types.join('/')} for ${id}` });
    const submit = (id: string, maxTokens: number) =>
      probe.publish(`${node}/jobs/submit`, JSON.stringify({ job_id: id, reply_to: replyTo(id), prompt: `job ${id}`, max_tokens: maxTokens, stream: true }));
    const energy = async () => ((JSON.parse(await readFile(join(stateDir, 'counters.json'), 'utf8').catch(() => '{}')) as Obj).energyKwh as number | undefined) ?? 0;

    const procs: AgentProcess[] = [];
    cleanups.push(async () => {
      for (const p of procs) await p.cleanup();
    });
    let mark = 0;
    const start = async () => {
      mark = probe.messages.length;
      const p = await spawnAgent({
        url: broker.url,
        base,
        stateDir,
        config: {
          jobs: { enabled: true, max_queue: 4 },
          llm: { models_dir: modelsDir, default_model: 'tiny.gguf', threads: 1, context_size: 4096, max_parallel: 1 },
          thermostat: { min_on_s: 0.5, min_off_s: 0.5 },
        },
      });
      procs.push(p);
      const fresh = (m: ProbeMessage) => probe.messages.indexOf(m) >= mark;
      await probe.next(`${node}/status`, (m) => fresh(m) && m.text === 'online', 20_000);
      await probe.publish(p.roomTopic, trv(17), { retain: true });
      await probe.next(
        `${node}/state`,
        (m) => {
          if (!fresh(m) || m.text === '') return false;
          const llm = (json(m).llm ?? {}) as Obj;
          return llm.accepting === true && llm.loaded === true;
        },
        30_000,
      );
      return p;
    };
    const uid = `${process.pid}-${Date.now().toString(36)}`;

    // Run 1: a long job, SIGKILLed mid-generation.
    const a = await start();
    const killed = `killed-mid-run-${uid}`;
    await submit(killed, 3000);
    await reply(killed, ['chunk']);
    await sleep(300);
    const e1 = await energy();
    a.kill('SIGKILL');
    assert.equal((await a.waitExit()).signal, 'SIGKILL');
    await probe.next(`${node}/status`, (m) => probe.messages.indexOf(m) >= mark && m.text === 'offline', 5000);
    assert.ok((await energy()) >= e1, 'counters.json never goes back');

    // Run 2: the same job_id again is ignored silently; a new one is served.
    const b = await start();
    assert.ok((await energy()) >= e1, 'energy restored, not restarted');
    const before = replies(killed).length;
    await submit(killed, 3000);
    const fresh = `fresh-${uid}`;
    await submit(fresh, 12);
    assert.equal((await reply(fresh, ['done', 'error'])).type, 'done', 'a new job is served');
    await sleep(1000);
    assert.equal(replies(killed).length, before, 'the repeat of a job accepted before the kill got no answer at all');

    // A clean stop persists the counters (a kill loses at most the last persist interval).
    assert.deepEqual(await b.stop(), { code: 0, signal: null });
    const e2 = await energy();
    assert.ok(e2 > e1, `energy counted while heating (${e1} → ${e2} kWh)`);
    const b2 = await start();

    // A job that ends while the broker is down: its done waits in the outbox file; SIGKILL then.
    const outboxed = `outboxed-${uid}`;
    await submit(outboxed, 1500);
    await reply(outboxed, ['chunk']);
    process.kill(broker.pid, 'SIGTERM'); // saves the probe's session
    const outboxFile = join(stateDir, 'outbox.jsonl');
    await waitFor(async () => (await readFile(outboxFile, 'utf8').catch(() => '')).includes(`\\"job_id\\":\\"${outboxed}\\"`), {
      timeoutMs: 20_000,
      what: 'the done answer in the outbox file',
    });
    assert.equal(replies(outboxed).filter((r) => r.type === 'done').length, 0, 'not delivered while the broker is down');
    b2.kill('SIGKILL');
    assert.equal((await b2.waitExit()).signal, 'SIGKILL');
    await broker.restart();

    // Run 3: the answer comes out of the outbox; the job is not run again.
    const c = await start();
    const done = await reply(outboxed, ['done', 'error'], 20_000);
    assert.equal(done.type, 'done', 'the finished answer replayed from the outbox');
    await submit(outboxed, 1500);
    await sleep(1000);
    const terminal = replies(outboxed).filter((r) => r.type === 'done' || r.type === 'error');
    assert.deepEqual([...new Set(terminal.map((r) => r.type))], ['done'], 'one terminal answer type (delivered at least once)');
    assert.equal(replies(outboxed).filter((r) => r.type === 'accepted').length, 1, 'accepted once, never again');
    assert.equal(replies(killed).filter((r) => r.type === 'accepted').length, 1, 'the killed job was accepted once, never again');
    assert.ok((await energy()) >= e2, 'counters.json never goes back (restored after the kill)');
    await sleep(500);
    assert.deepEqual(await c.stop(), { code: 0, signal: null });
    const e3 = await energy();
    t.diagnostic(`counters.json energy: ${e1} → ${e2} → ${e3} kWh; outbox answer replayed ${terminal.length}×`);
    assert.ok(e3 > e2, `energy kept counting (${e2} → ${e3})`);
    for (const p of procs) assert.ok(!p.logs.some((l) => l.level === 'fatal'), 'no fatal log line');
  });
});
