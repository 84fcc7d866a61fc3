import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { NvidiaGpu, type NvidiaGpuOptions } from '../../../agent/adapters/gpu/nvidia-gpu.js';
import { systemClock } from '../../../agent/adapters/system/system-clock.js';
import { silentLogger } from '../../../agent/log.js';
import { CARDS, FakeNvidiaSmi, type FakeCardSettings } from '../../fakes/fake-nvidia-smi.js';
import { waitFor } from '../../helpers/wait.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});
after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/** A fake card and an NvidiaGpu on it (direct method unless told), stopped after the test. */
async function setUp(card: Partial<FakeCardSettings> = {}, o: Partial<NvidiaGpuOptions> = {}) {
  const fake = await FakeNvidiaSmi.create({ ...CARDS.rtx3090, ...card });
  const gpu = new NvidiaGpu({
    gpu: { index: 0, uuid: null },
    method: 'direct',
    siteMaxW: 300,
    clock: systemClock,
    log: silentLogger(),
    binary: fake.binary,
    env: fake.env(),
    periodMs: 100,
    staleAfterMs: 600,
    probeRetryMs: 200,
    ...o,
  });
  let stopped = false;
  cleanups.push(async () => {
    if (!stopped) await gpu.stop();
    await fake.cleanup();
  });
  return {
    fake,
    gpu,
    stop: async () => {
      stopped = true;
      await gpu.stop();
    },
  };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('NvidiaGpu on the fake nvidia-smi', () => {
  it('start: one query of the card, the minimum limit applied, then a stream whose draw follows the load; stop restores the minimum', async () => {
    const { fake, gpu, stop } = await setUp();
    await gpu.start();
    assert.deepEqual(gpu.limits(), { minLimitW: 100, maxLimitW: 400, defaultLimitW: 350, powerManagement: true });
    assert.deepEqual(gpu.inventory(), {
      name: 'NVIDIA GeForce RTX 3090',
      uuid: CARDS.rtx3090.uuid,
      driver: '550.54.14',
      vramMib: 24576,
      minLimitW: 100,
      maxLimitW: 400,
      defaultLimitW: 350,
    });
    assert.equal(await fake.limitW(), 100, 'the card left at its default (350 W) is brought to its minimum at start');
    assert.deepEqual(await fake.plCalls(), ['-i 0 -pl 100']);
    assert.equal(gpu.powerControl().supported, true);

    await waitFor(() => gpu.telemetry()?.powerW === 22, { what: 'idle draw from the stream' });
    await fake.set({ loadPct: 100 });
    await waitFor(() => gpu.telemetry()?.powerW === 100, { what: 'full load capped by the 100 W limit' });
    assert.equal(gpu.telemetry()?.pstate, 'P2');
    await gpu.setPowerLimit(250);
    assert.equal(await fake.limitW(), 250);
    await waitFor(() => gpu.telemetry()?.powerW === 250 && gpu.telemetry()?.limitW === 250, { what: 'draw up to the new limit' });
    const t = gpu.telemetry();
    assert.ok(t && systemClock.monoS() - t.atMonoS < 1, 'fresh telemetry');

    const [pid] = await fake.streamPids();
    assert.equal(gpu.streamStats().starts, 1, 'one long-lived process');
    await stop();
    assert.equal(await fake.limitW(), 100, 'minimum limit restored at stop');
    await waitFor(() => !alive(pid!), { what: 'stream process gone' });
  });

  it('clamps writes to the card range and rounds them to whole watts', async () => {
    const { fake, gpu } = await setUp();
    await gpu.start();
    await gpu.setPowerLimit(1000);
    assert.equal(await fake.limitW(), 400);
    await gpu.setPowerLimit(12);
    assert.equal(await fake.limitW(), 100);
    await gpu.setPowerLimit(222.6);
    assert.equal(await fake.limitW(), 223);
  });

  it('writes one at a time: a value queued behind a running write is replaced by the newest', async () => {
    const { fake, gpu } = await setUp();
    await gpu.start();
    const before = (await fake.plCalls()).length;
    await Promise.all([gpu.setPowerLimit(200), gpu.setPowerLimit(210), gpu.setPowerLimit(220)]);
    assert.deepEqual((await fake.plCalls()).slice(before), ['-i 0 -pl 200', '-i 0 -pl 220']);
    assert.equal(await fake.limitW(), 220);
  });

  it('the GPU is chosen by UUID when one is set', async () => {
    const { fake, gpu } = await setUp({ ...CARDS.rtx4090, indexes: ['1'] }, { gpu: { index: 1, uuid: CARDS.rtx4090.uuid } });
    await gpu.start();
    assert.equal(gpu.inventory().name, 'NVIDIA GeForce RTX 4090');
    assert.deepEqual(gpu.limits(), { minLimitW: 150, maxLimitW: 600, defaultLimitW: 450, powerManagement: true });
    await waitFor(() => gpu.telemetry() !== null);
    const calls = await fake.calls();
    assert.ok(calls.length >= 3);
    for (const c of calls) assert.match(c, new RegExp(`-i ${CARDS.rtx4090.uuid}`), c);
  });

  it('an unknown GPU: no crash, no limit written, power management off with the reason; found once it answers', async () => {
    const { fake, gpu } = await setUp({ indexes: ['0'] }, { gpu: { index: 3, uuid: null } });
    await gpu.start();
    const pc = gpu.powerControl();
    assert.equal(pc.reason, 'gpu_unavailable');
    assert.match(pc.detail ?? '', /gpu_not_found/);
    assert.deepEqual(gpu.limits(), { minLimitW: 300, maxLimitW: 300, defaultLimitW: 300, powerManagement: false });
    assert.equal(gpu.telemetry(), null);
    await assert.rejects(gpu.setPowerLimit(200), { code: 'power_management_unavailable' });
    assert.deepEqual(await fake.plCalls(), []);
    // The card appears (driver loaded late): the retry finds it and applies the minimum.
    await fake.set({ indexes: ['0', '3'] });
    await waitFor(() => gpu.powerControl().supported, { what: 'card found by the retry' });
    await waitFor(async () => (await fake.limitW()) === 100, { what: 'minimum applied after the late probe' });
  });

  it('a stream process that dies is started again at once; telemetry resumes', async () => {
    const { fake, gpu } = await setUp();
    await gpu.start();
    await waitFor(async () => (await fake.streamPids()).length === 1);
    const [first] = await fake.streamPids();
    process.kill(first!, 'SIGKILL'); // the fake's stream, started by the adapter under test
    await waitFor(async () => (await fake.streamPids()).length === 2, { what: 'stream restarted' });
    const killedAt = systemClock.monoS();
    await waitFor(() => (gpu.telemetry()?.atMonoS ?? 0) > killedAt, { what: 'telemetry after the restart' });
    assert.equal(gpu.streamStats().lastExit?.signal, 'SIGKILL');
  });

  it('a stream that goes silent is killed and started again; the last sample keeps its time (the core sees it age)', async () => {
    const { fake, gpu } = await setUp();
    await gpu.start();
    await waitFor(() => gpu.telemetry() !== null && gpu.streamStats().lines > 0);
    await fake.set({ streamMode: 'frozen' });
    await new Promise((r) => setTimeout(r, 200));
    const frozenAt = gpu.telemetry()!.atMonoS;
    await waitFor(async () => (await fake.streamPids()).length >= 2, { what: 'silent stream replaced', timeoutMs: 3000 });
    assert.equal(gpu.telemetry()!.atMonoS, frozenAt, 'no new sample while silent');
    assert.equal(gpu.telemetry()!.powerW, 22, 'the last values are kept');
    assert.equal(gpu.telemetry()!.limitW, null, 'but a limit read that long ago is no read-back');
    const [first] = await fake.streamPids();
    assert.equal(alive(first!), false, 'the silent process was killed');
    await fake.set({ streamMode: 'normal' });
    await waitFor(() => gpu.telemetry()!.atMonoS > frozenAt, { what: 'telemetry back', timeoutMs: 3000 });
  });

  it('a stream that keeps failing is restarted with a growing delay', async () => {
    const { fake, gpu } = await setUp();
    await gpu.start();
    await fake.set({ streamMode: 'exit' });
    await waitFor(() => gpu.streamStats().lastExit?.code === 15, { what: 'stream exits (GPU lost)', timeoutMs: 2000 });
    const startsAt = gpu.streamStats().starts;
    await new Promise((r) => setTimeout(r, 1600));
    const more = gpu.streamStats().starts - startsAt;
    // Delays 0.5, 1, 2 s…: at most 2 more starts in 1.6 s (a 100 ms period would give ~16).
    assert.ok(more >= 1 && more <= 2, `restarts in 1.6 s: ${more}`);
    await fake.set({ streamMode: 'normal' });
  });

  describe('-pl errors', () => {
    const cases: Array<[string, Partial<FakeCardSettings>, string]> = [
      ['insufficient permissions (exit 4)', { plFail: 'permission' }, 'power_limit_permission_denied'],
      ['GPU fallen off the bus (exit 15)', { plFail: 'lost' }, 'gpu_lost'],
      ['driver not loaded (exit 9)', { plFail: 'driver' }, 'nvidia_driver_not_loaded'],
      ['a warning, exit 0, nothing applied', { ignorePl: true }, 'power_limit_not_applied'],
      ['a range that shrank under the agent (exit 2)', { minW: 200 }, 'power_limit_out_of_range'],
    ];
    for (const [what, broken, code] of cases) {
      it(`${what} → ${code}`, async () => {
        const { fake, gpu } = await setUp();
        await gpu.start();
        await fake.set(broken);
        await assert.rejects(gpu.setPowerLimit(150), (err: { code?: string; message?: string }) => {
          assert.equal(err.code, code, err.message);
          return true;
        });
        assert.equal(gpu.powerControl().supported, true, 'still managed: the core retries on mismatch');
        await fake.set({ plFail: 'none', ignorePl: false, minW: 100 });
      });
    }

    it('"not supported" from -pl (exit 0) → power management off from then on (on/off cycling)', async () => {
      const { fake, gpu } = await setUp();
      await gpu.start();
      await fake.set({ supported: false });
      await assert.rejects(gpu.setPowerLimit(150), { code: 'power_management_unsupported' });
      assert.equal(gpu.limits().powerManagement, false);
      assert.equal(gpu.powerControl().reason, 'power_management_unsupported');
    });
  });

  for (const style of ['na', 'not_supported'] as const) {
    it(`a card without power management ([${style === 'na' ? 'N/A' : 'Not Supported'}]) → powerManagement false, no -pl ever, telemetry still flows`, async () => {
      const { fake, gpu, stop } = await setUp({ supported: false, unsupportedStyle: style, loadPct: 50 });
      await gpu.start();
      const l = gpu.limits();
      assert.equal(l.powerManagement, false);
      assert.equal(l.minLimitW, l.maxLimitW, 'one nominal value');
      assert.equal(gpu.powerControl().reason, 'power_management_unsupported');
      await waitFor(() => gpu.telemetry()?.powerW === 186, { what: 'draw at 50 % load' });
      assert.equal(gpu.telemetry()?.limitW, null);
      await assert.rejects(gpu.setPowerLimit(200), { code: 'power_management_unavailable' });
      assert.deepEqual(await gpu.checkLimitBeforeLoad(), { ok: true, action: 'skipped', expectedW: null, foundW: null, message: 'power_management_unsupported' });
      await stop();
      assert.deepEqual(await fake.plCalls(), []);
    });
  }

  it('method none: the limit is only read (powerManagement false, reason stated, no -pl)', async () => {
    const { fake, gpu, stop } = await setUp({}, { method: 'none' });
    await gpu.start();
    assert.equal(gpu.limits().powerManagement, false);
    assert.deepEqual(
      { reason: gpu.powerControl().reason, range: [gpu.limits().minLimitW, gpu.limits().maxLimitW] },
      { reason: 'power_limit_method_none', range: [100, 400] },
    );
    await waitFor(() => gpu.telemetry()?.limitW === 350, { what: 'the limit read back' });
    await stop();
    assert.deepEqual(await fake.plCalls(), []);
  });

  it('checkLimitBeforeLoad: a limit reset behind the agent (driver re-initialisation) is written again', async () => {
    const { fake, gpu } = await setUp();
    await gpu.start();
    await gpu.setPowerLimit(250);
    assert.deepEqual(await gpu.checkLimitBeforeLoad(), { ok: true, action: 'match', expectedW: 250, foundW: 250, message: null });
    await fake.set({ limitW: 350 }); // the driver's default after a reload
    assert.deepEqual(await gpu.checkLimitBeforeLoad(), { ok: true, action: 'rewritten', expectedW: 250, foundW: 350, message: null });
    assert.equal(await fake.limitW(), 250);
    await fake.set({ limitW: 350, plFail: 'permission' });
    const failed = await gpu.checkLimitBeforeLoad();
    assert.equal(failed.ok, false);
    assert.equal(failed.action, 'rewrite_failed');
    await fake.set({ plFail: 'none', queryFail: 'lost' });
    const lost = await gpu.checkLimitBeforeLoad();
    assert.deepEqual([lost.ok, lost.action], [false, 'query_failed']);
    await fake.set({ queryFail: 'none' });
  });
});
