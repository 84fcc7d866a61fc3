/**
 * Real heaters that serve jobs (test/runtime/agent-harness.ts with jobs enabled and a model the
 * project writes itself), each in its own room: a Zigbee2MQTT thermostat per heater reports a
 * room below or above the setpoint, so a test decides which heaters want heat. For end-to-end
 * tests and benchmarks of the job protocol.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { GGUF_PRESETS, writeTinyLlamaGguf, type GgufPresetName } from '../../agent/adapters/llm/gguf-writer.js';
import { startTestAgent, uniqueBase, type TestAgent } from '../runtime/agent-harness.js';

export interface JobHeaterSpec {
  node: string;
  /** Room temperature reported (°C); the setpoint is 21 °C. Below: heat demand; above: none. */
  roomC: number;
  setpointC?: number;
  maxParallel?: number;
  /** More config, deep-merged. */
  config?: Record<string, unknown>;
}

export interface JobHeaters {
  base: string;
  model: string;
  modelPath: string;
  heaters: TestAgent[];
  /** Publishes a room temperature (and the setpoint) for one heater. */
  setRoom(node: string, roomC: number, setpointC?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface StartJobHeatersOptions {
  url: string;
  heaters: JobHeaterSpec[];
  base?: string;
  /** The generated model (default 'tiny'). */
  preset?: GgufPresetName;
  /** A model file already written (skips writing one). */
  modelPath?: string;
  contextSize?: number;
  tickS?: number;
}

export async function startJobHeaters(o: StartJobHeatersOptions): Promise<JobHeaters> {
  const base = o.base ?? uniqueBase();
  const dir = await mkdtemp(join(tmpdir(), 'anchiale-models-'));
  const preset = o.preset ?? 'tiny';
  const modelPath = o.modelPath ?? join(dir, `${preset}.gguf`);
  if (!o.modelPath) await writeTinyLlamaGguf(modelPath, GGUF_PRESETS[preset]);
  const modelsDir = modelPath.slice(0, modelPath.lastIndexOf('/'));
  const modelFile = modelPath.slice(modelPath.lastIndexOf('/') + 1);
  const model = modelFile.replace(/\.gguf$/i, '');
  const pub = await mqtt.connectAsync(o.url, { protocolVersion: 5, clientId: `job-heaters-${process.pid}-${Math.random().toString(16).slice(2, 8)}` });
  const device = (node: string) => `${base.replace(/\//g, '_')}-${node}-trv`;
  const setRoom = async (node: string, roomC: number, setpointC = 21) => {
    await pub.publishAsync(
      `zigbee2mqtt/${device(node)}`,
      JSON.stringify({ local_temperature: roomC, occupied_heating_setpoint: setpointC, last_seen: new Date().toISOString() }),
      { qos: 1, retain: true },
    );
  };
  const heaters: TestAgent[] = [];
  const stop = async () => {
    await Promise.all(heaters.map((h) => h.cleanup().catch(() => undefined)));
    for (const h of o.heaters) await pub.publishAsync(`zigbee2mqtt/${device(h.node)}`, '', { qos: 1, retain: true }).catch(() => undefined);
    for (const h of heaters) {
      for (const t of ['status', 'state', 'info']) await pub.publishAsync(`${base}/${h.node}/${t}`, '', { qos: 1, retain: true }).catch(() => undefined);
    }
    await pub.endAsync();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const h of o.heaters) await setRoom(h.node, h.roomC, h.setpointC);
    for (const h of o.heaters) {
      const input = { preset: 'z2m', device: device(h.node) };
      heaters.push(
        await startTestAgent({
          url: o.url,
          base,
          nodeId: h.node,
          tickS: o.tickS,
          config: merge(
            {
              inputs: { room_temperature: input, setpoint: input },
              jobs: { enabled: true },
              llm: {
                models_dir: modelsDir,
                default_model: modelFile,
                threads: 1,
                context_size: o.contextSize ?? 512,
                max_parallel: h.maxParallel ?? 1,
              },
            },
            h.config ?? {},
          ),
        }),
      );
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { base, model, modelPath, heaters, setRoom, stop };
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' ? merge(cur as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}
