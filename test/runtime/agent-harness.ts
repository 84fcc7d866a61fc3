import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConfigSchema, type AgentConfig } from '../../agent/config/schema.js';
import { buildAgent, type BuildAgentOptions } from '../../agent/main.js';
import { silentLogger } from '../../agent/log.js';
import type { AgentRuntime } from '../../agent/runtime/agent-runtime.js';

let seq = 0;

/** A unique topic namespace per test, so tests on the shared broker never see each other. */
export function uniqueBase(): string {
  return `anchiale-test/${process.pid}-${Date.now().toString(36)}-${seq++}`;
}

export interface TestAgentOptions {
  url: string;
  base?: string;
  nodeId?: string;
  stateDir?: string;
  /** Extra config (deep-merged over the test defaults). */
  config?: Record<string, unknown>;
  tickS?: number;
  /** More options of buildAgent (e.g. `ops`). */
  build?: BuildAgentOptions;
}

export interface TestAgent {
  agent: AgentRuntime;
  config: AgentConfig;
  base: string;
  node: string;
  stateDir: string;
  roomTopic: string;
  stop(): Promise<void>;
  cleanup(): Promise<void>;
}

/** A real agent (real MqttBus, sim heater, simulated work, real state dir) on the given broker. */
export async function startTestAgent(o: TestAgentOptions): Promise<TestAgent> {
  const base = o.base ?? uniqueBase();
  const node = o.nodeId ?? 'h1';
  const stateDir = o.stateDir ?? (await mkdtemp(join(tmpdir(), 'anchiale-state-')));
  const device = `${base.replace(/\//g, '_')}-trv`;
  const doc = merge(
    {
      version: 1,
      node: { id: node },
      // A client id of its own: test files run in parallel on the shared broker, and two agents
      // with the same client id would take over each other's session.
      mqtt: { url: o.url, base_topic: base, client_id: `anchiale-${node}-${base.replace(/[^a-z0-9]/gi, '')}`.slice(0, 64), reconnect: { min_s: 0.2, max_s: 2 }, discovery: { enabled: false } },
      inputs: { room_temperature: { preset: 'z2m', device }, setpoint: { preset: 'z2m', device } },
      heater: { backend: 'sim', sim: { load_s: 0.2 } },
      jobs: { enabled: false },
      state: { dir: stateDir, interval_s: 30 },
      log: { level: 'silent' },
    },
    o.config ?? {},
  );
  const config = createConfigSchema({ defaultNodeId: node }).parse(doc);
  const agent = buildAgent(config, silentLogger(), { tickS: o.tickS ?? 0.2, ...o.build });
  await agent.start();
  await agent.whenConnected();
  let stopped = false;
  return {
    agent,
    config,
    base,
    node,
    stateDir,
    roomTopic: `zigbee2mqtt/${device}`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await agent.stop();
    },
    async cleanup() {
      if (!stopped) {
        stopped = true;
        await agent.stop();
      }
      if (!o.stateDir) await rm(stateDir, { recursive: true, force: true });
    },
  };
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' ? merge(cur as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}
