/**
 * The demo session behind `anchiale demo` (loaded only when the command runs, so the daemon never
 * carries the demo's broker and devices in memory).
 *
 * `anchiale demo [--duration S] [--speed X] [--mqtt-url URL]`: the whole thing working on one
 * machine with nothing installed. An in-process broker (aedes) unless --mqtt-url is given, a room
 * in accelerated real time, a Zigbee2MQTT thermostat, a Shelly plug and an outdoor sensor
 * publishing what real ones publish, and the real agent with the simulated heater, shown live.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { createConfigSchema } from '../config/schema.js';
import { silentLogger } from '../log.js';
import { SimGpu } from '../adapters/gpu/sim-gpu.js';
import { resolveHeaterPhysics } from '../adapters/gpu/sim-heater-physics.js';
import { DemoRoom } from '../sim/demo-room.js';
import { DemoOutdoorSensor, DemoSmartPlug, DemoThermostat } from '../sim/demo-devices.js';
import { renderLiveView, renderSummary } from '../sim/live-view.js';
import { DemoStatsAccumulator } from '../sim/demo-stats.js';
import { DemoJobLoop } from '../sim/demo-job-loop.js';
import { JobClient } from '../client/job-client.js';
import { writeTinyLlamaGguf, GGUF_PRESETS } from '../adapters/llm/gguf-writer.js';
import { EXIT_OK } from './exit-codes.js';

import type { DemoDeps, DemoOptions } from './demo-command.js';

export async function runDemo(o: DemoOptions, deps: DemoDeps): Promise<number> {
  const durationS = Number(o.duration);
  const speed = Number(o.speed);
  if (!(durationS > 0) || !(speed > 0)) throw new Error('--duration and --speed must be positive numbers');
  const interactive = process.stdout.isTTY === true && !o.plain;

  let server: Server | null = null;
  let broker: Aedes | null = null;
  let url = o.mqttUrl;
  if (!url) {
    broker = await Aedes.createBroker();
    const b = broker;
    server = createServer((socket) => b.handle(socket));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  // The real worker runs a tiny model the demo writes itself, on one CPU thread.
  const modelsDir = await mkdtemp(join(tmpdir(), 'anchiale-demo-models-'));
  await writeTinyLlamaGguf(join(modelsDir, 'tiny.gguf'), GGUF_PRESETS.tiny);

  const config = createConfigSchema({ defaultNodeId: 'demo' }).parse({
    version: 1,
    node: { id: 'demo', name: 'Demo heater' },
    mqtt: { url, protocol_version: o.mqttUrl ? 5 : 4, discovery: { enabled: false }, reconnect: { min_s: 0.5, max_s: 5 } },
    inputs: {
      room_temperature: { preset: 'z2m', device: 'demo/trv' },
      setpoint: { preset: 'z2m', device: 'demo/trv' },
      wall_power: { preset: 'shelly_gen2', device: 'shellies/demo-plug' },
      outdoor_temperature: { topic: 'demo/outdoor/temperature' },
    },
    heater: { backend: 'sim', limit_min_interval_s: 30 },
    // The built-in broker (aedes, MQTT 3.1.1) has no shared subscriptions: direct jobs only there.
    jobs: { enabled: true, fleet: Boolean(o.mqttUrl) },
    llm: { models_dir: modelsDir, default_model: 'tiny.gguf', threads: 1, context_size: 512, max_parallel: 2 },
    state: { dir: `${process.env.TMPDIR ?? '/tmp'}/anchiale-demo-${process.pid}`, interval_s: 30 },
    log: { level: 'silent' },
  });

  const physics = resolveHeaterPhysics({ load_s: 10 });
  let heater: SimGpu | null = null;
  const room = new DemoRoom({
    speed,
    heatW: () => heater?.wallPowerW() ?? 0,
    outdoorC: [[0, 3], [6, 1], [14, 8], [24, 3]],
    baseHeatingW: [[0, 150]],
    gainsW: [[0, 0], [8, 150], [18, 0]],
    startHour: 6,
    ti0C: 18.5,
  });
  const clock = room.simClock();
  heater = new SimGpu(physics, config.llm.max_parallel, clock);
  const simNow = () => room.simNowMs();
  const devices = [
    new DemoThermostat({ mqtt: { url }, clock: simNow, name: 'demo/trv', roomTempC: () => room.tiC, setpointC: 21 }),
    new DemoSmartPlug({ mqtt: { url }, clock: simNow, prefix: 'shellies/demo-plug', powerW: () => heater!.wallPowerW() }),
    new DemoOutdoorSensor({ mqtt: { url }, clock: simNow, topic: 'demo/outdoor/temperature', temperatureC: () => room.outdoorC }),
  ];
  const agent = deps.buildAgent(config, silentLogger(), { clock, heater, tickS: 1 });
  const stats = new DemoStatsAccumulator();
  const history: number[] = [];
  let lastSimS = 0;
  const started = Date.now();

  // The demo's user: a job every few seconds through the job protocol. The heater's clock is the
  // simulated one, so its state `ts` and ttl_s run in simulated time: the client judges ages by it.
  const jobClient = new JobClient({
    url,
    base: config.mqtt.base_topic,
    protocolVersion: o.mqttUrl ? 5 : 4,
    stateIntervalS: config.state.interval_s,
    now: () => room.simNowMs(),
    // Nothing in the built-in broker takes the fleet topic; a stuck job must not hold the end of the demo.
    fleetAttempts: o.mqttUrl ? 3 : 0,
    resultTimeoutMs: 20_000,
  });
  // The heat comes from the jobs: keep every sequence busy while the room asks for heat (a tiny
  // model's job lasts a fraction of a second, so the loop submits often and long ones). This costs
  // one CPU thread while the heater heats, as a real card would be busy.
  const jobLoop = new DemoJobLoop(jobClient, { intervalMs: 100, maxInFlight: config.llm.max_parallel, maxTokens: 480, ttlS: 3600 });

  room.start();
  for (const d of devices) await d.start();
  await agent.start();
  await jobClient.start();
  jobLoop.start();

  const draw = () => {
    const snap = room.snapshot();
    const s = agent.snapshot;
    const dtS = snap.simElapsedS - lastSimS;
    lastSimS = snap.simElapsedS;
    history.push(snap.tiC);
    if (history.length > 200) history.shift();
    stats.add({ dtS, roomTempC: snap.tiC, setpointC: s?.setpoint_c ?? 21, wallW: snap.heatW, busy: (s?.gpu.util_pct ?? 0) > 0 });
    const jobs = jobLoop.jobs;
    // Tokens/s as the job client measured them (real time; the heater counts in simulated time).
    const state = s && jobs.tokensPerS !== null ? { ...s, llm: { ...s.llm, tokens_per_s: jobs.tokensPerS } } : s;
    const view = renderLiveView(
      {
        nodeId: 'demo',
        broker: url!,
        realElapsedS: (Date.now() - started) / 1000,
        simElapsedS: snap.simElapsedS,
        simNowMs: snap.simNowMs,
        speed,
        online: true,
        state,
        roomHistoryC: history,
        jobs,
        message: jobs.last ? `last job ${jobs.last} · Ctrl-C to stop` : 'Ctrl-C to stop',
      },
      { color: interactive },
    );
    process.stdout.write(interactive ? `\u001b[H\u001b[2J${view}\n` : `${view}\n`);
  };
  const refresh = setInterval(draw, interactive ? 500 : 5000);

  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, durationS * 1000);
    process.once('SIGINT', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  clearInterval(refresh);
  await jobLoop.stop();
  draw();
  await jobClient.stop();
  await agent.stop();
  for (const d of devices) await d.stop();
  room.stop();
  const summary = stats.stats({
    realElapsedS: (Date.now() - started) / 1000,
    simElapsedS: room.snapshot().simElapsedS,
    jobs: (({ done, active, rejected, failed }) => ({ done, active, rejected, failed }))(jobLoop.jobs),
    nodeId: 'demo',
    tokens: agent.energy.tokens,
  });
  process.stdout.write(`${renderSummary(summary, { color: interactive })}\n`);
  await rm(config.state.dir, { recursive: true, force: true });
  await rm(modelsDir, { recursive: true, force: true });
  if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
  if (broker) await new Promise<void>((resolve) => broker!.close(() => resolve()));
  return EXIT_OK;
}
