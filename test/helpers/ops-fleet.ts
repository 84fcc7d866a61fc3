import { randomUUID } from 'node:crypto';
import { connectProbe, type Probe } from './mqtt-probe.js';
import { startTestAgent, uniqueBase, type TestAgent } from '../runtime/agent-harness.js';

export const TEST_BROKER = 'mqtt://127.0.0.1:1883';

export interface OpsFleet {
  base: string;
  agents: TestAgent[];
  probe: Probe;
  /** Stops the agents and clears what they retained. */
  cleanup(): Promise<void>;
}

/**
 * Real agents (ids `nodes`) on one fresh base topic of the shared broker, each with a client id of
 * its own (other test runs on the broker use the same node ids), fleet stagger 0.
 */
export async function startOpsFleet(nodes: string[], config: Record<string, unknown> = {}): Promise<OpsFleet> {
  const base = uniqueBase();
  const probe = await connectProbe(TEST_BROKER);
  await probe.subscribe(`${base}/#`);
  const agents: TestAgent[] = [];
  const cleanup = async () => {
    for (const a of agents) await a.cleanup().catch(() => undefined);
    for (const n of nodes) for (const t of ['status', 'state', 'info']) await probe.publish(`${base}/${n}/${t}`, '', { retain: true, qos: 1 });
    await probe.end();
  };
  try {
    for (const nodeId of nodes) {
      const c = { ...config, mqtt: { ...(config.mqtt as object | undefined), client_id: `ops-${nodeId}-${randomUUID().slice(0, 8)}` } };
      agents.push(await startTestAgent({ url: TEST_BROKER, base, nodeId, config: c, build: { ops: { random: () => 0 } } }));
    }
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { base, agents, probe, cleanup };
}
