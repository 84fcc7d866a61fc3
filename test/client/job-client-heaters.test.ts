import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { JobClient, type JobResult } from '../../agent/client/job-client.js';
import { AgentError } from '../../agent/errors.js';
import { startMosquitto, type MosquittoHandle } from '../helpers/mosquitto.js';
import { connectProbe, type Probe } from '../helpers/mqtt-probe.js';
import { startJobHeaters, type JobHeaters } from '../helpers/job-heaters.js';
import { waitFor } from '../helpers/wait.js';

/** Runs `fn` over `items` with at most `limit` at once. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

describe('job client with real heaters (JobRuntime, tiny model on the CPU)', () => {
  let broker: MosquittoHandle;
  let fleet: JobHeaters;
  let client: JobClient;
  let probe: Probe;
  before(async () => {
    broker = await startMosquitto();
    // warm1 and warm2 are cold rooms (heat demand); hot is above its setpoint.
    fleet = await startJobHeaters({
      url: broker.url,
      heaters: [
        { node: 'cold1', roomC: 18, maxParallel: 2 },
        { node: 'cold2', roomC: 19, maxParallel: 1 },
        { node: 'hot', roomC: 23.5, maxParallel: 2 },
      ],
    });
    probe = await connectProbe(broker.url);
    await probe.subscribe(`${fleet.base}/replies/#`);
    client = new JobClient({ url: broker.url, base: fleet.base, acceptTimeoutMs: 3000, fleetAttempts: 5 });
    await client.start();
    await waitFor(() => client.fleetStatus({ model: fleet.model }).usable.length === 2, { timeoutMs: 15_000, what: 'two heaters accepting' });
  });
  after(async () => {
    await client?.stop();
    await probe?.end();
    await fleet?.stop();
    await broker?.stop();
  });

  it('sees the two cold rooms as usable and skips the warm one', () => {
    const s = client.fleetStatus({ model: fleet.model });
    assert.deepEqual(s.usable.map((h) => h.node).sort(), ['cold1', 'cold2']);
    assert.deepEqual(
      s.skipped.map((h) => `${h.node}:${h.skip}`),
      ['hot:no_heat_demand'],
    );
  });

  it('100 jobs, direct and through the fleet topic: each gets exactly one terminal answer, none from the warm room', async () => {
    const n = 100;
    const t0 = performance.now();
    const outcomes = await pool(Array.from({ length: n }, (_, i) => i), 8, async (i) => {
      try {
        return await client.submit({ prompt: `job ${i}: the room is`, maxTokens: 12, seed: i, via: i % 2 === 0 ? 'fleet' : 'auto', stream: i % 3 === 0 });
      } catch (err) {
        return err instanceof AgentError ? err : new AgentError('unexpected', String(err));
      }
    });
    const failed = outcomes.filter((o): o is AgentError => o instanceof AgentError);
    assert.deepEqual(failed.map((e) => `${e.code}: ${e.message}`), [], 'every job was answered done');
    const results = outcomes as JobResult[];
    assert.equal(new Set(results.map((r) => r.jobId)).size, n);
    assert.ok(results.every((r) => r.node === 'cold1' || r.node === 'cold2'), 'served only where the room wants heat');
    assert.ok(results.some((r) => r.via === 'fleet') && results.some((r) => r.via === 'direct'));
    assert.ok(results.every((r) => r.finishReason === 'length' || r.finishReason === 'stop'));
    // On the wire: one terminal answer per job, nothing at all from the warm room's heater.
    await waitFor(() => probe.received(`${fleet.base}/replies/#`).filter((m) => /"type":"(done|error)"/.test(m.text)).length >= n, { what: 'all terminal answers seen' });
    const replies = probe.received(`${fleet.base}/replies/#`).map((m) => JSON.parse(m.text) as { type: string; job_id: string; node: string });
    const terminal = new Map<string, number>();
    for (const r of replies) if (r.type === 'done' || r.type === 'error') terminal.set(r.job_id, (terminal.get(r.job_id) ?? 0) + 1);
    assert.equal(terminal.size, n);
    assert.deepEqual([...terminal.values()].filter((c) => c !== 1), [], 'exactly one terminal answer per job');
    assert.deepEqual(replies.filter((r) => r.node === 'hot').map((r) => r.type), [], 'the warm room answered nothing');
    const hot = fleet.heaters.find((h) => h.node === 'hot')!;
    assert.equal(hot.agent.snapshot?.llm.jobs_done, 0);
    assert.equal(hot.agent.snapshot?.llm.loaded, false, 'no model loaded where no heat is wanted');
    const perNode = { cold1: 0, cold2: 0 } as Record<string, number>;
    for (const r of results) perNode[r.node] = (perNode[r.node] ?? 0) + 1;
    assert.ok(perNode.cold1! > 0 && perNode.cold2! > 0, `both cold rooms served (${JSON.stringify(perNode)})`);
    assert.ok(performance.now() - t0 < 45_000);
  });

  it('a job sent straight to the warm room is rejected no_heat_demand', async () => {
    await assert.rejects(client.submit({ prompt: 'hi', node: 'hot', maxTokens: 4 }), (err: unknown) => {
      assert.ok(err instanceof AgentError);
      assert.equal(err.code, 'rejected');
      assert.equal(err.details?.reason, 'no_heat_demand');
      return true;
    });
  });
});
