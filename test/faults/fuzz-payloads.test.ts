/**
 * Fault: ≥ 10 000 seeded malformed, truncated, huge, wrongly typed and unicode-odd payloads on every
 * topic the agent subscribes to (its inputs, set/*, its own info and status, request/* of the node
 * and of the fleet, and jobs/submit, jobs/cancel — answered once the job runtime subscribes them),
 * sent to a real agent process on the system broker, run with --unhandled-rejections=strict.
 * Asserted: the process still runs and still decides (a fresh room value changes its state), nothing
 * on stderr, no handler or tick failure, RSS bounded (growth under RSS_GROWTH_BOUND_MIB), and each
 * rejection logged with its reason.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnAgent, type AgentProcess, type LogLine } from '../helpers/agent-process.js';
import { connectProbe } from '../helpers/mqtt-probe.js';
import { readProcSample } from '../helpers/proc-stats.js';
import { uniqueBase } from '../runtime/agent-harness.js';
import { fuzzCases, type FuzzTarget } from './payload-fuzzer.js';
import { BROKER, clearRetained, json, sleep, trv } from './fault-kit.js';

const SEED = Number(process.env.ANCHIALE_FUZZ_SEED ?? 20261126);
const COUNT = Number(process.env.ANCHIALE_FUZZ_COUNT ?? 10_000);
/**
 * RSS may grow by at most this much from before the fuzz to after it (MiB). Observed: +28 to +50 MiB
 * for ~58 MiB of payloads (transient buffers the allocator keeps, young generation); a heap leak
 * past the old-space cap ends the process instead, which the test sees.
 */
const RSS_GROWTH_BOUND_MIB = 96;
/** V8 old-space cap of the fuzzed agent (MiB). */
const OLD_SPACE_MIB = 64;
/** Publishes in flight at once. */
const WINDOW = 64;
/**
 * Every BATCH payloads, a barrier: a fresh room value, awaited in the agent's state. The broker
 * delivers one publisher's messages in order, so everything before it has reached the agent, and
 * the broker never holds more than a batch for it (Mosquitto drops past max_queued_messages, 1000
 * by default): all payloads really arrive.
 */
const BATCH = 400;

describe('fault: fuzzed payloads on every subscribed topic', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it(`${COUNT} seeded payloads (seed ${SEED}): no crash, no unhandled rejection, memory bounded, reasons logged`, async (t) => {
    const base = uniqueBase();
    const node = `${base}/h1`;
    const stateDir = await mkdtemp(join(tmpdir(), 'anchiale-fault-fuzz-'));
    cleanups.push(() => rm(stateDir, { recursive: true, force: true }));
    const probe = await connectProbe(BROKER);
    cleanups.push(() => probe.end());
    await probe.subscribe([`${node}/state`, `${node}/status`]);
    let agent: AgentProcess | null = null;
    cleanups.push(async () => {
      await agent?.cleanup();
      await clearRetained(probe, node);
    });
    agent = await spawnAgent({
      url: BROKER,
      base,
      stateDir,
      // The old-space cap makes RSS show live memory rather than V8's lazy heap growth, and turns a
      // heap leak into a crash this test sees (without it RSS creeps up ~20 MiB per 5 000 payloads,
      // all garbage: with the cap it stays flat over 20 000).
      nodeArgs: ['--unhandled-rejections=strict', `--max-old-space-size=${OLD_SPACE_MIB}`],
      // jobs on: their topics are fuzzed too once the job runtime subscribes them.
      config: { jobs: { enabled: true } },
    });
    const a = agent;
    await probe.next(`${node}/status`, (m) => m.text === 'online', 15_000);
    await probe.publish(a.roomTopic, trv(19.25));
    await probe.next(`${node}/state`, (m) => json(m).room_temp_c === 19.25, 10_000);
    await sleep(1000);
    const before = readProcSample(a.pid);
    assert.ok(before, 'agent RSS readable');

    const targets: FuzzTarget[] = [
      // Shares: inputs 25 %, set 25 %, requests 25 %, jobs 15 %, own info/status 10 %.
      { topic: a.roomTopic, kind: 'input', weight: 25, sample: trv(19.5), keys: ['local_temperature', 'occupied_heating_setpoint'] },
      { topic: `${node}/set/mode`, kind: 'set', weight: 5, sample: 'auto', keys: ['mode'] },
      { topic: `${node}/set/setpoint`, kind: 'set', weight: 5, sample: '21.5', keys: ['setpoint'] },
      { topic: `${node}/set/preset`, kind: 'set', weight: 5, sample: 'comfort', keys: ['preset'] },
      { topic: `${node}/set/power_cap`, kind: 'set', weight: 5, sample: '250', keys: ['watts'] },
      { topic: `${node}/set/resume`, kind: 'set', weight: 2, sample: '', keys: [] },
      { topic: `${node}/set/b\u00e4d\u202e`, kind: 'set', weight: 3, sample: '1', keys: [] },
      { topic: `${node}/info`, kind: 'info', weight: 5, sample: JSON.stringify({ node_id: 'h1', instance_id: 'x', hostname: 'other' }), keys: ['instance_id', 'hostname'] },
      { topic: `${node}/status`, kind: 'status', weight: 5, sample: 'online', keys: [] },
      ...['status', 'health_check', 'schedule', 'mode', 'preset', 'setpoint_override', 'power_cap', 'resume', 'no_such_command'].map((c) => ({
        topic: `${node}/request/${c}`,
        kind: 'request',
        weight: 2.5,
        sample: JSON.stringify({ transaction: 7, mode: 'auto', preset: 'comfort', setpoint_c: 21, watts: 250, duration_s: 60 }),
        keys: ['transaction', 'mode', 'preset', 'setpoint_c', 'watts', 'duration_s'],
      })),
      { topic: `${base}/all/request/status`, kind: 'request', weight: 2.5, sample: JSON.stringify({ transaction: 'x' }), keys: ['transaction'] },
      {
        topic: `${node}/jobs/submit`,
        kind: 'jobs',
        weight: 10,
        sample: JSON.stringify({ job_id: 'j1', reply_to: `${base}/replies/fuzz/j1`, prompt: 'hi', max_tokens: 4, ttl_s: 5 }),
        keys: ['job_id', 'reply_to', 'prompt', 'messages', 'max_tokens', 'temperature', 'ttl_s', 'model', 'stream'],
      },
      { topic: `${node}/jobs/cancel`, kind: 'jobs', weight: 5, sample: JSON.stringify({ job_id: 'j1' }), keys: ['job_id'] },
    ];

    const sent: Record<string, number> = {};
    const families: Record<string, number> = {};
    let bytes = 0;
    const t0 = performance.now();
    const inFlight = new Set<Promise<void>>();
    let barriers = 0;
    const barrier = async () => {
      await Promise.all(inFlight);
      const c = Math.round((18 + (barriers++ % 90) * 0.01) * 100) / 100;
      await probe.publish(a.roomTopic, trv(c));
      await probe.next(`${node}/state`, (m) => json(m).room_temp_c === c, 10_000);
    };
    let i = 0;
    for (const c of fuzzCases(SEED, COUNT, targets)) {
      if (i++ % BATCH === BATCH - 1) await barrier();
      sent[c.kind] = (sent[c.kind] ?? 0) + 1;
      families[c.family] = (families[c.family] ?? 0) + 1;
      bytes += c.payload.length;
      const p: Promise<void> = probe.publish(c.topic, c.payload, { qos: 1 }).finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= WINDOW) await Promise.race(inFlight);
      if (!a.running()) break;
    }
    await barrier();
    const publishS = (performance.now() - t0) / 1000;
    await sleep(1000);
    assert.ok(a.running(), `the agent still runs (exit ${JSON.stringify(await a.waitExit(1).catch(() => null))}); stderr: ${a.stderr().slice(-3000)}`);

    // Still decides: a fresh room value changes its state.
    await probe.publish(a.roomTopic, trv(17.75));
    await probe.next(`${node}/state`, (m) => json(m).room_temp_c === 17.75, 15_000);
    const afterSample = readProcSample(a.pid);
    assert.ok(afterSample);
    const growthMiB = (afterSample.rssKiB - before.rssKiB) / 1024;

    const msgs = (msg: string) => a.logs.filter((l) => l.msg === msg);
    const inputRejected = msgs('input rejected');
    const setRejected = msgs('set command rejected');
    const requestRejected = msgs('request rejected');
    const oversize = msgs('mqtt message over the size limit dropped');
    t.diagnostic(
      `sent ${JSON.stringify(sent)} families ${JSON.stringify(families)}; ${(bytes / 1048576).toFixed(1)} MiB in ${publishS.toFixed(1)} s (${barriers} barriers); ` +
        `RSS ${(before.rssKiB / 1024).toFixed(1)} → ${(afterSample.rssKiB / 1024).toFixed(1)} MiB (${growthMiB >= 0 ? '+' : ''}${growthMiB.toFixed(1)}, bound +${RSS_GROWTH_BOUND_MIB}); ` +
        `logged: ${inputRejected.length} input rejected, ${setRejected.length} set command rejected, ${requestRejected.length} request rejected, ${oversize.length} oversize dropped; ` +
        `log lines ${a.logs.length} (+${a.droppedLogLines()} dropped)`,
    );

    assert.equal(a.stderr().trim(), '', 'nothing on stderr (no unhandled rejection, no warning)');
    assert.deepEqual(a.otherOutput(), [], 'only JSON log lines on stdout');
    const failures = a.logs.filter((l) => l.level === 'fatal' || /handler failed|tick failed|request handling failed|command failed/.test(l.msg));
    assert.deepEqual(failures.map((l) => `${l.msg}: ${String(l.err)}`).slice(0, 5), [], 'no handler, tick or command failure');
    assert.ok(growthMiB < RSS_GROWTH_BOUND_MIB, `RSS grew by ${growthMiB.toFixed(1)} MiB (bound ${RSS_GROWTH_BOUND_MIB})`);

    const hasReason = (l: LogLine) => typeof l.reason === 'string' && l.reason.length > 0;
    assert.ok(inputRejected.length >= 0.5 * (sent.input ?? 0), `input rejections logged: ${inputRejected.length} of ${sent.input} sent`);
    assert.ok(inputRejected.every((l) => hasReason(l) && typeof l.code === 'string'), 'every input rejection has a code and a reason');
    assert.ok(setRejected.length >= 0.5 * (sent.set ?? 0), `set rejections logged: ${setRejected.length} of ${sent.set} sent`);
    assert.ok(setRejected.every(hasReason), 'every set rejection has a reason');
    assert.ok(requestRejected.length >= 0.3 * (sent.request ?? 0), `request rejections logged: ${requestRejected.length} of ${sent.request} sent`);
    assert.ok(requestRejected.every((l) => hasReason(l) && typeof l.code === 'string'), 'every request rejection has a code and a reason');
    assert.ok(oversize.length > 0 && oversize.every((l) => typeof l.bytes === 'number'), 'oversize payloads dropped with their size');
    assert.ok(inputRejected.some((l) => l.code === 'not_json') && inputRejected.some((l) => l.code !== 'not_json'), 'several kinds of input rejection');

    // A clean stop still works after all that.
    assert.deepEqual(await a.stop(), { code: 0, signal: null });
  });
});
