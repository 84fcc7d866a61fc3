/**
 * The runtime keeps what the core learns (optimal start's warm-up rate) in learning.json: written
 * as it learns and at stop, read back at start. A hand-driven clock, bus and simulated card; no broker.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonFileStore } from '../../agent/adapters/system/json-file-store.js';
import { SimGpu } from '../../agent/adapters/gpu/sim-gpu.js';
import { resolveHeaterPhysics } from '../../agent/adapters/gpu/sim-heater-physics.js';
import { createConfigSchema } from '../../agent/config/schema.js';
import { initialOptimalStartState, learnWarmup, serializeOptimalStart, type PersistedOptimalStart } from '../../agent/core/optimal-start.js';
import { silentLogger } from '../../agent/log.js';
import { AgentRuntime } from '../../agent/runtime/agent-runtime.js';
import { SimulatedWork } from '../../agent/runtime/simulated-work.js';
import { FakeBus } from '../fakes/fake-bus.js';
import { waitFor } from '../helpers/wait.js';

const dirs: string[] = [];
/** Stopped here too: a runtime left running after a failed assertion keeps its timer, and the file would never exit. */
const runtimes: AgentRuntime[] = [];
after(async () => {
  for (const r of runtimes) await r.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

class StartableBus extends FakeBus {
  async start(): Promise<void> {
    this.connect();
  }
  async stop(): Promise<void> {
    this.disconnect();
  }
}

/** Monday 2026-01-05 at a UTC time. */
const monday = (h: number, m = 0): number => Date.UTC(2026, 0, 5, h, m);

async function rig(o: { dir?: string; startWallMs: number }) {
  const dir = o.dir ?? (await mkdtemp(join(tmpdir(), 'anchiale-learning-')));
  if (!o.dir) dirs.push(dir);
  const config = createConfigSchema({ defaultNodeId: 'h1' }).parse({
    version: 1,
    node: { id: 'h1' },
    mqtt: { base_topic: 'b' },
    inputs: { room_temperature: { topic: 'room' }, outdoor_temperature: { topic: 'out' } },
    heater: { backend: 'sim' },
    state: { dir },
    jobs: { enabled: false },
    thermostat: {
      schedule: {
        timezone: 'UTC',
        entries: [
          { cron: '0 7 * * 1-5', preset: 'comfort' },
          { cron: '0 19 * * 1-5', preset: 'eco' },
        ],
      },
    },
  });
  const clock = { t: 1000, monoS: () => clock.t, wallMs: () => o.startWallMs + (clock.t - 1000) * 1000 };
  const bus = new StartableBus();
  bus.autoAck = true;
  const heater = new SimGpu(resolveHeaterPhysics({ load_s: 0 }), 4, clock);
  const inference = new SimulatedWork({ model: 'm', maxParallel: 4, loadS: 0, tokensPerS: () => 10 });
  // The tick period is long: the test drives every decision.
  const runtime = new AgentRuntime({ config, log: silentLogger(), clock, bus, heater, inference, store: new JsonFileStore(dir), tickS: 3600 });
  runtimes.push(runtime);
  const send = (topic: string, value: number) => bus.deliver({ topic, payload: Buffer.from(String(value)), retain: false, qos: 1 });
  /** Advance the clock, send the readings, decide. */
  const step = async (dtS: number, roomC: number, outdoorC = 2) => {
    clock.t += dtS;
    send('room', roomC);
    send('out', outdoorC);
    runtime.requestTick();
    await new Promise((r) => setImmediate(r));
  };
  return { dir, runtime, step, store: new JsonFileStore(dir) };
}

describe('AgentRuntime: learning.json', () => {
  it('what optimal start learns while the unit heats hard is written as it learns and at stop', async () => {
    // Monday 09:00, comfort since 07:00, the room 3 K under it and warming 1 K/h.
    const { runtime, step, store } = await rig({ startWallMs: monday(9) });
    await runtime.start();
    await step(0, 18);
    for (let s = 30; s <= 70 * 60; s += 30) await step(30, 18 + s / 3600);
    assert.equal(runtime.decision?.heat, true);
    // Written while it learns (asynchronously: wait for it rather than race the write).
    const written = await waitFor(async () => (await store.read<{ optimalStart: PersistedOptimalStart }>('learning.json'))?.optimalStart, { what: 'learning.json written while heating' });
    assert.ok(written.samples >= 1, JSON.stringify(written));
    await runtime.stop();
    const atStop = (await store.read<{ optimalStart: PersistedOptimalStart }>('learning.json'))!.optimalStart;
    assert.equal(atStop.version, 1);
    assert.equal(atStop.samples, 2, '70 min of heating at high demand: two 30-min samples');
    assert.ok(atStop.fit.a > 0 && Number.isFinite(atStop.fit.b));
  });

  it('read back at start: a learned fast room starts later than the prior would', async () => {
    // A room that warms ~3.1 K/h at 340 W: from 17.5 to 21 °C in about 1 h 15 min (lead, margin included).
    let learned = initialOptimalStartState;
    for (let i = 0; i < 40; i += 1) {
      const heatKw = i % 3 === 0 ? 0.2 : 0.34;
      const gapK = 10 + (i % 7) * 2;
      learned = learnWarmup(learned, { heatKw, gapK, rateKPerH: 12 * heatKw - 0.05 * gapK });
    }
    // [file, time (Monday UTC), early start expected, why]
    const table: Array<[boolean, number, boolean, string]> = [
      [false, monday(5, 40), true, 'the prior: the 2 h cap, from 05:00'],
      [true, monday(5, 40), false, 'learned: 75 min, from 05:45'],
      [true, monday(5, 50), true, 'learned: 75 min, from 05:45'],
    ];
    for (const [withFile, at, early, why] of table) {
      const { runtime, step, store } = await rig({ startWallMs: at });
      if (withFile) await store.write('learning.json', { optimalStart: serializeOptimalStart(learned) });
      await runtime.start();
      await step(1, 17.5);
      assert.equal(runtime.decision?.reasons.includes('optimal_start'), early, `${why}: ${runtime.decision?.reasons.join(',')}`);
      await runtime.stop();
    }
  });
});
