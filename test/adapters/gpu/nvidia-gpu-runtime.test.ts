/**
 * The real agent (runtime, core, MQTT on the shared broker) with the nvidia backend on the fake
 * nvidia-smi: stale telemetry stops the heat, a card without power management is cycled.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { NvidiaGpu } from '../../../agent/adapters/gpu/nvidia-gpu.js';
import { systemClock } from '../../../agent/adapters/system/system-clock.js';
import { createConfigSchema } from '../../../agent/config/schema.js';
import { silentLogger } from '../../../agent/log.js';
import { buildAgent } from '../../../agent/main.js';
import type { Clock } from '../../../agent/ports/clock.js';
import { CARDS, FakeNvidiaSmi, type FakeCardSettings } from '../../fakes/fake-nvidia-smi.js';
import { connectProbe } from '../../helpers/mqtt-probe.js';
import { waitFor } from '../../helpers/wait.js';
import { uniqueBase } from '../../runtime/agent-harness.js';

const BROKER = 'mqtt://127.0.0.1:1883';

/** The system clock plus an offset the test can jump forward. */
function jumpClock(): Clock & { jump(s: number): void } {
  let offset = 0;
  return {
    monoS: () => systemClock.monoS() + offset,
    wallMs: () => systemClock.wallMs() + offset * 1000,
    jump: (s) => {
      offset += s;
    },
  };
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function startAgent(card: Partial<FakeCardSettings>, roomC: number) {
  const fake = await FakeNvidiaSmi.create({ ...CARDS.rtx3090, ...card });
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'anchiale-state-'));
  const base = uniqueBase();
  const device = `${base.replace(/\//g, '_')}-trv`;
  const config = createConfigSchema({ defaultNodeId: 'h1' }).parse({
    version: 1,
    node: { id: 'h1' },
    mqtt: { url: BROKER, base_topic: base, reconnect: { min_s: 0.2, max_s: 2 }, discovery: { enabled: false } },
    inputs: { room_temperature: { preset: 'z2m', device } },
    thermostat: { default_setpoint_c: 20 },
    heater: { backend: 'nvidia', max_power_w: 300, power_limit_method: 'direct', limit_min_interval_s: 1 },
    jobs: { enabled: false },
    state: { dir: stateDir },
    log: { level: 'silent' },
  });
  const clock = jumpClock();
  const heater = new NvidiaGpu({
    gpu: config.heater.gpu,
    method: config.heater.power_limit_method,
    siteMaxW: config.heater.max_power_w,
    clock,
    log: silentLogger(),
    binary: fake.binary,
    env: fake.env(),
    periodMs: 100,
    staleAfterMs: 500,
  });
  const agent = buildAgent(config, silentLogger(), { heater, clock, tickS: 0.1 });
  const probe = await connectProbe(BROKER);
  cleanups.push(async () => {
    await agent.stop();
    for (const t of ['status', 'state', 'info']) await probe.publish(`${base}/h1/${t}`, '', { retain: true });
    await probe.end();
    await fake.cleanup();
    await rm(stateDir, { recursive: true, force: true });
  });
  await agent.start();
  await agent.whenConnected();
  await probe.publish(`zigbee2mqtt/${device}`, JSON.stringify({ local_temperature: roomC }));
  return { agent, fake, clock, heater };
}

describe('the agent with the nvidia backend (fake nvidia-smi)', () => {
  it('stale GPU telemetry → the decision goes to fault (gpu_telemetry_stale), no heat, the floor written at once; back when the stream is', async () => {
    const { agent, fake, clock, heater } = await startAgent({}, 18);
    await waitFor(() => agent.decision?.phase === 'heating' || agent.decision?.phase === 'warming_up', { what: 'heating', timeoutMs: 5000 });
    await waitFor(async () => (await fake.limitW()) === 300, { what: 'the full site ceiling written', timeoutMs: 5000 });
    await waitFor(() => heater.telemetry()?.limitW === 300, { what: 'the new limit read back' });
    await fake.set({ streamMode: 'frozen' });
    await new Promise((r) => setTimeout(r, 250));
    clock.jump(31); // the last sample is now older than GPU_TELEMETRY_MAX_AGE_S (30 s)
    const d = await waitFor(() => (agent.decision?.phase === 'fault' ? agent.decision : null), { what: 'fault', timeoutMs: 3000 });
    assert.ok(d.reasons.includes('gpu_telemetry_stale'), d.reasons.join(','));
    assert.equal(d.heat, false);
    assert.equal(d.targetLimitW, 100);
    await waitFor(async () => (await fake.limitW()) === 100, { what: 'floor written at once (safety reduction)', timeoutMs: 3000 });
    await fake.set({ streamMode: 'normal' });
    await waitFor(() => agent.decision !== null && !agent.decision.reasons.includes('gpu_telemetry_stale'), { what: 'telemetry fresh again', timeoutMs: 5000 });
  });

  it('a card without power management: no limit ever written, the decision cycles on and off and says why', async () => {
    const { agent, fake } = await startAgent({ supported: false }, 19.8);
    const d = await waitFor(() => (agent.decision?.heat ? agent.decision : null), { what: 'heating', timeoutMs: 5000 });
    assert.ok(d.reasons.includes('no_power_management'), d.reasons.join(','));
    assert.ok(d.reasons.includes('cycling'), `demand ${d.demand} < 1 is met by on/off cycling: ${d.reasons.join(',')}`);
    assert.ok(d.demand > 0 && d.demand < 1);
    assert.equal(d.writeLimit, false);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(await fake.plCalls(), []);
  });
});
