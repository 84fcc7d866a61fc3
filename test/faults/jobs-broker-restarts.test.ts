/**
 * Fault: the broker goes down and comes back three times while jobs are in flight. Two real heaters
 * (jobs on, generated tiny model, one thread) on a Mosquitto of their own (persistence on, so the
 * sessions of the wire probe survive: it sees every answer the broker took); a JobClient submits
 * ~30 jobs across the restarts, and gets every one of them back done (its session is kept too).
 * Kept: every job a heater accepted gets exactly one terminal answer (done or error) on the wire,
 * delivered at least once (its outbox keeps it through the outage); never both done and error.
 * Reported: retained status `online` and a fresh state back after each restart; the heaters
 * reconnect with backoff (a handful of attempts per outage, no storm).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobClient } from '../../agent/client/job-client.js';
import { startJobHeaters } from '../helpers/job-heaters.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { connectProbe, type ProbeMessage } from '../helpers/mqtt-probe.js';
import { waitFor } from '../helpers/wait.js';
import { sleep } from './fault-kit.js';

const RESTARTS = 3;
const JOBS_PER_ROUND = 8;

describe('fault: broker restarted repeatedly with jobs in flight', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it('every accepted job gets exactly one terminal answer; retained topics come back; reconnects back off', async (t) => {
    const persistDir = await mkdtemp(join(tmpdir(), 'anchiale-fault-persist-'));
    await chmod(persistDir, 0o777); // mosquitto may drop to its own user
    const broker = await startMosquitto({ extraConfig: ['persistence true', `persistence_location ${persistDir}/`] });
    cleanups.push(async () => {
      await broker.stop();
      await rm(persistDir, { recursive: true, force: true });
    });
    const fleet = await startJobHeaters({
      url: broker.url,
      heaters: [
        { node: 'a', roomC: 18, config: { jobs: { max_queue: 16 } } },
        { node: 'b', roomC: 18.5, config: { jobs: { max_queue: 16 } } },
      ],
    });
    cleanups.push(() => fleet.stop());
    const { base } = fleet;
    // The wire: a persistent session, so nothing the broker accepted for it is lost over a restart.
    const wire = await connectProbe(broker.url, { clean: false, clientId: `fault-wire-${process.pid}`, reconnectPeriod: 100, properties: { sessionExpiryInterval: 600 } });
    cleanups.push(() => wire.end());
    await wire.subscribe([`${base}/replies/#`, `${base}/+/status`, `${base}/+/state`]);
    const client = new JobClient({ url: broker.url, base, acceptTimeoutMs: 4000, fleetAttempts: 4, resultTimeoutMs: 12_000 });
    await client.start();
    cleanups.push(() => client.stop());
    await waitFor(() => client.fleetStatus().usable.length === 2, { timeoutMs: 30_000, what: 'both heaters accepting' });

    const submits: Array<Promise<unknown>> = [];
    let n = 0;
    const round = () => {
      for (let i = 0; i < JOBS_PER_ROUND; i++) {
        const k = n++;
        submits.push(client.submit({ jobId: `fault-job-${process.pid}-${k}`, prompt: `job ${k}`, maxTokens: 48, seed: k, stream: k % 2 === 0 }).catch((e: unknown) => e));
      }
    };
    const killMarks: number[] = [];
    const attempts0 = fleet.heaters.map((h) => h.agent.busStats()?.attempts ?? 0);
    for (let r = 0; r < RESTARTS; r++) {
      // The client itself comes back after a restart and sees the heaters online again.
      await waitFor(() => client.fleetStatus().usable.length === 2, { timeoutMs: 15_000, what: 'both heaters usable' });
      round();
      await waitFor(() => wire.received(`${base}/replies/#`).some((m) => m.text.includes('"type":"accepted"') && m.text.includes(`fault-job-${process.pid}-${n - 1}"`)), {
        timeoutMs: 10_000,
        what: 'the round accepted',
      }).catch(() => undefined);
      await sleep(200); // some running, some still queued
      const before = Date.now();
      killMarks.push(wire.messages.length);
      // Down (SIGTERM, so the broker saves the wire probe's session), long enough for answers to wait in the outboxes.
      process.kill(broker.pid, 'SIGTERM');
      await sleep(1500);
      await broker.restart();
      const mark = wire.messages.length;
      const fresh = (m: ProbeMessage) => wire.messages.indexOf(m) >= mark;
      // Reported again: each heater's birth (status online) and a state published after the restart.
      for (const h of fleet.heaters) {
        await wire.next(`${base}/${h.node}/status`, (m) => fresh(m) && m.text === 'online', 15_000);
        await wire.next(`${base}/${h.node}/state`, (m) => fresh(m) && m.text !== '' && Date.parse(String((JSON.parse(m.text) as { ts: string }).ts)) >= before, 15_000);
      }
      // Retained: a newcomer gets them at once.
      const newcomer = await connectProbe(broker.url);
      await newcomer.subscribe([`${base}/+/status`, `${base}/+/state`]);
      for (const h of fleet.heaters) {
        const s = await newcomer.next(`${base}/${h.node}/status`, (m) => m.retain, 3000);
        assert.equal(s.text, 'online', `retained status of ${h.node} after restart ${r + 1}`);
        const st = await newcomer.next(`${base}/${h.node}/state`, (m) => m.retain && m.text !== '', 3000);
        assert.ok(Date.parse(String((JSON.parse(st.text) as { ts: string }).ts)) >= before, `retained state of ${h.node} is fresh after restart ${r + 1}`);
      }
      await newcomer.end();
    }
    await waitFor(() => client.fleetStatus().usable.length === 2, { timeoutMs: 15_000, what: 'both heaters usable again' });
    round(); // and a last batch on a healthy broker
    const outcomes = await Promise.all(submits);
    const failed = outcomes.filter((o): o is Error => o instanceof Error).map((e) => `${(e as { code?: string }).code}: ${e.message}`);
    t.diagnostic(`client: ${outcomes.length - failed.length} done, failed: ${JSON.stringify(failed).slice(0, 600)}`);
    // The client's own MQTT 5 session is kept by the (persistent) broker too: every job it
    // submitted came back to it done, answers published while it was reconnecting included.
    assert.deepEqual(failed, [], 'every submitted job answered to the client');

    // The wire: for every (job_id, node) a heater accepted, the distinct terminal types seen.
    const replies = () => wire.received(`${base}/replies/#`).map((m) => ({ ...(JSON.parse(m.text) as { type: string; job_id: string; node: string }), at: wire.messages.indexOf(m) }));
    const accepted = () => new Set(replies().filter((r) => r.type === 'accepted').map((r) => `${r.job_id}|${r.node}`));
    const terminals = () => {
      const m = new Map<string, { types: Set<string>; count: number }>();
      for (const r of replies()) {
        if (r.type !== 'done' && r.type !== 'error') continue;
        const k = `${r.job_id}|${r.node}`;
        const e = m.get(k) ?? { types: new Set<string>(), count: 0 };
        e.types.add(r.type);
        e.count += 1;
        m.set(k, e);
      }
      return m;
    };
    await waitFor(() => [...accepted()].every((k) => terminals().has(k)), { timeoutMs: 30_000, what: 'a terminal answer for every accepted job' }).catch(() => undefined);
    const acc = [...accepted()];
    const term = terminals();
    const missing = acc.filter((k) => !term.has(k));
    const conflicting = acc.filter((k) => (term.get(k)?.types.size ?? 0) > 1);
    const redelivered = acc.filter((k) => (term.get(k)?.count ?? 0) > 1);
    // Jobs in flight over an outage: accepted before a restart, answered after it.
    const acceptedAt = new Map(replies().filter((r) => r.type === 'accepted').map((r) => [`${r.job_id}|${r.node}`, r.at]));
    const answeredAt = new Map(replies().filter((r) => r.type === 'done' || r.type === 'error').map((r) => [`${r.job_id}|${r.node}`, r.at]));
    const spanned = acc.filter((k) => killMarks.some((mk) => acceptedAt.get(k)! < mk && (answeredAt.get(k) ?? -1) > mk));
    const byType = { done: 0, error: 0 };
    for (const k of acc) for (const ty of term.get(k)?.types ?? []) byType[ty as 'done' | 'error'] += 1;
    const attempts = fleet.heaters.map((h, i) => (h.agent.busStats()?.attempts ?? 0) - attempts0[i]!);
    t.diagnostic(
      `${n} submitted, ${acc.length} accepted (job×heater), done ${byType.done}, error ${byType.error}, redelivered ${redelivered.length}, in flight over an outage ${spanned.length}; reconnect attempts per heater ${attempts.join(', ')} over ${RESTARTS} outages`,
    );
    assert.ok(acc.length >= (n * 3) / 4, `most jobs accepted (${acc.length} of ${n})`);
    assert.ok(spanned.length >= 1, 'some jobs were in flight over an outage');
    assert.deepEqual(missing, [], 'every accepted job has a terminal answer');
    assert.deepEqual(conflicting, [], 'no job has both done and error');
    // Jobs not answered by a heater were never accepted: no job without an acceptance got an answer.
    const stray = [...term.keys()].filter((k) => !acc.includes(k));
    assert.deepEqual(stray, [], 'no terminal answer without an acceptance');
    // Backoff: 0.2 s doubling to 2 s over ~1.5 s down is a handful of attempts per outage, not a storm.
    for (const a of attempts) assert.ok(a <= RESTARTS * 8, `reconnect attempts ${a} ≤ ${RESTARTS * 8}`);
    for (const a of attempts) assert.ok(a >= RESTARTS, `it did reconnect after every outage (${a})`);
  });
});
