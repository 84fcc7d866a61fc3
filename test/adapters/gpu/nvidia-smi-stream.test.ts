import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { NvidiaSmiStream } from '../../../agent/adapters/gpu/nvidia-smi-stream.js';
import { systemClock } from '../../../agent/adapters/system/system-clock.js';
import { silentLogger } from '../../../agent/log.js';
import { CARDS, FakeNvidiaSmi } from '../../fakes/fake-nvidia-smi.js';
import { waitFor } from '../../helpers/wait.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/**
 * The silence limit is 250 ms only where silence is the subject (frozen): elsewhere 2 s, since the
 * fake's first line can take longer than 250 ms on a loaded CI machine (seen: a second start).
 */
async function stream(o: { binary?: string; frozen?: boolean } = {}) {
  const fake = await FakeNvidiaSmi.create({ ...CARDS.rtx4090, loadPct: 50, ...(o.frozen ? { streamMode: 'frozen' as const } : {}) });
  const s = new NvidiaSmiStream({
    binary: o.binary ?? fake.binary,
    gpuId: '0',
    periodMs: 100,
    staleAfterMs: o.frozen ? 250 : 2000,
    backoff: { minMs: 50, maxMs: 200 },
    clock: systemClock,
    log: silentLogger(),
    env: fake.env(),
  });
  cleanups.push(async () => {
    await s.stop();
    await fake.cleanup();
  });
  return { fake, s };
}

describe('nvidia-smi stream', () => {
  it('one process, a sample per period, listeners called', async () => {
    const { s, fake } = await stream();
    const seen: number[] = [];
    s.onSample((x) => seen.push(x.sample.powerDrawW ?? -1));
    s.start();
    await waitFor(() => seen.length >= 3, { what: 'three samples' });
    assert.equal(s.stats().mode, 'stream');
    assert.equal(s.stats().starts, 1);
    assert.equal((await fake.streamPids()).length, 1);
    assert.ok(seen.every((w) => w === 236), `draw at 50 % of 450 W: ${seen.join(',')}`);
    assert.match((await fake.calls())[0]!, /^--query-gpu=index,uuid,power\.draw,.* --format=csv,noheader,nounits -i 0 -lms 100$/);
  });

  it('a loop that stays silent run after run (output held back) → one query per period instead', async () => {
    const { s, fake } = await stream({ frozen: true });
    s.start();
    await waitFor(() => s.stats().mode === 'poll', { what: 'poll mode', timeoutMs: 4000 });
    assert.equal(s.stats().starts, 3, 'three silent runs, each killed');
    await waitFor(() => s.latest() !== null, { what: 'a polled sample' });
    const before = s.latest()!.atMonoS;
    await waitFor(() => s.latest()!.atMonoS > before, { what: 'polling goes on' });
    assert.equal((await fake.streamPids()).length, 3);
  });

  it('no nvidia-smi: no throw, restarts with backoff, the reason kept', async () => {
    const { s } = await stream({ binary: '/nonexistent/nvidia-smi' });
    s.start();
    await waitFor(() => s.stats().lastExit !== null);
    assert.match(s.stats().lastExit!.stderr, /ENOENT/);
    await new Promise((r) => setTimeout(r, 500));
    const starts = s.stats().starts;
    assert.ok(starts >= 2 && starts <= 6, `starts ${starts}`);
    assert.equal(s.latest(), null);
  });

  it('stop() ends the process and no restart follows', async () => {
    const { s, fake } = await stream();
    s.start();
    await waitFor(() => s.latest() !== null);
    await s.stop();
    const [pid] = await fake.streamPids();
    assert.throws(() => process.kill(pid!, 0));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(s.stats().starts, 1);
  });
});
