import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { NvidiaGpu } from '../../../agent/adapters/gpu/nvidia-gpu.js';
import { DirectPowerLimitWriter, HelperPowerLimitWriter, NoPowerLimitWriter } from '../../../agent/adapters/gpu/power-limit-writers.js';
import { systemClock } from '../../../agent/adapters/system/system-clock.js';
import { silentLogger } from '../../../agent/log.js';
import { CARDS, FakeNvidiaSmi, type FakeCardSettings } from '../../fakes/fake-nvidia-smi.js';
import { startFakePathUnit } from '../../fakes/power-limit-path-unit.js';
import { waitFor } from '../../helpers/wait.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function setUp(card: Partial<FakeCardSettings> = {}, unit: { siteMaxW?: number | null; answer?: boolean } = {}) {
  const fake = await FakeNvidiaSmi.create({ ...CARDS.rtx3090, ...card });
  const pu = await startFakePathUnit({ env: fake.env(), nvidiaSmi: fake.binary, ...unit });
  cleanups.push(() => fake.cleanup(), () => pu.stop());
  return { fake, pu, writer: new HelperPowerLimitWriter({ dir: pu.dir, timeoutMs: 5000, pollMs: 20 }) };
}

describe('helper method: request file → root helper (the real power-limit-helper.sh) → result file', () => {
  const cases: Array<[string, number, number]> = [
    ['a limit within range and the site ceiling', 250, 250],
    ['above the site ceiling (300 W) → the ceiling', 380, 300],
    ['below the card minimum → the minimum', 50, 100],
  ];
  for (const [what, asked, applied] of cases) {
    it(`${what}: asked ${asked} W → applied ${applied} W`, async () => {
      const { fake, pu, writer } = await setUp();
      assert.deepEqual(await writer.write(asked), { requestedW: asked, appliedW: applied });
      assert.equal(await fake.limitW(), applied);
      assert.equal(await readFile(path.join(pu.dir, 'request'), 'utf8'), `${asked}\n`);
      assert.equal(pu.runs(), 1);
    });
  }

  it('two writes in a row each get their own answer', async () => {
    const { fake, writer } = await setUp();
    await writer.write(200);
    await writer.write(200);
    assert.deepEqual(await writer.write(220), { requestedW: 220, appliedW: 220 });
    assert.equal(await fake.limitW(), 220);
  });

  const refusals: Array<[string, Partial<FakeCardSettings>, { siteMaxW?: number | null }, string]> = [
    ['no site ceiling file', {}, { siteMaxW: null }, 'site_ceiling_missing'],
    ['a card without power management', { supported: false }, {}, 'power_management_unsupported'],
    ['nvidia-smi -pl fails', { plFail: 'permission' }, {}, 'nvidia_smi_failed'],
  ];
  for (const [what, card, unit, code] of refusals) {
    it(`the helper refuses (${what}) → rejects with its code ${code}`, async () => {
      const { writer } = await setUp(card, unit);
      await assert.rejects(writer.write(250), (err: { code?: string; message?: string }) => {
        assert.equal(err.code, code, err.message);
        assert.ok((err.message ?? '').length > 0);
        return true;
      });
    });
  }

  it('no helper answering (path unit inactive) → power_limit_helper_timeout', async () => {
    const { pu } = await setUp({}, { answer: false });
    const writer = new HelperPowerLimitWriter({ dir: pu.dir, timeoutMs: 300, pollMs: 20 });
    const t0 = Date.now();
    await assert.rejects(writer.write(250), { code: 'power_limit_helper_timeout' });
    assert.ok(Date.now() - t0 < 2000);
  });

  it('an old result is never taken for the answer', async () => {
    const { pu } = await setUp({}, { answer: false });
    await writeFile(path.join(pu.dir, 'result'), JSON.stringify({ ok: true, requested_w: 250, applied_w: 250, ts: '2025-01-01T00:00:00.000Z' }));
    const writer = new HelperPowerLimitWriter({ dir: pu.dir, timeoutMs: 300, pollMs: 20 });
    await assert.rejects(writer.write(250), { code: 'power_limit_helper_timeout' });
  });

  it('another request\'s late answer is skipped; ours is taken', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'anchiale-pl-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const writer = new HelperPowerLimitWriter({ dir, timeoutMs: 3000, pollMs: 20 });
    const pending = writer.write(240);
    await waitFor(async () => (await readFile(path.join(dir, 'request'), 'utf8').catch(() => '')) === '240\n');
    await writeFile(path.join(dir, 'result'), JSON.stringify({ ok: true, requested_w: 199, applied_w: 199, ts: 'a' }));
    await new Promise((r) => setTimeout(r, 80));
    await writeFile(path.join(dir, 'result'), JSON.stringify({ ok: true, requested_w: 240, applied_w: 238, ts: 'b' }));
    assert.deepEqual(await pending, { requestedW: 240, appliedW: 238 });
  });

  it('no shared directory (helper not installed) → power_limit_helper_missing', async () => {
    const writer = new HelperPowerLimitWriter({ dir: path.join(os.tmpdir(), 'anchiale-no-such-dir-x'), timeoutMs: 300 });
    await assert.rejects(writer.write(250), { code: 'power_limit_helper_missing' });
  });

  it('NvidiaGpu with method helper: minimum at start, writes through the helper, minimum at stop', async () => {
    const { fake, pu } = await setUp();
    const gpu = new NvidiaGpu({
      gpu: { index: 0, uuid: null },
      method: 'helper',
      siteMaxW: 300,
      clock: systemClock,
      log: silentLogger(),
      binary: fake.binary,
      env: fake.env(),
      powerLimitDir: pu.dir,
      helperTimeoutMs: 5000,
      periodMs: 200,
    });
    await gpu.start();
    assert.equal(await fake.limitW(), 100);
    await gpu.setPowerLimit(280);
    assert.equal(await fake.limitW(), 280);
    await waitFor(() => gpu.telemetry()?.limitW === 280, { what: 'limit read back by the stream' });
    await gpu.stop();
    assert.equal(await fake.limitW(), 100);
    assert.deepEqual((await pu.result())?.applied_w, 100);
  });
});

describe('direct and none', () => {
  it('direct without nvidia-smi → nvidia_smi_missing', async () => {
    const w = new DirectPowerLimitWriter({ gpuId: '0', binary: '/nonexistent/nvidia-smi' });
    await assert.rejects(w.write(200), { code: 'nvidia_smi_missing' });
  });

  it('none refuses every write', async () => {
    await assert.rejects(new NoPowerLimitWriter().write(200), { code: 'power_limit_read_only' });
  });
});
